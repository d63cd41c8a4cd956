// SPDX-License-Identifier: Apache-2.0
// loaded_plugins.hpp: real plugin .so files loaded once per test binary through a PluginManager,
// as the host loads them (private copies, ELF/ABI/manifest checks), for tests that drive the
// engine directly. Register one at namespace scope:
//   LoadedPlugins* const kPlugins = LoadedPlugins::add({"/path/core_blocks.so"});
// and use kPlugins->catalog() in the tests.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <vector>

#include "plugins/catalog.hpp"

namespace blueprint::testing {

class LoadedPlugins final : public ::testing::Environment {
 public:
  /// Registers a global test environment loading `plugins`; gtest owns it.
  static LoadedPlugins* add(std::vector<std::filesystem::path> plugins);

  explicit LoadedPlugins(std::vector<std::filesystem::path> plugins);
  /// Copies the files into a temp plugin directory and loads them; fails if any is rejected.
  void SetUp() override;
  /// Drops the catalogue and removes the temp directory.
  void TearDown() override;

  std::shared_ptr<const host::Catalog> catalog() const { return catalog_; }

 private:
  std::vector<std::filesystem::path> plugins_;
  std::filesystem::path root_;
  std::shared_ptr<const host::Catalog> catalog_;
};

}  // namespace blueprint::testing
