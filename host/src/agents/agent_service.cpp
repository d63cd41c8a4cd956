// SPDX-License-Identifier: Apache-2.0
#include "agents/agent_service.hpp"

#include <algorithm>
#include <fstream>
#include <limits>

#include <Poco/Logger.h>

#include "agents/agent_id.hpp"
#include "blueprint/blueprint_validator.hpp"
#include "logging/log_fields.hpp"
#include "wf/wf_import.hpp"

namespace blueprint::host {

namespace fs = std::filesystem;

AgentService::AgentService(Storage& storage, PluginManager& plugins)
    : storage_(storage), plugins_(plugins) {}

void AgentService::checkId(const std::string& agent_id) {
  if (!isValidAgentId(agent_id))
    throw ApiError(400, "invalid_request",
                   "agent id '" + agent_id + "' is not valid: use " + kAgentIdRule);
}

namespace {
ApiError invalidDefinition(const DefinitionError& e) {
  Json details = Json::array();
  for (const auto& issue : e.issues()) details.push_back(issue.toJson());
  return ApiError(400, "invalid_blueprint", e.what(), std::move(details));
}

Json blueprintSummary(const Json& definition, const Catalog& catalog) {
  Json list = Json::array();
  for (const Json& bp : definition.value("blueprints", Json::array())) {
    bool api = false;
    for (const Json& b : bp.value("blocks", Json::array())) {
      const BlockType* t = catalog.find(b.value("type", ""));
      if (t != nullptr && t->role == "trigger") api = true;
    }
    list.push_back({{"id", bp.value("id", "")},
                    {"name", bp.value("name", bp.value("id", ""))},
                    {"api_trigger", api}});
  }
  return list;
}
}  // namespace

Json AgentService::putDraft(const std::string& agent_id, const Json& body) {
  checkId(agent_id);
  AgentDef parsed;
  try {
    parsed = parseAndValidateAgent(body, agent_id, *plugins_.current());
  } catch (const DefinitionError& e) {
    throw invalidDefinition(e);
  }
  // Blueprint ids share the agent id's grammar: they are path segments of the trigger URL too.
  for (const BlueprintDef& bp : parsed.blueprints)
    if (!isValidAgentId(bp.id))
      throw ApiError(400, "invalid_request",
                     "blueprint id '" + bp.id + "' of agent '" + agent_id + "' is not valid: use " +
                         kAgentIdRule);
  // The parser lets a null name stand for none; the draft keeps only a string (issue 11, L3).
  const auto name = body.find("name");
  if (name != body.end() && !name->is_string())
    throw ApiError(400, "invalid_request",
                   std::string("\"name\" must be a string, got ") + name->type_name());
  Json draft = {{"name", name != body.end() ? *name : Json(agent_id)},
                {"blueprints", body["blueprints"]}};
  storage_.saveDraft(agent_id, draft);
  return describe(agent_id);
}

Json AgentService::describe(const std::string& agent_id) {
  std::optional<AgentRecord> rec = storage_.getAgent(agent_id);
  if (!rec) throw ApiError(404, "agent_not_found", "agent '" + agent_id + "' does not exist");
  Json out = {
      {"id", rec->agent_id},
      {"name", rec->draft.value("name", rec->agent_id)},
      {"deployed_version", rec->deployed_version ? Json(*rec->deployed_version) : Json(nullptr)},
      {"latest_version", rec->latest_version},
      {"updated_at", rec->updated_at_ms},
      {"draft", rec->draft},
      {"blueprints", blueprintSummary(rec->draft, *plugins_.current())}};
  out["serving"] = rec->deployed_version ? serving(agent_id, *rec->deployed_version) : Json();
  return out;
}

Json AgentService::serving(const std::string& agent_id, std::int64_t deployed_version) {
  const std::uint64_t current = plugins_.current()->generation();
  Json out = {{"version", deployed_version},
              {"generation", nullptr},
              {"current_generation", current},
              {"error", nullptr}};
  try {
    out["generation"] = version(agent_id, deployed_version)->catalog->generation();
  } catch (const ApiError& e) {
    out["error"] = e.what();  // no build of it runs: new runs answer 409 agent_not_runnable
    return out;
  }
  std::shared_lock<std::shared_mutex> lock(cache_mutex_);
  const auto problem = cannot_compile_.find({agent_id, deployed_version});
  if (problem != cannot_compile_.end()) out["error"] = problem->second.error;
  return out;
}

void AgentService::noteCannotCompile(const std::pair<std::string, std::int64_t>& key,
                                     std::uint64_t generation, const std::string& error,
                                     std::uint64_t serving_generation) {
  bool changed = false;
  {
    std::unique_lock<std::shared_mutex> lock(cache_mutex_);
    CannotCompile& note = cannot_compile_[key];
    changed = note.error != error;
    note.generation = generation;
    note.error = error;
  }
  // Once per change of the reason, not once per request (issue 15: 1,203 lines in 12 s).
  if (changed)
    logEvent(Poco::Logger::get("blueprint.agents"), Poco::Message::PRIO_WARNING,
             "agent " + key.first + " version " + std::to_string(key.second) +
                 " does not compile against plugin generation " + std::to_string(generation) +
                 " (" + error + "); generation " + std::to_string(serving_generation) +
                 " keeps serving it",
             {{"agent", key.first},
              {"agent_version", std::to_string(key.second)},
              {"generation", std::to_string(serving_generation)},
              {"error", error}});
}

void AgentService::noteCompiles(const std::pair<std::string, std::int64_t>& key,
                                std::uint64_t generation) {
  {
    std::shared_lock<std::shared_mutex> lock(cache_mutex_);
    if (cannot_compile_.count(key) == 0) return;
  }
  {
    std::unique_lock<std::shared_mutex> lock(cache_mutex_);
    if (cannot_compile_.erase(key) == 0) return;
  }
  logEvent(Poco::Logger::get("blueprint.agents"), Poco::Message::PRIO_INFORMATION,
           "agent " + key.first + " version " + std::to_string(key.second) +
               " compiles again, against plugin generation " + std::to_string(generation),
           {{"agent", key.first},
            {"agent_version", std::to_string(key.second)},
            {"generation", std::to_string(generation)}});
}

void AgentService::remove(const std::string& agent_id) {
  std::lock_guard<std::mutex> sync(sync_mutex_);
  if (!storage_.deleteAgent(agent_id))
    throw ApiError(404, "agent_not_found", "agent '" + agent_id + "' does not exist");
  std::unique_lock<std::shared_mutex> lock(cache_mutex_);
  deployed_.erase(agent_id);
  for (auto it = cache_.begin(); it != cache_.end();)
    it = it->first.first == agent_id ? cache_.erase(it) : std::next(it);
  for (auto it = cannot_compile_.begin(); it != cannot_compile_.end();)
    it = it->first.first == agent_id ? cannot_compile_.erase(it) : std::next(it);
}

std::shared_ptr<const CompiledAgent> AgentService::compiled(const std::string& agent_id,
                                                            std::int64_t version,
                                                            const Json& definition) {
  auto catalog = plugins_.current();
  try {
    return CompiledAgent::compile(agent_id, version, definition, catalog);
  } catch (const DefinitionError& e) {
    throw invalidDefinition(e);
  }
}

Json AgentService::deploy(const std::string& agent_id, std::optional<std::int64_t> version) {
  std::unique_lock<std::mutex> sync(sync_mutex_);
  std::optional<AgentRecord> rec = storage_.getAgent(agent_id);
  if (!rec) throw ApiError(404, "agent_not_found", "agent '" + agent_id + "' does not exist");
  std::shared_ptr<const CompiledAgent> agent;
  if (version) {
    std::optional<AgentVersion> v = storage_.getVersion(agent_id, *version);
    if (!v)
      throw ApiError(404, "version_not_found",
                     "agent '" + agent_id + "' has no version " + std::to_string(*version));
    agent = compiled(agent_id, *version, v->definition);  // the catalogue may have changed
    storage_.deployExistingVersion(agent_id, *version);
  } else {
    agent = compiled(agent_id, rec->latest_version + 1, rec->draft);
    AgentVersion v = storage_.deployNewVersion(agent_id, rec->draft);
    if (v.version != agent->version) agent = compiled(agent_id, v.version, rec->draft);
    version = v.version;
  }
  {
    std::unique_lock<std::shared_mutex> lock(cache_mutex_);
    cache_[{agent_id, *version}] = agent;
    deployed_[agent_id] = *version;
  }
  sync.unlock();
  logEvent(Poco::Logger::get("blueprint.agents"), Poco::Message::PRIO_INFORMATION,
           "agent " + agent_id + " deployed as version " + std::to_string(*version),
           {{"agent", agent_id}, {"agent_version", std::to_string(*version)}});
  return describe(agent_id);
}

Json AgentService::undeploy(const std::string& agent_id) {
  {
    std::lock_guard<std::mutex> sync(sync_mutex_);
    if (!storage_.undeploy(agent_id))
      throw ApiError(404, "agent_not_found", "agent '" + agent_id + "' does not exist");
    std::unique_lock<std::shared_mutex> lock(cache_mutex_);
    deployed_[agent_id] = std::nullopt;
  }
  return describe(agent_id);
}

Json AgentService::describeVersion(const std::string& agent_id, std::int64_t version) {
  std::optional<AgentRecord> rec = storage_.getAgent(agent_id);
  if (!rec) throw ApiError(404, "agent_not_found", "agent '" + agent_id + "' does not exist");
  std::optional<AgentVersion> v = storage_.getVersion(agent_id, version);
  if (!v)
    throw ApiError(404, "version_not_found",
                   "agent '" + agent_id + "' has no version " + std::to_string(version));
  return {{"id", agent_id},
          {"version", v->version},
          {"deployed", rec->deployed_version == v->version},
          {"created_at", v->created_at_ms},
          {"definition", v->definition},
          {"blueprints", blueprintSummary(v->definition, *plugins_.current())}};
}

Json AgentService::listDeployed() {
  Json list = Json::array();
  auto catalog = plugins_.current();
  for (const AgentRecord& rec : storage_.listAgents()) {
    if (!rec.deployed_version) continue;
    std::optional<AgentVersion> v = storage_.getVersion(rec.agent_id, *rec.deployed_version);
    if (!v) continue;
    Json blueprints = Json::array();
    for (const Json& bp : blueprintSummary(v->definition, *catalog))
      if (bp["api_trigger"].get<bool>())
        blueprints.push_back({{"id", bp["id"]}, {"name", bp["name"]}});
    list.push_back({{"id", rec.agent_id},
                    {"name", v->definition.value("name", rec.agent_id)},
                    {"version", *rec.deployed_version},
                    {"blueprints", std::move(blueprints)}});
  }
  return list;
}

void AgentService::catchUpWithOtherHostsIfDue() {
  const std::int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                  std::chrono::steady_clock::now().time_since_epoch())
                                  .count();
  std::int64_t due_ns = next_check_ns_.load(std::memory_order_relaxed);
  if (now_ns < due_ns) return;
  // The thread that moves the deadline checks; concurrent lookups go on with the cached view.
  const std::int64_t next_ns =
      now_ns +
      std::chrono::duration_cast<std::chrono::nanoseconds>(kOtherHostsCheckInterval).count();
  if (!next_check_ns_.compare_exchange_strong(due_ns, next_ns)) return;
  // A local change holds the lock and updates the cache itself; the next check comes soon.
  std::unique_lock<std::mutex> sync(sync_mutex_, std::try_to_lock);
  if (!sync.owns_lock()) return;
  try {
    const std::optional<std::int64_t> revision = storage_.agentsRevision();
    if (!revision) {
      // Only this process changes agents here: there is never anything to catch up with.
      next_check_ns_.store(std::numeric_limits<std::int64_t>::max());
      return;
    }
    if (revision != seen_revision_) catchUpLocked(*revision);
  } catch (const std::exception& e) {
    Poco::Logger::get("blueprint.agents")
        .warning(
            "cannot check for agent changes made by other hosts (%s); serving the agents "
            "as this host last saw them",
            std::string(e.what()));
  }
}

