// SPDX-License-Identifier: Apache-2.0
// sqlite_storage.hpp: the embedded default backend (`sqlite:<path>`): one database file in WAL
// mode with synchronous=FULL, so a write is on disk when the call returns (a 202 promises the job
// survives a crash). The schema is versioned (schema_migrations) and migrated at open.
#pragma once

#include <memory>

#include "storage/storage.hpp"

namespace blueprint::host {

/// Storage in one SQLite file through Poco::Data. One connection guarded by a mutex: a Poco
/// Session is not thread-safe, and SQLite admits one writer at a time anyway.
class SqliteStorage final : public Storage {
 public:
  /// Opens (creating when missing) the database at `path`, sets the pragmas and applies pending
  /// schema migrations. The parent directory must exist. Throws StorageError naming the path.
  explicit SqliteStorage(const std::string& path);
  ~SqliteStorage() override;

  SqliteStorage(const SqliteStorage&) = delete;
  SqliteStorage& operator=(const SqliteStorage&) = delete;

  /// The schema version this build migrates to (the highest schema_migrations.version).
  static std::int64_t schemaVersion();

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
  void putFinishedRuns(const std::vector<FinishedRun>& runs) override;
  std::optional<JobRecord> getJob(const std::string& job_id) override;
  JobPage listJobs(const JobQuery& query) override;
  std::int64_t countQueued() override;
  std::vector<JobRecord> claimJobs(std::chrono::milliseconds lease, std::size_t max_jobs) override;
  std::size_t unclaimJobs(const std::vector<std::pair<std::string, std::int64_t>>& claims) override;
  bool renewLease(const std::string& job_id, std::int64_t lease_token,
                  std::chrono::milliseconds lease, bool* cancel_requested) override;
  bool finishJob(const JobRecord& job, std::int64_t lease_token,
                 const std::vector<std::string>& events) override;
  FinishAndClaim finishJobAndClaim(const JobRecord& job, std::int64_t lease_token,
                                   const std::vector<std::string>& events,
                                   std::chrono::milliseconds lease, std::size_t max_jobs) override;
  std::optional<JobRecord> requestCancel(const std::string& job_id) override;
  std::pair<std::optional<JobRecord>, bool> retryJob(const std::string& job_id) override;
  std::int64_t deleteFinishedBefore(std::int64_t cutoff_ms, std::int64_t batch) override;

  void appendEvents(const std::string& job_id, const std::vector<std::string>& events) override;
  std::vector<std::string> loadEvents(const std::string& job_id, std::int64_t from_seq) override;

  std::optional<Json> kvGet(const std::string& agent_id, const std::string& key) override;
  void kvSet(const std::string& agent_id, const std::string& key, const Json& value) override;
  bool kvDelete(const std::string& agent_id, const std::string& key) override;

 private:
  /// The Poco session and its mutex; kept out of this header so users need no Poco::Data.
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace blueprint::host
