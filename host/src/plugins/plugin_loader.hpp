// SPDX-License-Identifier: Apache-2.0
// plugin_loader.hpp: loads one plugin file safely (DESIGN §5): copy to the private cache, check
// the ELF exports without running plugin code, dlopen RTLD_NOW|RTLD_LOCAL, check the ABI version
// and the manifest, call init. Any failure is an error string; nothing is published.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "plugins/catalog.hpp"

namespace blueprint::host {

/// The outcome of loading one plugin file.
struct PluginLoadResult {
  std::shared_ptr<LoadedPlugin> plugin;
  std::vector<std::shared_ptr<const BlockType>> types;
  /// Empty on success; else a sentence saying what is wrong and what to do.
  std::string error;
  bool ok() const { return error.empty(); }
};

/// Loads plugin files into private copies under a cache directory.
class PluginLoader {
 public:
  explicit PluginLoader(std::filesystem::path cache_dir);

  /// Loads `file` as generation `generation`. Never throws.
  PluginLoadResult load(const std::filesystem::path& file, std::uint64_t generation) const;

  /// Reads the ELF dynamic symbol table of `file` without loading it: empty when the file is an
  /// ELF shared object that defines `bp_plugin_v1` and has no STB_GNU_UNIQUE symbol, else why not.
  static std::string checkElf(const std::filesystem::path& file);

  /// Parses a plugin's manifest against its vtables into block types (no library reference set).
  /// Returns an error sentence, or empty on success.
  static std::string parseManifest(const bp_plugin& plugin,
                                   std::vector<std::shared_ptr<BlockType>>& out);

 private:
  std::filesystem::path cache_dir_;
};

}  // namespace blueprint::host
