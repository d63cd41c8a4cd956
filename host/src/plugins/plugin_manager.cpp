// SPDX-License-Identifier: Apache-2.0
#include "plugins/plugin_manager.hpp"

#include "plugins/plugin_probe.hpp"

#include <sys/stat.h>

#include <Poco/Logger.h>

namespace blueprint::host {

namespace fs = std::filesystem;

Json ReloadReport::toJson() const {
  return {{"catalog_generation", catalog_generation},
          {"loaded", loaded},
          {"rejected", rejected},
          {"removed", removed},
          {"affected_agents", affected_agents}};
}

PluginManager::PluginManager(fs::path plugin_dir, fs::path cache_dir)
    : plugin_dir_(std::move(plugin_dir)),
      loader_(std::move(cache_dir)),
      current_(std::make_shared<Catalog>(0,
                                         std::map<std::string, std::shared_ptr<const BlockType>>{},
                                         std::vector<PluginStatus>{})) {}

std::shared_ptr<const Catalog> PluginManager::current() const {
  std::lock_guard<std::mutex> lock(current_mutex_);
  return current_;
}

namespace {
std::string signatureOf(const fs::path& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) return {};
  return std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec) + ":" + std::to_string(st.st_ino);
}
}  // namespace

ReloadReport PluginManager::reload() {
  std::lock_guard<std::mutex> lock(reload_mutex_);
  auto& log = Poco::Logger::get("blueprint.plugins");
  ReloadReport report;
  std::map<std::string, fs::path> present;
  std::error_code ec;
  for (fs::directory_iterator it(plugin_dir_, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file(ec) || it->path().extension() != ".so") continue;
    present.emplace(it->path().filename().string(), it->path());
  }
  if (ec)
    report.rejected.push_back(plugin_dir_.string() +
                              ": cannot read the plugin directory: " + ec.message());

  for (auto it = files_.begin(); it != files_.end();) {
    if (present.count(it->first) == 0) {
      report.removed.push_back(it->first);
      log.information("plugin %s removed; its block types are no longer offered to new runs",
                      it->first);
      it = files_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& [name, path] : present) {
    const std::string signature = signatureOf(path);
    FileState& state = files_[name];
    if (!signature.empty() && signature == state.signature) continue;
    if (const int zombies = zombieGenerations(name); zombies >= kMaxZombieGenerations) {
      state.signature = signature;
      state.status.last_error = name + ": " + std::to_string(zombies) +
                                " earlier generations of this plugin could not be unloaded "
                                "(the library pins itself in memory); further reloads are refused "
                                "until the host restarts. Build it with blueprint_add_block().";
      report.rejected.push_back(state.status.last_error);
      log.error("%s", state.status.last_error);
      continue;
    }
    state.signature = signature;
    state.status.file_name = name;
    PluginLoadResult loaded;
    if (!probe_command_.empty()) {
      std::string why = probePluginInChild(probe_command_, path, std::chrono::seconds(30));
      if (!why.empty()) loaded.error = why.rfind(name + ": ", 0) == 0 ? why : name + ": " + why;
    }
    if (loaded.error.empty()) loaded = loader_.load(path, next_generation_++);
    if (!loaded.ok()) {
      state.status.last_error = loaded.error;
      report.rejected.push_back(loaded.error);
      log.error("plugin rejected: %s%s", loaded.error,
                std::string(state.types.empty() ? "" : "; the previous build keeps serving"));
      continue;
    }
    state.types = std::move(loaded.types);
    state.status.id = loaded.plugin->id();
    state.status.version = loaded.plugin->version();
    state.status.generation = loaded.plugin->generation();
    state.status.last_error.clear();
    state.status.types.clear();
    for (const auto& t : state.types) state.status.types.push_back(t->type);
    report.loaded.push_back(name + " (" + state.status.id + " " + state.status.version +
                            ") generation " + std::to_string(state.status.generation));
    log.information("plugin loaded: %s", report.loaded.back());
  }
  std::map<std::string, std::shared_ptr<const BlockType>> types;
  std::vector<PluginStatus> statuses;
  for (const auto& [name, state] : files_) {
    statuses.push_back(state.status);
    for (const auto& t : state.types) {
      auto [pos, inserted] = types.emplace(t->type, t);
      if (!inserted) {
        std::string msg = name + ": block type '" + t->type + "' is already provided by " +
                          pos->second->plugin->fileName() + "; this one is ignored";
        report.rejected.push_back(msg);
        log.error("%s", msg);
      }
    }
  }
  report.catalog_generation = ++catalog_generation_;
  auto catalog = std::make_shared<const Catalog>(report.catalog_generation, std::move(types),
                                                 std::move(statuses));
  {
    std::lock_guard<std::mutex> publish(current_mutex_);
    current_ = std::move(catalog);
  }
  if (on_publish_) on_publish_(report);
  return report;
}

void PluginManager::setOnPublish(std::function<void(ReloadReport&)> callback) {
  std::lock_guard<std::mutex> lock(reload_mutex_);
  on_publish_ = std::move(callback);
}

}  // namespace blueprint::host
