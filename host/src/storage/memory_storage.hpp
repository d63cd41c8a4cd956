// SPDX-License-Identifier: Apache-2.0
// memory_storage.hpp: the ephemeral backend (`memory:`). Same semantics as the SQLite backend,
// kept in mutex-protected maps; everything is lost when the process exits. Used for tests and
// throwaway hosts.
#pragma once

#include <map>
#include <mutex>
#include <utility>

#include "storage/storage.hpp"

namespace blueprint::host {

/// Storage in process memory. Every method takes one mutex, so each call is atomic.
class MemoryStorage final : public Storage {
 public:
  MemoryStorage() = default;

  std::string backendName() const override;

  void saveDraft(const std::string& agent_id, const Json& draft) override;
  std::optional<AgentRecord> getAgent(const std::string& agent_id) override;
  std::vector<AgentRecord> listAgents() override;
  bool deleteAgent(const std::string& agent_id) override;
  AgentVersion deployNewVersion(const std::string& agent_id, const Json& definition) override;
  bool deployExistingVersion(const std::string& agent_id, std::int64_t version) override;
  bool undeploy(const std::string& agent_id) override;
  std::optional<AgentVersion> getVersion(const std::string& agent_id,
                                         std::int64_t version) override;

  std::pair<JobRecord, bool> createJob(const JobRecord& job,
                                       const std::string& idempotency_key) override;
  void putJob(const JobRecord& job) override;
  std::optional<JobRecord> getJob(const std::string& job_id) override;
  JobPage listJobs(const JobQuery& query) override;
  std::int64_t countQueued() override;
  std::vector<JobRecord> claimJobs(std::chrono::milliseconds lease, std::size_t max_jobs) override;
  std::size_t unclaimJobs(const std::vector<std::pair<std::string, std::int64_t>>& claims) override;
  bool renewLease(const std::string& job_id, std::int64_t lease_token,
                  std::chrono::milliseconds lease, bool* cancel_requested) override;
  bool finishJob(const JobRecord& job, std::int64_t lease_token,
                 const std::vector<std::string>& events) override;
  std::optional<JobRecord> requestCancel(const std::string& job_id) override;
  std::pair<std::optional<JobRecord>, bool> retryJob(const std::string& job_id) override;
  std::int64_t deleteFinishedBefore(std::int64_t cutoff_ms, std::int64_t batch) override;

  void appendEvents(const std::string& job_id, const std::vector<std::string>& events) override;
  std::vector<std::string> loadEvents(const std::string& job_id, std::int64_t from_seq) override;

  std::optional<Json> kvGet(const std::string& agent_id, const std::string& key) override;
  void kvSet(const std::string& agent_id, const std::string& key, const Json& value) override;
  bool kvDelete(const std::string& agent_id, const std::string& key) override;

 private:
  /// A job plus what the API does not show: the key it was created with (empty when none).
  struct StoredJob {
    JobRecord job;
    std::string idempotency_key;
  };
  using AgentKey = std::pair<std::string, std::int64_t>;  // (agent_id, version)
  using ScopedKey = std::pair<std::string, std::string>;  // (scope, key)

  std::mutex mutex_;
  std::map<std::string, AgentRecord> agents_;
  std::map<AgentKey, AgentVersion> versions_;
  std::map<std::string, StoredJob> jobs_;
  /// (created_by, idempotency_key) → job_id; only for jobs that still hold their key.
  std::map<ScopedKey, std::string> idempotency_;
  std::map<std::string, std::vector<std::string>> events_;
  std::map<ScopedKey, Json> kv_;  // (agent_id, key) → value
  /// Last lease token handed out; tokens only grow, like the SQLite counter row.
  std::int64_t last_lease_token_ = 0;
};

}  // namespace blueprint::host