void AgentService::catchUpLocked(std::int64_t revision) {
  std::map<std::string, std::optional<std::int64_t>> deployed;
  std::map<std::string, std::int64_t> updated_at;
  for (const AgentRecord& rec : storage_.listAgents()) {
    deployed[rec.agent_id] = rec.deployed_version;
    updated_at[rec.agent_id] = rec.updated_at_ms;
  }
  std::unique_lock<std::shared_mutex> lock(cache_mutex_);
  // Versions are immutable, except that deleting an agent and creating it again reuses its
  // numbers: a compiled entry of an agent that changed, or was not seen before, may be stale.
  for (auto it = cache_.begin(); it != cache_.end();) {
    const auto now_at = updated_at.find(it->first.first);
    const auto seen_at = seen_updated_at_.find(it->first.first);
    const bool unchanged = now_at != updated_at.end() && seen_at != seen_updated_at_.end() &&
                           now_at->second == seen_at->second;
    it = unchanged ? std::next(it) : cache_.erase(it);
  }
  deployed_ = std::move(deployed);
  seen_updated_at_ = std::move(updated_at);
  seen_revision_ = revision;
}

std::shared_ptr<const CompiledAgent> AgentService::deployed(const std::string& agent_id) {
  catchUpWithOtherHostsIfDue();
  std::optional<std::int64_t> version;
  bool known = false;
  {
    std::shared_lock<std::shared_mutex> lock(cache_mutex_);
    auto it = deployed_.find(agent_id);
    if (it != deployed_.end()) {
      known = true;
      version = it->second;
    }
  }
  if (!known) {
    std::optional<AgentRecord> rec = storage_.getAgent(agent_id);
    if (!rec) throw ApiError(404, "agent_not_found", "agent '" + agent_id + "' does not exist");
    version = rec->deployed_version;
    std::unique_lock<std::shared_mutex> lock(cache_mutex_);
    deployed_[agent_id] = version;
  }
  if (!version)
    throw ApiError(409, "agent_not_deployed",
                   "agent '" + agent_id +
                       "' is saved but not deployed; deploy it (POST /v1/agents/" + agent_id +
                       "/deploy) before triggering its blueprints");
  return this->version(agent_id, *version);
}

