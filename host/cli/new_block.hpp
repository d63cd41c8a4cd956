// SPDX-License-Identifier: Apache-2.0
// new_block.hpp: `blueprint new-block <name>` scaffolds an out-of-tree block project that builds
// against the installed SDK: a block, its CMakeLists.txt, a gtest using blueprint/testing.hpp,
// and a sample blueprint.
#pragma once

#include <filesystem>
#include <string>

namespace blueprint::cli {

/// Writes the project for plugin `name` (a C identifier) with one block of type `type` into
/// `dir`. Throws std::runtime_error when the name is not usable or `dir` exists and is not empty.
void scaffoldBlockProject(const std::string& name, const std::string& type,
                          const std::filesystem::path& dir);

}  // namespace blueprint::cli
