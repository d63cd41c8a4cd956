// SPDX-License-Identifier: Apache-2.0
// catalog.hpp: the immutable block catalogue (DESIGN §5). A Catalog is built once per plugin load
// generation and never changes; runs hold a shared_ptr to the one they started with, and every
// BlockType holds its plugin's library, so a generation unloads when its last user lets go.
#pragma once

#include <blueprint/block_abi.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include <boost/dll/shared_library.hpp>

namespace blueprint::host {

using Json = nlohmann::json;

/// One loaded copy of a plugin file. Unloads (deinit, dlclose, cache file removed) when the last
/// BlockType and run referring to it are gone.
class LoadedPlugin {
 public:
  LoadedPlugin(std::string file_name, std::uint64_t generation, std::filesystem::path cache_path,
               boost::dll::shared_library library, const bp_plugin* plugin);
  ~LoadedPlugin();
  LoadedPlugin(const LoadedPlugin&) = delete;
  LoadedPlugin& operator=(const LoadedPlugin&) = delete;

  const std::string& fileName() const { return file_name_; }
  std::uint64_t generation() const { return generation_; }
  const std::filesystem::path& cachePath() const { return cache_path_; }
  const bp_plugin* plugin() const { return plugin_; }
  std::string id() const;
  std::string version() const;

 private:
  std::string file_name_;
  std::uint64_t generation_;
  std::filesystem::path cache_path_;
  boost::dll::shared_library library_;
  const bp_plugin* plugin_;
};

/// Generations of plugin `file_name` that stayed mapped after their last release (dlclose did not
/// unload them: a UNIQUE symbol, a thread left running, a leaked dlopen).
int zombieGenerations(const std::string& file_name);
/// All zombie generations of all plugins (the blueprint_plugin_zombie_generations metric).
int zombieGenerationsTotal();
/// Reloads of a plugin are refused once this many of its generations stayed mapped.
inline constexpr int kMaxZombieGenerations = 8;

/// A field of a block type's manifest, as the host uses it.
struct FieldSpec {
  std::string name;
  /// string · number · boolean · object · list · any · json
  std::string type = "string";
  /// `type`, decided once at load (fields are converted per block per run).
  enum class Kind : std::uint8_t { String, Number, Boolean, Object, List, Any, Json };
  Kind kind = Kind::String;
  bool required = false;
  std::optional<Json> default_value;
  std::vector<std::string> options;
  /// false: passed as written, without rendering @{…}.
  bool templated = true;
  /// The field is JSON text when field `json_when_field` equals `json_when_value`.
  std::string json_when_field;
  std::string json_when_value;
};

/// One block type of the catalogue.
struct BlockType {
  std::string type;
  std::string name;
  Json manifest;  ///< the manifest entry as the plugin wrote it
  std::vector<FieldSpec> fields;
  std::vector<std::string> end_states;
  std::vector<std::string> branch_states;
  std::string role;        ///< "trigger", "return" or empty
  bool is_return = false;  ///< role == "return", decided at load
  bool instant = false;
  /// The manifest declares `async: true` (ABI 1.3): run() never blocks its thread, it returns
  /// soon or defers. With `instant`, such types run on the run workers; the others on the
  /// bounded blocking pool.
  bool async = false;
  /// The plugin shares the host's JSON layout: fields, output and state pass as native JSON
  /// (ABI 1.2, blueprint/native_json.hpp) rather than text.
  bool native_json = false;
  const bp_block_vtable* vtable = nullptr;
  std::shared_ptr<LoadedPlugin> plugin;  ///< pins the library while the type is in use

  const FieldSpec* field(const std::string& name) const;
  bool hasEndState(const std::string& state) const;
  /// The declared end state equal to `state` (a stable pointer into end_states), or null.
  const std::string* declaredEndState(const std::string& state) const;
  bool isBranchState(const std::string& state) const;
};

/// What the last load attempt of one plugin file did.
struct PluginStatus {
  std::string file_name;
  std::string id;
  std::string version;
  std::uint64_t generation = 0;  ///< the generation serving (0 = none)
  std::vector<std::string> types;
  std::string last_error;  ///< why the newest build was rejected (empty when it loaded)
};

/// An immutable snapshot of every loaded block type.
class Catalog {
 public:
  Catalog(std::uint64_t generation, std::map<std::string, std::shared_ptr<const BlockType>> types,
          std::vector<PluginStatus> plugins);

  /// Bumped on every publish; compiled blueprints are cached per catalogue generation.
  std::uint64_t generation() const { return generation_; }
  /// The type, or nullptr when no loaded plugin provides it.
  const BlockType* find(const std::string& type) const;
  std::shared_ptr<const BlockType> findShared(const std::string& type) const;
  const std::map<std::string, std::shared_ptr<const BlockType>>& types() const { return types_; }
  const std::vector<PluginStatus>& plugins() const { return plugins_; }
  /// The catalogue as GET /v1/blocks shows it.
  Json toJson() const;

 private:
  std::uint64_t generation_;
  std::map<std::string, std::shared_ptr<const BlockType>> types_;
  std::vector<PluginStatus> plugins_;
};

}  // namespace blueprint::host