std::shared_ptr<const CompiledAgent> AgentService::version(const std::string& agent_id,
                                                           std::int64_t version) {
  catchUpWithOtherHostsIfDue();
  const auto generation = plugins_.current()->generation();
  std::shared_ptr<const CompiledAgent> cached;
  {
    std::shared_lock<std::shared_mutex> lock(cache_mutex_);
    auto it = cache_.find({agent_id, version});
    if (it != cache_.end()) cached = it->second;
  }
  if (cached && cached->catalog->generation() == generation) return cached;
  if (cached) {
    // Already found not to compile against this generation: the pinned build serves it, with
    // no compile (and no log line) per request.
    std::shared_lock<std::shared_mutex> lock(cache_mutex_);
    const auto problem = cannot_compile_.find({agent_id, version});
    if (problem != cannot_compile_.end() && problem->second.generation == generation) return cached;
  }
  std::optional<AgentVersion> v = storage_.getVersion(agent_id, version);
  if (!v)
    throw ApiError(
        404, "agent_not_found",
        "agent '" + agent_id + "' version " + std::to_string(version) + " does not exist");
  std::shared_ptr<const CompiledAgent> fresh;
  try {
    fresh = CompiledAgent::compile(agent_id, version, v->definition, plugins_.current());
  } catch (const DefinitionError& e) {
    // The new catalogue cannot run this version (a type was removed): keep the pinned old build.
    if (cached) {
      noteCannotCompile({agent_id, version}, generation, e.what(), cached->catalog->generation());
      return cached;
    }
    throw ApiError(409, "agent_not_runnable",
                   "agent '" + agent_id + "' version " + std::to_string(version) +
                       " cannot run with the loaded plugins: " + e.what());
  }
  {
    std::unique_lock<std::shared_mutex> lock(cache_mutex_);
    cache_[{agent_id, version}] = fresh;
  }
  noteCompiles({agent_id, version}, generation);
  return fresh;
}

