// SPDX-License-Identifier: Apache-2.0
// blocks_markdown.hpp: `blueprint blocks --markdown`, the block reference (docs/blocks.md)
// generated from the manifests of a plugin directory. A test regenerates it from the built
// plugins and fails when the committed file differs, so the output must depend on nothing but
// the manifests: types sorted by id, fields and end states in manifest order, no paths, dates or
// generations.
#pragma once

#include <ostream>

#include "plugins/catalog.hpp"

namespace blueprint::cli {

/// Writes the Markdown reference of every block type in `catalog`.
void writeBlocksMarkdown(const blueprint::host::Catalog& catalog, std::ostream& out);

}  // namespace blueprint::cli
