// SPDX-License-Identifier: Apache-2.0
// storage.hpp: the one storage interface (DESIGN §6). Backends: sqlite_storage (embedded default),
// memory_storage (ephemeral) and postgres_storage (one database shared by several hosts).
// Everything the host must not lose lives here: agent drafts, deployed versions, jobs with their
// events and trace.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace blueprint::host {

using Json = nlohmann::json;

/// Thrown by a backend when the database fails (not for "not found", which is std::nullopt).
class StorageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
  /// `unavailable`: the database cannot serve now (disk full, I/O error, connection lost) and
  /// the same call may succeed later; the API answers 503 storage_unavailable (issue 15).
  StorageError(const std::string& message, bool unavailable)
      : std::runtime_error(message), unavailable_(unavailable) {}
  bool unavailable() const { return unavailable_; }

 private:
  bool unavailable_ = false;
};

/// Job status values as the API spells them.
namespace job_status {
inline constexpr const char* kQueued = "queued";
inline constexpr const char* kInProgress = "in_progress";
inline constexpr const char* kCompleted = "completed";
inline constexpr const char* kError = "error";
inline constexpr const char* kCancelled = "cancelled";
}  // namespace job_status

/// One job (an async run, or a sync run whose caller left). Times are milliseconds since epoch.
struct JobRecord {
  std::string job_id;
  std::string agent_id;
  std::string blueprint_id;
  std::int64_t agent_version = 0;
  std::string status = job_status::kQueued;
  /// The request body the run was triggered with (`{"inputs":{…}}`).
  Json payload = Json::object();
  /// The Return Value as the API shows it (a string; non-strings JSON-encoded); null until
  /// completed.
  std::optional<std::string> artifact;
  /// Error text of a failed run ("<block id>: <message>").
  std::optional<std::string> error;
  std::int64_t created_at_ms = 0;
  std::optional<std::int64_t> started_at_ms;
  std::optional<std::int64_t> finished_at_ms;
  std::int32_t attempts = 0;
  /// Per-block trace: [{"block","type","end_state","start_us","duration_us","error"?}…].
  Json trace = Json::array();
  /// Who holds the run: the fencing token of the current lease (0 when none).
  std::int64_t lease_token = 0;
  std::optional<std::int64_t> lease_until_ms;
  /// true once a cancel was requested; a running worker stops at the next block boundary.
  bool cancel_requested = false;
  /// The name of the API key that created the job: it scopes Idempotency-Key, and only that key
  /// (or an admin key) may see and control the job (issue 11, Tenancy).
  std::string created_by;
};

/// A deployed, immutable agent version.
struct AgentVersion {
  std::string agent_id;
  std::int64_t version = 0;
  /// The agent definition (`{"name","blueprints":[…]}`) exactly as deployed.
  Json definition;
  std::int64_t created_at_ms = 0;
};

/// What an agent row holds: its draft, and which version (if any) is deployed.
struct AgentRecord {
  std::string agent_id;
  Json draft;  // {"name","blueprints":[…]}
  std::optional<std::int64_t> deployed_version;
  std::int64_t latest_version = 0;  // highest version number ever deployed (0 = none)
  std::int64_t updated_at_ms = 0;
};

/// Filter and page for listJobs.
/// A finished run and its events, stored together (Storage::putFinishedRuns).
struct FinishedRun {
  JobRecord job;
  std::vector<std::string> events;
};

struct JobQuery {
  std::string agent_id;  // empty = jobs of every agent
  std::optional<std::string> status;
  /// Only the jobs this API key name created (a non-admin key listing jobs); unset = anyone's.
  std::optional<std::string> created_by;
  std::int64_t limit = 50;  // negative = no limit
  std::int64_t offset = 0;
};

struct JobPage {
  std::vector<JobRecord> jobs;  // newest first (created_at desc, then job_id desc)
  std::int64_t total = 0;       // total matching the filter, ignoring limit/offset
};

/// How long an Idempotency-Key keeps matching the job it created (24 h, from the job's
/// created_at_ms). Shared by every backend so they agree on the boundary.
inline constexpr std::int64_t kIdempotencyWindowMs = 24LL * 60 * 60 * 1000;

/// The storage interface. Every method is thread-safe; writes are durable when they return.
class Storage {
 public:
  virtual ~Storage() = default;

  /// "sqlite", "memory", "postgresql".
  virtual std::string backendName() const = 0;