std::vector<std::string> AgentService::recompileAll() {
  std::vector<std::pair<std::pair<std::string, std::int64_t>, std::shared_ptr<const CompiledAgent>>>
      entries;
  {
    std::shared_lock<std::shared_mutex> lock(cache_mutex_);
    entries.assign(cache_.begin(), cache_.end());
  }
  auto catalog = plugins_.current();
  std::vector<std::string> affected;
  for (auto& [key, agent] : entries) {
    if (agent->catalog->generation() == catalog->generation()) continue;
    try {
      auto fresh = CompiledAgent::compile(key.first, key.second, agent->definition, catalog);
      {
        std::unique_lock<std::shared_mutex> lock(cache_mutex_);
        cache_[key] = std::move(fresh);
      }
      noteCompiles(key, catalog->generation());
    } catch (const DefinitionError& e) {
      affected.push_back(key.first + " version " + std::to_string(key.second) + ": " + e.what());
      noteCannotCompile(key, catalog->generation(), e.what(), agent->catalog->generation());
    }
  }
  return affected;
}

std::shared_ptr<const CompiledAgent> AgentService::draft(const std::string& agent_id) {
  std::optional<AgentRecord> rec = storage_.getAgent(agent_id);
  if (!rec) throw ApiError(404, "agent_not_found", "agent '" + agent_id + "' does not exist");
  return compiled(agent_id, 0, rec->draft);
}

