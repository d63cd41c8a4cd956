// SPDX-License-Identifier: Apache-2.0
// postgres_storage.hpp: the scale-out backend (`postgresql://user:password@host:port/database`,
// DESIGN §6): several hosts share one PostgreSQL database, its jobs and its deployed agents.
// Workers of every host claim jobs with `FOR UPDATE SKIP LOCKED`; leases carry fencing tokens from
// one database sequence; new and re-queued jobs are announced with `NOTIFY blueprint_jobs`, which
// waitForJobs listens for. The schema is versioned (schema_migrations) and migrated at open under
// an advisory lock, so hosts starting together do not race. Start with the constructor's comment,
// then docs/decisions/002-storage-schema.md.
#pragma once

#include <memory>
#include <string>

#include "storage/storage.hpp"

namespace blueprint::host {

/// Storage in a PostgreSQL database through Poco::Data::PostgreSQL. Every method takes a
/// connection from a small pool for its duration, so threads (and hosts) work in parallel; the
/// database's row locks, not a process mutex, keep them apart.
class PostgresStorage final : public Storage {
 public:
  /// Connects to `url` and applies pending schema migrations.
  ///
  /// URL: `postgresql://[user[:password]@][host][:port][/database][?key=value&…]`, also spelled
  /// `postgres://`. User, password and database are percent-decoded; the port defaults to 5432;
  /// an empty host means libpq's default (the local Unix socket). A missing password falls back
  /// to libpq's PGPASSWORD and ~/.pgpass. Query parameters are libpq connection keywords
  /// (`sslmode=require`, `connect_timeout=5`, …) except `pool_size`, the most connections this
  /// storage opens at once (default 8; callers beyond it wait for a free one). No value may
  /// contain whitespace: Poco 1.11's connector splits its connection string at spaces.
  ///
  /// Throws StorageError naming the URL without its password when the URL is malformed, the
  /// server cannot be reached, or the schema is newer than this build.
  explicit PostgresStorage(const std::string& url);
  /// Closes every connection, including waitForJobs' listening one.
  ~PostgresStorage() override;

  PostgresStorage(const PostgresStorage&) = delete;
  PostgresStorage& operator=(const PostgresStorage&) = delete;

  /// The schema version this build migrates to (the highest schema_migrations.version).
  static std::int64_t schemaVersion();

  /// The channel createJob, retryJob and a hand-back through finishJob notify on commit.
  static constexpr const char* kJobsChannel = "blueprint_jobs";

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
  /// agents_revision.revision, which a statement trigger on `agents` bumps in the transaction of
  /// every change, so a reader never sees a new revision before the change it stands for.
  std::optional<std::int64_t> agentsRevision() override;

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
  /// LISTENs on kJobsChannel through a dedicated connection, opened by the first call and kept
  /// by a background thread (which reconnects after a failure and then reports true once, since
  /// announcements may have been missed). While it cannot connect, calls just time out.
  bool waitForJobs(std::chrono::milliseconds timeout) override;

  void appendEvents(const std::string& job_id, const std::vector<std::string>& events) override;
  std::vector<std::string> loadEvents(const std::string& job_id, std::int64_t from_seq) override;

  std::optional<Json> kvGet(const std::string& agent_id, const std::string& key) override;
  void kvSet(const std::string& agent_id, const std::string& key, const Json& value) override;
  bool kvDelete(const std::string& agent_id, const std::string& key) override;

 private:
  /// The connection pool and the listener; kept out of this header so users need no Poco::Data
  /// or libpq.
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace blueprint::host