  // ---- agents ----
  /// Creates or replaces the agent's draft; keeps its versions and deployed state.
  virtual void saveDraft(const std::string& agent_id, const Json& draft) = 0;
  virtual std::optional<AgentRecord> getAgent(const std::string& agent_id) = 0;
  /// Every agent, ordered by agent_id.
  virtual std::vector<AgentRecord> listAgents() = 0;
  /// Deletes the agent, its versions and its kv entries; false if it did not exist. Jobs stay.
  virtual bool deleteAgent(const std::string& agent_id) = 0;
  /// Stores `definition` as the next version number (latest + 1) and marks it deployed.
  /// Returns the new version. Throws StorageError if the agent does not exist.
  virtual AgentVersion deployNewVersion(const std::string& agent_id, const Json& definition) = 0;
  /// Marks an existing version deployed (rollback); false if that version does not exist.
  virtual bool deployExistingVersion(const std::string& agent_id, std::int64_t version) = 0;
  /// Clears the deployed version; false if the agent does not exist.
  virtual bool undeploy(const std::string& agent_id) = 0;
  virtual std::optional<AgentVersion> getVersion(const std::string& agent_id,
                                                 std::int64_t version) = 0;
  /// A number that changes whenever any agent row changes (draft saved, deployed, rolled back,
  /// undeployed, deleted), by this process or another one sharing the database: a host compares
  /// it with the last value it saw to learn, with one cheap read, whether its in-memory view of
  /// deployed versions may be stale. nullopt means only this process changes agents (SQLite,
  /// memory: one host per database), so there is nothing to check; that is the default.
  virtual std::optional<std::int64_t> agentsRevision() { return std::nullopt; }

  // ---- jobs ----
  /// Inserts a new job (durable before return). With a non-empty `idempotency_key`, a job already
  /// created with the same (created_by, key) within 24 h is returned instead and nothing is
  /// inserted; the bool says whether the returned job is new. A key older than that matches
  /// nothing (the new job takes it over). A created_at_ms of 0 is stored as now; a job_id that
  /// already exists throws StorageError.
  virtual std::pair<JobRecord, bool> createJob(const JobRecord& job,
                                               const std::string& idempotency_key) = 0;
  /// Inserts a finished or running job as it is (a sync run whose caller left). Replaces a job
  /// with the same id (which keeps the idempotency key it was created with).
  virtual void putJob(const JobRecord& job) = 0;
  /// Inserts finished runs with their events, as putJob and appendEvents would, in one
  /// transaction where the backend has them (SyncRunRecorder's batches).
  virtual void putFinishedRuns(const std::vector<FinishedRun>& runs) {
    for (const FinishedRun& run : runs) {
      putJob(run.job);
      appendEvents(run.job.job_id, run.events);
    }
  }
  virtual std::optional<JobRecord> getJob(const std::string& job_id) = 0;
  virtual JobPage listJobs(const JobQuery& query) = 0;
  /// Number of jobs in `queued` status (for the queue bound).
  virtual std::int64_t countQueued() = 0;