std::vector<std::string> AgentService::loadDirectory(const fs::path& dir) {
  std::vector<std::string> report;
  std::error_code ec;
  std::vector<fs::path> files;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().extension() == ".json" || wf::isWfDirectory(it->path()))
      files.push_back(it->path());
  if (ec) {
    report.push_back(dir.string() + ": cannot read the agents directory: " + ec.message());
    return report;
  }
  std::sort(files.begin(), files.end());
  for (const fs::path& file : files) {
    Json def;
    std::string fallback_id = file.stem().string();
    std::error_code dir_ec;
    if (fs::is_directory(file, dir_ec)) {
      // A Writer Framework app (<name>/.wf/components-*.jsonl): converted, then deployed as a
      // file would be; a refusal (unsupported blocks, malformed files) skips it like a bad file.
      try {
        wf::ImportResult imported = wf::importDirectory(file);
        for (const auto& note : imported.notes) report.push_back(file.string() + ": note: " + note);
        def = std::move(imported.agent);
        fallback_id = imported.agent_id;
      } catch (const std::exception& e) {
        report.push_back(std::string(e.what()) + "\n  (skipped)");
        continue;
      }
    } else {
      std::ifstream in(file);
      def = Json::parse(in, nullptr, false);
    }
    if (def.is_discarded() || !def.is_object()) {
      report.push_back(file.string() + ": not a JSON object; skipped");
      continue;
    }
    const std::string id = def.value("id", fallback_id);
    try {
      Json body = {{"name", def.value("name", id)},
                   {"blueprints", def.value("blueprints", Json())}};
      std::optional<AgentRecord> rec = storage_.getAgent(id);
      if (rec && rec->deployed_version) {
        std::optional<AgentVersion> v = storage_.getVersion(id, *rec->deployed_version);
        if (v && v->definition == body && rec->draft == body) {
          report.push_back(id + ": version " + std::to_string(*rec->deployed_version) +
                           " (unchanged)");
          continue;
        }
      }
      putDraft(id, body);
      Json d = deploy(id, std::nullopt);
      report.push_back(id + ": deployed version " + d["deployed_version"].dump());
    } catch (const ApiError& e) {
      report.push_back(file.string() + ": " + e.what());
    } catch (const std::exception& e) {
      report.push_back(file.string() + ": " + e.what());
    }
  }
  return report;
}

}  // namespace blueprint::host
