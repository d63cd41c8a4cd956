// SPDX-License-Identifier: Apache-2.0
// agent_service.hpp: drafts, deploys and the compiled-agent cache. Drafts and versions live in
// storage (they survive restarts and are shared by hosts on one database); compiled agents live
// in memory, keyed by (agent, version), and are rebuilt when the plugin catalogue changes.
// Hosts sharing a database learn of each other's changes through Storage::agentsRevision, read
// at most once per kOtherHostsCheckInterval by whichever lookup comes first (see deployed()).
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "api/api_error.hpp"
#include "engine/compiled_blueprint.hpp"
#include "plugins/plugin_manager.hpp"
#include "storage/storage.hpp"

namespace blueprint::host {

class AgentService {
 public:
  /// The longest a host keeps serving a deployed version after another host sharing its
  /// database deployed, undeployed or deleted the agent (plus one lookup's storage read).
  static constexpr std::chrono::milliseconds kOtherHostsCheckInterval{250};

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
  /// One numbered version as GET /v1/agents/{id}/versions/{n} shows it: its full definition as
  /// deployed, when it was made, and whether it is the deployed one. Throws ApiError 404
  /// (agent_not_found, version_not_found).
  Json describeVersion(const std::string& agent_id, std::int64_t version);
  /// Deployed agents and their API-triggered blueprints (GET /v1/agents).
  Json listDeployed();

  /// The deployed version compiled against the current catalogue. Throws ApiError 404 (unknown
  /// agent) or 409 agent_not_deployed. Answers from memory; once per kOtherHostsCheckInterval
  /// one call first checks whether another host changed agents (one small read).
  std::shared_ptr<const CompiledAgent> deployed(const std::string& agent_id);
  /// A specific version (for jobs, which run the version they were created for).
  std::shared_ptr<const CompiledAgent> version(const std::string& agent_id, std::int64_t version);
  /// The current draft compiled (the editor's Run blueprint button). Throws ApiError.
  std::shared_ptr<const CompiledAgent> draft(const std::string& agent_id);

  /// Recompiles every cached agent against the current catalogue (after a plugin reload), so new
  /// runs use the new generation and the old one can unload. Returns the agents that cannot run
  /// with it (they keep serving on the generation they were compiled with).
  std::vector<std::string> recompileAll();

  /// Saves and deploys every agent file of `dir` (`<id>.json`) and every Writer Framework app in
  /// it (`<id>/.wf/`, imported by wf/wf_import.hpp); an unchanged definition keeps
  /// its deployed version. Returns one line per agent; throws nothing (bad files are reported).
  std::vector<std::string> loadDirectory(const std::filesystem::path& dir);

 private:
  std::shared_ptr<const CompiledAgent> compiled(const std::string& agent_id, std::int64_t version,
                                                const Json& definition);
  /// GET /v1/agents/{id}'s `serving`: the deployed version, the plugin generation whose build
  /// serves it, the current generation, and why it does not compile against that (or null).
  Json serving(const std::string& agent_id, std::int64_t deployed_version);
  /// Records that (agent, version) does not compile against `generation` while the build of
  /// `serving_generation` keeps serving it; logs once per change of the reason.
  void noteCannotCompile(const std::pair<std::string, std::int64_t>& key, std::uint64_t generation,
                         const std::string& error, std::uint64_t serving_generation);
  /// Clears that record once (agent, version) compiled against `generation` (logged once).
  void noteCompiles(const std::pair<std::string, std::int64_t>& key, std::uint64_t generation);
  static void checkId(const std::string& agent_id);
  /// When the interval has passed (and no other thread is at it), compares the storage's agents
  /// revision with the last one seen and, if it moved, reloads which versions are deployed and
  /// drops compiled entries of agents that changed. Never throws: on a storage error the cached
  /// view keeps serving.
  void catchUpWithOtherHostsIfDue();
  /// Reloads the agent list (sync_mutex_ held).
  void catchUpLocked(std::int64_t revision);

  Storage& storage_;
  PluginManager& plugins_;
  std::shared_mutex cache_mutex_;
  /// (agent, version) → compiled against some catalogue generation.
  std::map<std::pair<std::string, std::int64_t>, std::shared_ptr<const CompiledAgent>> cache_;
  /// agent → deployed version, so the hot path needs no storage read.
  std::map<std::string, std::optional<std::int64_t>> deployed_;
  /// (agent, version) whose cached build is of an older generation because it does not compile
  /// against a newer one: the last generation tried and the reason (guarded by cache_mutex_).
  struct CannotCompile {
    std::uint64_t generation = 0;
    std::string error;
  };
  std::map<std::pair<std::string, std::int64_t>, CannotCompile> cannot_compile_;

  /// Serialises catching up with other hosts against this host's own changes, so a catch-up
  /// that read the agent list before a local deploy cannot overwrite that deploy with the list.
  std::mutex sync_mutex_;
  /// The steady-clock time (ns) after which the next lookup checks the revision.
  std::atomic<std::int64_t> next_check_ns_{0};
  /// Guarded by sync_mutex_: the revision the cache reflects (nullopt before the first check),
  /// and each agent's updated_at_ms then, to tell which agents changed.
  std::optional<std::int64_t> seen_revision_;
  std::map<std::string, std::int64_t> seen_updated_at_;
};

}  // namespace blueprint::host
