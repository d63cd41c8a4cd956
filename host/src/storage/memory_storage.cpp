// SPDX-License-Identifier: Apache-2.0
// memory_storage.cpp: the `memory:` backend. Each method holds mutex_ for its whole body, which
// gives the same all-or-nothing behaviour the SQLite backend gets from transactions.
#include "storage/memory_storage.hpp"

#include <algorithm>
#include <limits>

namespace blueprint::host {

namespace {

bool isFinished(const std::string& status) {
  return status == job_status::kCompleted || status == job_status::kError ||
         status == job_status::kCancelled;
}

/// Claim order: oldest created first, job_id breaking ties (same order as the SQLite query).
bool claimsBefore(const JobRecord& a, const JobRecord& b) {
  if (a.created_at_ms != b.created_at_ms) return a.created_at_ms < b.created_at_ms;
  return a.job_id < b.job_id;
}

}  // namespace

std::string MemoryStorage::backendName() const { return "memory"; }

// ---- agents ----

void MemoryStorage::saveDraft(const std::string& agent_id, const Json& draft) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto [it, inserted] = agents_.try_emplace(agent_id);
  if (inserted) it->second.agent_id = agent_id;
  it->second.draft = draft;
  it->second.updated_at_ms = nowMs();
}

std::optional<AgentRecord> MemoryStorage::getAgent(const std::string& agent_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = agents_.find(agent_id);
  if (it == agents_.end()) return std::nullopt;
  return it->second;
}

std::vector<AgentRecord> MemoryStorage::listAgents() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<AgentRecord> agents;
  agents.reserve(agents_.size());
  for (const auto& entry : agents_) agents.push_back(entry.second);
  return agents;
}

bool MemoryStorage::deleteAgent(const std::string& agent_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  versions_.erase(versions_.lower_bound({agent_id, std::numeric_limits<std::int64_t>::min()}),
                  versions_.upper_bound({agent_id, std::numeric_limits<std::int64_t>::max()}));
  for (auto it = kv_.lower_bound({agent_id, std::string()});
       it != kv_.end() && it->first.first == agent_id;) {
    it = kv_.erase(it);
  }
  return agents_.erase(agent_id) > 0;
}

AgentVersion MemoryStorage::deployNewVersion(const std::string& agent_id, const Json& definition) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = agents_.find(agent_id);
  if (it == agents_.end()) {
    throw StorageError("deployNewVersion: agent '" + agent_id + "' does not exist");
  }
  AgentVersion version;
  version.agent_id = agent_id;
  version.version = it->second.latest_version + 1;
  version.definition = definition;
  version.created_at_ms = nowMs();
  versions_[{agent_id, version.version}] = version;
  it->second.latest_version = version.version;
  it->second.deployed_version = version.version;
  it->second.updated_at_ms = version.created_at_ms;
  return version;
}

bool MemoryStorage::deployExistingVersion(const std::string& agent_id, std::int64_t version) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = agents_.find(agent_id);
  if (it == agents_.end() || versions_.count({agent_id, version}) == 0) return false;
  it->second.deployed_version = version;
  it->second.updated_at_ms = nowMs();
  return true;
}

bool MemoryStorage::undeploy(const std::string& agent_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = agents_.find(agent_id);
  if (it == agents_.end()) return false;
  it->second.deployed_version.reset();
  it->second.updated_at_ms = nowMs();
  return true;
}

std::optional<AgentVersion> MemoryStorage::getVersion(const std::string& agent_id,
                                                      std::int64_t version) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = versions_.find({agent_id, version});
  if (it == versions_.end()) return std::nullopt;
  return it->second;
}

// ---- jobs ----

std::pair<JobRecord, bool> MemoryStorage::createJob(const JobRecord& job,
                                                    const std::string& idempotency_key) {
  std::lock_guard<std::mutex> lock(mutex_);
  const std::int64_t now = nowMs();
  auto key_it = idempotency_.end();
  if (!idempotency_key.empty()) {
    key_it = idempotency_.find({job.created_by, idempotency_key});
    if (key_it != idempotency_.end()) {
      auto job_it = jobs_.find(key_it->second);
      if (job_it->second.job.created_at_ms >= now - kIdempotencyWindowMs) {
        return {job_it->second.job, false};
      }
    }
  }
  if (jobs_.count(job.job_id) > 0) {
    throw StorageError("createJob: job '" + job.job_id + "' already exists");
  }
  if (key_it != idempotency_.end()) {
    // The key expired: the old job gives it up so the new job can take it.
    jobs_.at(key_it->second).idempotency_key.clear();
    idempotency_.erase(key_it);
  }
  StoredJob stored{job, idempotency_key};
  if (stored.job.created_at_ms == 0) stored.job.created_at_ms = now;
  if (!idempotency_key.empty()) idempotency_[{job.created_by, idempotency_key}] = job.job_id;
  auto [it, inserted] = jobs_.emplace(job.job_id, std::move(stored));
  (void)inserted;
  return {it->second.job, true};
}