  /// Claims the oldest claimable job: `queued`, or `in_progress` whose lease expired. Sets status
  /// in_progress, attempts+1, started_at (if unset), a fresh lease_token (strictly increasing
  /// across the database) and lease_until = now + lease. Returns the claimed job, or nullopt
  /// when none is claimable. An in_progress job without lease_until (a sync run's putJob) has no
  /// lease to expire and is never claimed. claimJobs(lease, 1).
  std::optional<JobRecord> claimJob(std::chrono::milliseconds lease) {
    std::vector<JobRecord> claimed = claimJobs(lease, 1);
    if (claimed.empty()) return std::nullopt;
    return std::move(claimed.front());
  }
  /// Claims up to `max_jobs` claimable jobs in one transaction (one commit), oldest first, each
  /// exactly as claimJob claims one: its own fresh lease_token, attempts+1, the same lease.
  /// Returns them oldest first; fewer (or none) when fewer are claimable. A job is never held by
  /// two claims at once, whichever host or thread claims concurrently.
  virtual std::vector<JobRecord> claimJobs(std::chrono::milliseconds lease,
                                           std::size_t max_jobs) = 0;
  /// Hands back claimed jobs that never started running (a worker claimed them in a batch and
  /// stopped first): each job whose (job_id, lease_token) still holds it goes back to `queued`
  /// with its claim undone: attempts-1, no lease (lease_token 0, no lease_until), started_at
  /// cleared when that claim was the job's first. A job the token no longer holds is left as it
  /// is. Returns how many were handed back; announced like new jobs (waitForJobs).
  virtual std::size_t unclaimJobs(
      const std::vector<std::pair<std::string, std::int64_t>>& claims) = 0;
  /// Extends the lease if `lease_token` still holds it; false otherwise (the job was taken over
  /// or finished). Also returns cancel_requested through `cancel_requested` when non-null
  /// (whether or not the lease was renewed; false for an unknown job).
  virtual bool renewLease(const std::string& job_id, std::int64_t lease_token,
                          std::chrono::milliseconds lease, bool* cancel_requested) = 0;
  /// Writes the final state (status, artifact, error, trace, finished_at) and appends `events`
  /// (as appendEvents does) in one transaction, only if `lease_token` still holds the job (status
  /// in_progress, same token); returns false and writes nothing, neither the row nor the events,
  /// otherwise. So an attempt that lost its lease leaves no trace, and a reader that finds the
  /// job finished finds its events complete. A finished status (completed/error/cancelled)
  /// without finished_at gets now, so retention finds it; a worker handing the job back on
  /// shutdown passes status queued (and usually no events).
  /// The events follow those the job already has, numbered on from them (a follower reading by
  /// sequence number never loses its place). A worker stores events only here, and retryJob
  /// clears them, so a job normally has none before its finish: the finishing attempt's events
  /// are the whole stream.
  virtual bool finishJob(const JobRecord& job, std::int64_t lease_token,
                         const std::vector<std::string>& events) = 0;
  /// finishJob, then claimJobs(lease, max_jobs), in one commit where the backend can (SQLite:
  /// the same group commit; the default does one after the other). A worker that ends a job
  /// takes its next one with the same commit, so a claim costs no commit of its own and a job is
  /// only claimed when a worker is free to start it. The claim happens whether or not the
  /// finish was written (`written` says which).
  struct FinishAndClaim {
    bool written = false;
    std::vector<JobRecord> claimed;
  };
  virtual FinishAndClaim finishJobAndClaim(const JobRecord& job, std::int64_t lease_token,
                                           const std::vector<std::string>& events,
                                           std::chrono::milliseconds lease, std::size_t max_jobs) {
    FinishAndClaim result;
    result.written = finishJob(job, lease_token, events);
    result.claimed = claimJobs(lease, max_jobs);
    return result;
  }
  /// Cancels a job: queued → cancelled at once (finished_at set); in_progress → cancel_requested
  /// set (the worker ends it as cancelled). cancel_requested becomes true in both cases; a
  /// finished job is left as it is. Returns the job after the change; nullopt if unknown.
  virtual std::optional<JobRecord> requestCancel(const std::string& job_id) = 0;
  /// Re-queues a job that ended in `error`: status queued, artifact/error/finished_at cleared,
  /// lease cleared (lease_token 0), cancel_requested cleared, trace and stored events cleared
  /// (the next run streams from event 0 again); attempts and started_at kept.
  /// Returns the job, or nullopt if unknown; throws nothing when the status is not `error` but
  /// returns the unchanged job with the bool false.
  virtual std::pair<std::optional<JobRecord>, bool> retryJob(const std::string& job_id) = 0;
  /// Deletes finished jobs (completed/error/cancelled) finished before `cutoff_ms`, at most
  /// `batch` of them, oldest finished first, with their events; returns how many were deleted.
  virtual std::int64_t deleteFinishedBefore(std::int64_t cutoff_ms, std::int64_t batch) = 0;
  /// Blocks until a job may have become claimable, or for at most `timeout`. Returns true when a
  /// job was created or re-queued (by any host sharing the database) after the previous
  /// waitForJobs call on this storage returned, or during this one; false on timeout. Jobs
  /// announced before the first call are not reported, and a false return promises nothing, so
  /// callers still poll claimJob: this only shortens the wait. Thread-safe; concurrent callers
  /// are all woken. The default (SQLite, memory: one process, whose JobWorker is woken directly)
  /// sleeps `timeout` and returns false.
  virtual bool waitForJobs(std::chrono::milliseconds timeout) {
    std::this_thread::sleep_for(timeout);
    return false;
  }

  // ---- job events (the SSE `data:` payloads of a run, in order) ----
  /// Appends events (each the JSON text after `data: `, e.g. `{"delta":"hi"}` or `[DONE]`), with
  /// no fencing: for a job no lease holds (a sync run stored with putJob). A leased run's events
  /// go in with its finishJob.
  virtual void appendEvents(const std::string& job_id, const std::vector<std::string>& events) = 0;
  /// Events with sequence number >= from_seq (0-based), in order.
  virtual std::vector<std::string> loadEvents(const std::string& job_id, std::int64_t from_seq) = 0;

  // ---- kv (kv_storage block), namespaced per agent ----
  virtual std::optional<Json> kvGet(const std::string& agent_id, const std::string& key) = 0;
  virtual void kvSet(const std::string& agent_id, const std::string& key, const Json& value) = 0;
  virtual bool kvDelete(const std::string& agent_id, const std::string& key) = 0;
};

/// Opens storage from a URL: `sqlite:<path>`, `memory:`, or
/// `postgresql://user:password@host:port/database` (also `postgres://`; see postgres_storage.hpp).
/// Throws StorageError with a message naming the URL when it cannot open (a PostgreSQL URL
/// without its password).
std::unique_ptr<Storage> openStorage(const std::string& url);

/// Milliseconds since the Unix epoch, the time base of every *_ms field.
std::int64_t nowMs();

}  // namespace blueprint::host
