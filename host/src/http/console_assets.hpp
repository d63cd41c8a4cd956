// SPDX-License-Identifier: Apache-2.0
// console_assets.hpp: the web console's files (host/console/), embedded in the binary at build
// time by host/console/embed_console.cmake, so an installed host needs nothing else to serve it.
#pragma once

#include <cstddef>
#include <string_view>
#include <utility>

namespace blueprint::host {

/// One embedded file, exactly as in the source tree.
struct EmbeddedAsset {
  /// Relative to host/console/, with '/' separators (e.g. "app.js"; subdirectories too).
  std::string_view path;
  std::string_view bytes;
  /// A quoted strong ETag from the content's SHA-256, fixed at build time.
  std::string_view etag;
};

/// Every embedded console file, sorted by path.
std::pair<const EmbeddedAsset*, std::size_t> consoleAssets();

}  // namespace blueprint::host
