// SPDX-License-Identifier: Apache-2.0
// plugin_manager.hpp: owns the plugin directory and publishes catalogues. reload() loads new or
// changed files, keeps the previous build of any file whose new build is rejected, drops removed
// files, and publishes a new immutable Catalog. current() is what a new run pins.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "plugins/catalog.hpp"
#include "plugins/plugin_loader.hpp"

namespace blueprint::host {

/// What one reload did, for logs and POST /v1/plugins/reload.
struct ReloadReport {
  std::uint64_t catalog_generation = 0;
  std::vector<std::string> loaded;    ///< "file (id version) generation N"
  std::vector<std::string> rejected;  ///< "file: why"
  std::vector<std::string> removed;   ///< file names
  /// Deployed agents that cannot run with the new catalogue (they keep their old generation).
  std::vector<std::string> affected_agents;
  Json toJson() const;
};

class PluginManager {
 public:
  PluginManager(std::filesystem::path plugin_dir, std::filesystem::path cache_dir);

  /// Scans the directory and publishes a new catalogue. Thread-safe; reloads are serialised.
  ReloadReport reload();
  /// The catalogue new runs should use (never null after construction).
  std::shared_ptr<const Catalog> current() const;
  const std::filesystem::path& directory() const { return plugin_dir_; }
  /// Loads every new build in a child process first (`blueprint probe <file>`), so a plugin that
  /// crashes in its static initialisers cannot take the host down. Empty path: off.
  void setProbeCommand(std::filesystem::path command) { probe_command_ = std::move(command); }
  /// Called after every publish (on the reloading thread), e.g. to recompile deployed agents so
  /// runs move to the new generation and the old one can unload.
  void setOnPublish(std::function<void(ReloadReport&)> callback);

 private:
  struct FileState {
    std::string signature;  ///< size + mtime + inode of the last file seen
    PluginStatus status;
    std::vector<std::shared_ptr<const BlockType>> types;  ///< the build serving now
  };

  std::filesystem::path plugin_dir_;
  PluginLoader loader_;
  std::mutex reload_mutex_;
  std::map<std::string, FileState> files_;
  std::uint64_t next_generation_ = 1;
  std::uint64_t catalog_generation_ = 0;
  mutable std::mutex current_mutex_;
  std::shared_ptr<const Catalog> current_;
  std::function<void(ReloadReport&)> on_publish_;
  std::filesystem::path probe_command_;
};

}  // namespace blueprint::host