void MemoryStorage::putJob(const JobRecord& job) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = jobs_.find(job.job_id);
  if (it == jobs_.end()) {
    jobs_.emplace(job.job_id, StoredJob{job, std::string()});
    return;
  }
  // The replaced job keeps its idempotency key (as the SQLite upsert does), now scoped to the
  // creator the new record names.
  StoredJob& stored = it->second;
  if (!stored.idempotency_key.empty() && stored.job.created_by != job.created_by) {
    idempotency_.erase({stored.job.created_by, stored.idempotency_key});
    idempotency_[{job.created_by, stored.idempotency_key}] = job.job_id;
  }
  stored.job = job;
}

std::optional<JobRecord> MemoryStorage::getJob(const std::string& job_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return std::nullopt;
  return it->second.job;
}

JobPage MemoryStorage::listJobs(const JobQuery& query) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<const JobRecord*> matching;
  for (const auto& entry : jobs_) {
    const JobRecord& job = entry.second.job;
    if (!query.agent_id.empty() && job.agent_id != query.agent_id) continue;
    if (query.status && job.status != *query.status) continue;
    if (query.created_by && job.created_by != *query.created_by) continue;
    matching.push_back(&job);
  }
  std::sort(matching.begin(), matching.end(), [](const JobRecord* a, const JobRecord* b) {
    if (a->created_at_ms != b->created_at_ms) return a->created_at_ms > b->created_at_ms;
    return a->job_id > b->job_id;
  });
  JobPage page;
  page.total = static_cast<std::int64_t>(matching.size());
  const std::size_t begin =
      std::min(matching.size(), static_cast<std::size_t>(std::max<std::int64_t>(query.offset, 0)));
  std::size_t end = matching.size();
  if (query.limit >= 0) end = std::min(end, begin + static_cast<std::size_t>(query.limit));
  for (std::size_t i = begin; i < end; ++i) page.jobs.push_back(*matching[i]);
  return page;
}

std::int64_t MemoryStorage::countQueued() {
  std::lock_guard<std::mutex> lock(mutex_);
  return std::count_if(jobs_.begin(), jobs_.end(), [](const auto& entry) {
    return entry.second.job.status == job_status::kQueued;
  });
}

std::vector<JobRecord> MemoryStorage::claimJobs(std::chrono::milliseconds lease,
                                                std::size_t max_jobs) {
  std::lock_guard<std::mutex> lock(mutex_);
  const std::int64_t now = nowMs();
  std::vector<JobRecord*> claimable;
  for (auto& entry : jobs_) {
    JobRecord& job = entry.second.job;
    if (job.status == job_status::kQueued ||
        (job.status == job_status::kInProgress && job.lease_until_ms && *job.lease_until_ms < now))
      claimable.push_back(&job);
  }
  const std::size_t count = std::min(max_jobs, claimable.size());
  std::partial_sort(claimable.begin(), claimable.begin() + static_cast<std::ptrdiff_t>(count),
                    claimable.end(),
                    [](const JobRecord* a, const JobRecord* b) { return claimsBefore(*a, *b); });
  std::vector<JobRecord> claimed;
  claimed.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    JobRecord& job = *claimable[i];
    job.status = job_status::kInProgress;
    job.attempts += 1;
    if (!job.started_at_ms) job.started_at_ms = now;
    job.lease_token = ++last_lease_token_;
    job.lease_until_ms = now + lease.count();
    claimed.push_back(job);
  }
  return claimed;
}

std::size_t MemoryStorage::unclaimJobs(
    const std::vector<std::pair<std::string, std::int64_t>>& claims) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::size_t handed_back = 0;
  for (const auto& [job_id, token] : claims) {
    auto it = jobs_.find(job_id);
    if (it == jobs_.end()) continue;
    JobRecord& job = it->second.job;
    if (job.status != job_status::kInProgress || job.lease_token != token) continue;
    job.status = job_status::kQueued;
    job.attempts = std::max(job.attempts - 1, 0);
    if (job.attempts == 0) job.started_at_ms.reset();
    job.lease_token = 0;
    job.lease_until_ms.reset();
    ++handed_back;
  }
  return handed_back;
}

bool MemoryStorage::renewLease(const std::string& job_id, std::int64_t lease_token,
                               std::chrono::milliseconds lease, bool* cancel_requested) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = jobs_.find(job_id);
  if (cancel_requested != nullptr) {
    *cancel_requested = it != jobs_.end() && it->second.job.cancel_requested;
  }
  if (it == jobs_.end()) return false;
  JobRecord& job = it->second.job;
  if (job.status != job_status::kInProgress || job.lease_token != lease_token) return false;
  job.lease_until_ms = nowMs() + lease.count();
  return true;
}

