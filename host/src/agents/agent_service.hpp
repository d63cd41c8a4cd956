// SPDX-License-Identifier: Apache-2.0
// agent_service.hpp: drafts, deploys and the compiled-agent cache. Drafts and versions live in
// storage (they survive restarts and are shared by hosts on one database); compiled agents live
// in memory, keyed by (agent, version), and are rebuilt when the plugin catalogue changes.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "engine/compiled_blueprint.hpp"
#include "plugins/plugin_manager.hpp"
#include "storage/storage.hpp"

namespace blueprint::host {

/// An API error: HTTP status, snake_case code, sentence. Thrown by services, mapped by http/.
class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string code, const std::string& message, Json details = nullptr)
      : std::runtime_error(message),
        status_(status),
        code_(std::move(code)),
        details_(std::move(details)) {}
  int status() const { return status_; }
  const std::string& code() const { return code_; }
  const Json& details() const { return details_; }

 private:
  int status_;
  std::string code_;
  Json details_;
};

class AgentService {
 public:
  AgentService(Storage& storage, PluginManager& plugins);

  /// Validates and saves a draft (`{"name","blueprints":[…]}`). Throws ApiError 400.
  Json putDraft(const std::string& agent_id, const Json& body);
  /// The agent as GET /v1/agents/{id} shows it. Throws ApiError 404.
  Json describe(const std::string& agent_id);
  /// Deletes the agent and its versions. Throws ApiError 404.
  void remove(const std::string& agent_id);
  /// Publishes the draft as a new version, or rolls back to `version`. Returns the description.
  Json deploy(const std::string& agent_id, std::optional<std::int64_t> version);
  /// Withdraws the deployed version. Throws ApiError 404.
  Json undeploy(const std::string& agent_id);
  /// Deployed agents and their API-triggered blueprints (GET /v1/agents).
  Json listDeployed();

  /// The deployed version compiled against the current catalogue. Throws ApiError 404 (unknown
  /// agent) or 409 agent_not_deployed.
  std::shared_ptr<const CompiledAgent> deployed(const std::string& agent_id);
  /// A specific version (for jobs, which run the version they were created for).
  std::shared_ptr<const CompiledAgent> version(const std::string& agent_id, std::int64_t version);
  /// The current draft compiled (the editor's Run blueprint button). Throws ApiError.
  std::shared_ptr<const CompiledAgent> draft(const std::string& agent_id);

  /// Recompiles every cached agent against the current catalogue (after a plugin reload), so new
  /// runs use the new generation and the old one can unload. Returns the agents that cannot run
  /// with it (they keep serving on the generation they were compiled with).
  std::vector<std::string> recompileAll();

  /// Saves and deploys every agent file of `dir` (`<id>.json`); an unchanged definition keeps
  /// its deployed version. Returns one line per agent; throws nothing (bad files are reported).
  std::vector<std::string> loadDirectory(const std::filesystem::path& dir);

 private:
  std::shared_ptr<const CompiledAgent> compiled(const std::string& agent_id, std::int64_t version,
                                                const Json& definition);
  static void checkId(const std::string& agent_id);

  Storage& storage_;
  PluginManager& plugins_;
  std::shared_mutex cache_mutex_;
  /// (agent, version) → compiled against some catalogue generation.
  std::map<std::pair<std::string, std::int64_t>, std::shared_ptr<const CompiledAgent>> cache_;
  /// agent → deployed version, so the hot path needs no storage read.
  std::map<std::string, std::optional<std::int64_t>> deployed_;
};

}  // namespace blueprint::host
