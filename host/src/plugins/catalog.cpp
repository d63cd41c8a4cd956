// SPDX-License-Identifier: Apache-2.0
#include "plugins/catalog.hpp"

#include <dlfcn.h>

#include <Poco/Logger.h>

#include <algorithm>
#include <mutex>
#include <system_error>

namespace blueprint::host {

LoadedPlugin::LoadedPlugin(std::string file_name, std::uint64_t generation,
                           std::filesystem::path cache_path, boost::dll::shared_library library,
                           const bp_plugin* plugin)
    : file_name_(std::move(file_name)),
      generation_(generation),
      cache_path_(std::move(cache_path)),
      library_(std::move(library)),
      plugin_(plugin) {}

namespace {
std::mutex zombie_mutex;
std::map<std::string, int> zombie_counts;
}  // namespace

int zombieGenerations(const std::string& file_name) {
  std::lock_guard<std::mutex> lock(zombie_mutex);
  auto it = zombie_counts.find(file_name);
  return it == zombie_counts.end() ? 0 : it->second;
}

int zombieGenerationsTotal() {
  std::lock_guard<std::mutex> lock(zombie_mutex);
  int total = 0;
  for (const auto& [name, n] : zombie_counts) total += n;
  return total;
}

LoadedPlugin::~LoadedPlugin() {
  if (plugin_ != nullptr && plugin_->deinit != nullptr) plugin_->deinit();
  library_.unload();
  // dlclose may silently keep the library mapped; ask the loader whether it really went.
  if (void* still = ::dlopen(cache_path_.c_str(), RTLD_NOW | RTLD_NOLOAD)) {
    ::dlclose(still);  // balance our probe; the zombie stays as it was
    std::lock_guard<std::mutex> lock(zombie_mutex);
    ++zombie_counts[file_name_];
    Poco::Logger::get("blueprint.plugins")
        .warning("plugin %s generation %s is still mapped after unload (zombie)", file_name_,
                 std::to_string(generation_));
  }
  std::error_code ec;
  std::filesystem::remove(cache_path_, ec);  // the private copy is ours alone (DESIGN §5)
}

std::string LoadedPlugin::id() const { return plugin_->id != nullptr ? plugin_->id : ""; }
std::string LoadedPlugin::version() const {
  return plugin_->version != nullptr ? plugin_->version : "";
}

const FieldSpec* BlockType::field(const std::string& field_name) const {
  for (const auto& f : fields)
    if (f.name == field_name) return &f;
  return nullptr;
}

bool BlockType::hasEndState(const std::string& state) const {
  return std::find(end_states.begin(), end_states.end(), state) != end_states.end();
}

const std::string* BlockType::declaredEndState(const std::string& state) const {
  for (const std::string& s : end_states)
    if (s == state) return &s;
  return nullptr;
}

bool BlockType::isBranchState(const std::string& state) const {
  return std::find(branch_states.begin(), branch_states.end(), state) != branch_states.end();
}

Catalog::Catalog(std::uint64_t generation,
                 std::map<std::string, std::shared_ptr<const BlockType>> types,
                 std::vector<PluginStatus> plugins)
    : generation_(generation), types_(std::move(types)), plugins_(std::move(plugins)) {}

const BlockType* Catalog::find(const std::string& type) const {
  auto it = types_.find(type);
  return it == types_.end() ? nullptr : it->second.get();
}

std::shared_ptr<const BlockType> Catalog::findShared(const std::string& type) const {
  auto it = types_.find(type);
  return it == types_.end() ? nullptr : it->second;
}

Json Catalog::toJson() const {
  Json blocks = Json::array();
  for (const auto& [name, type] : types_) {
    Json entry = type->manifest;
    entry["plugin"] = {{"id", type->plugin->id()},
                       {"version", type->plugin->version()},
                       {"file", type->plugin->fileName()},
                       {"generation", type->plugin->generation()}};
    blocks.push_back(std::move(entry));
  }
  Json plugins = Json::array();
  for (const auto& p : plugins_) {
    Json entry = {{"file", p.file_name},
                  {"id", p.id},
                  {"version", p.version},
                  {"generation", p.generation},
                  {"types", p.types}};
    entry["last_error"] = p.last_error.empty() ? Json(nullptr) : Json(p.last_error);
    plugins.push_back(std::move(entry));
  }
  return {
      {"generation", generation_}, {"blocks", std::move(blocks)}, {"plugins", std::move(plugins)}};
}

}  // namespace blueprint::host