bool MemoryStorage::finishJob(const JobRecord& job, std::int64_t lease_token,
                              const std::vector<std::string>& events) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = jobs_.find(job.job_id);
  if (it == jobs_.end()) return false;
  JobRecord& stored = it->second.job;
  if (stored.status != job_status::kInProgress || stored.lease_token != lease_token) return false;
  stored.status = job.status;
  stored.artifact = job.artifact;
  stored.error = job.error;
  stored.trace = job.trace;
  // Retention deletes by finished_at, so a finished job must have one; a job handed back to the
  // queue keeps none.
  stored.finished_at_ms = job.finished_at_ms;
  if (isFinished(job.status) && !stored.finished_at_ms) stored.finished_at_ms = nowMs();
  if (!events.empty()) {
    std::vector<std::string>& log = events_[job.job_id];
    log.insert(log.end(), events.begin(), events.end());
  }
  return true;
}

std::optional<JobRecord> MemoryStorage::requestCancel(const std::string& job_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return std::nullopt;
  JobRecord& job = it->second.job;
  if (job.status == job_status::kQueued) {
    job.status = job_status::kCancelled;
    job.cancel_requested = true;
    job.finished_at_ms = nowMs();
  } else if (job.status == job_status::kInProgress) {
    job.cancel_requested = true;
  }
  return job;
}

std::pair<std::optional<JobRecord>, bool> MemoryStorage::retryJob(const std::string& job_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return {std::nullopt, false};
  JobRecord& job = it->second.job;
  if (job.status != job_status::kError) return {job, false};
  job.status = job_status::kQueued;
  job.artifact.reset();
  job.error.reset();
  job.finished_at_ms.reset();
  job.lease_token = 0;
  job.lease_until_ms.reset();
  // A retry is a fresh run: an old cancel must not stop it, and its trace and event stream
  // start empty (a reader must not replay the failed run's [DONE]).
  job.cancel_requested = false;
  job.trace = Json::array();
  events_.erase(job_id);
  return {job, true};
}

std::int64_t MemoryStorage::deleteFinishedBefore(std::int64_t cutoff_ms, std::int64_t batch) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (batch <= 0) return 0;
  std::vector<const JobRecord*> expired;
  for (const auto& entry : jobs_) {
    const JobRecord& job = entry.second.job;
    if (isFinished(job.status) && job.finished_at_ms && *job.finished_at_ms < cutoff_ms) {
      expired.push_back(&job);
    }
  }
  // Oldest finished first, so repeated batches walk forward in time like the SQLite query.
  std::sort(expired.begin(), expired.end(), [](const JobRecord* a, const JobRecord* b) {
    if (*a->finished_at_ms != *b->finished_at_ms) return *a->finished_at_ms < *b->finished_at_ms;
    return a->job_id < b->job_id;
  });
  if (static_cast<std::int64_t>(expired.size()) > batch) {
    expired.resize(static_cast<std::size_t>(batch));
  }
  std::vector<std::string> ids;
  ids.reserve(expired.size());
  for (const JobRecord* job : expired) ids.push_back(job->job_id);
  for (const std::string& id : ids) {
    auto it = jobs_.find(id);
    if (!it->second.idempotency_key.empty()) {
      idempotency_.erase({it->second.job.created_by, it->second.idempotency_key});
    }
    jobs_.erase(it);
    events_.erase(id);
  }
  return static_cast<std::int64_t>(ids.size());
}

// ---- job events ----

void MemoryStorage::appendEvents(const std::string& job_id,
                                 const std::vector<std::string>& events) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::string>& stored = events_[job_id];
  stored.insert(stored.end(), events.begin(), events.end());
}

std::vector<std::string> MemoryStorage::loadEvents(const std::string& job_id,
                                                   std::int64_t from_seq) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = events_.find(job_id);
  if (it == events_.end()) return {};
  const std::size_t begin =
      std::min(it->second.size(), static_cast<std::size_t>(std::max<std::int64_t>(from_seq, 0)));
  return std::vector<std::string>(it->second.begin() + static_cast<std::ptrdiff_t>(begin),
                                  it->second.end());
}

// ---- kv ----

std::optional<Json> MemoryStorage::kvGet(const std::string& agent_id, const std::string& key) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = kv_.find({agent_id, key});
  if (it == kv_.end()) return std::nullopt;
  return it->second;
}

void MemoryStorage::kvSet(const std::string& agent_id, const std::string& key, const Json& value) {
  std::lock_guard<std::mutex> lock(mutex_);
  kv_[{agent_id, key}] = value;
}

bool MemoryStorage::kvDelete(const std::string& agent_id, const std::string& key) {
  std::lock_guard<std::mutex> lock(mutex_);
  return kv_.erase({agent_id, key}) > 0;
}

}  // namespace blueprint::host
