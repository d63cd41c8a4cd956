// SPDX-License-Identifier: Apache-2.0
// sqlite_storage.cpp: the `sqlite:<path>` backend on Poco::Data::SQLite.
//
// Every public method runs under Impl::run: it takes the one mutex (a Poco Session is not
// thread-safe) and turns Poco and JSON failures into StorageError naming the operation. Methods
// that issue more than one write, or read then write, do it in a BEGIN IMMEDIATE transaction so
// that a second process on the same file cannot interleave and a failure leaves nothing behind.
#include "storage/sqlite_storage.hpp"

#include <Poco/Data/LOB.h>
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/SQLite/SQLiteException.h>
#include <Poco/Data/SQLite/Utility.h>
#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>
#include <Poco/Exception.h>
#include <Poco/Nullable.h>
#include <sqlite3.h>

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <utility>

#include "storage/job_rows.hpp"

namespace blueprint::host {

namespace {

using job_rows::fromBlob;
using job_rows::fromNullable;
using job_rows::toNullable;
using job_rows::toText;

using Poco::Int64;
using Poco::Data::BLOB;
using Poco::Data::Session;
using Poco::Data::Statement;
using Poco::Data::Keywords::bind;
using Poco::Data::Keywords::into;
using Poco::Data::Keywords::now;
using Poco::Data::Keywords::use;

/// One schema version: its statements are applied together, in one transaction, and recorded in
/// schema_migrations. Never edit a released step; append a new one.
struct Migration {
  Int64 version;
  std::vector<const char*> statements;
};

const std::vector<Migration>& migrations() {
  static const std::vector<Migration> kMigrations = {
      {1,
       {
           "CREATE TABLE agents ("
           " agent_id TEXT PRIMARY KEY,"
           " draft TEXT NOT NULL,"
           " deployed_version INTEGER,"
           " latest_version INTEGER NOT NULL DEFAULT 0,"
           " updated_at_ms INTEGER NOT NULL)",

           "CREATE TABLE agent_versions ("
           " agent_id TEXT NOT NULL REFERENCES agents (agent_id) ON DELETE CASCADE,"
           " version INTEGER NOT NULL,"
           " definition TEXT NOT NULL,"
           " created_at_ms INTEGER NOT NULL,"
           " PRIMARY KEY (agent_id, version))",

           // No foreign key to agents: jobs outlive their agent (deleteAgent keeps them).
           "CREATE TABLE jobs ("
           " job_id TEXT PRIMARY KEY,"
           " agent_id TEXT NOT NULL,"
           " blueprint_id TEXT NOT NULL,"
           " agent_version INTEGER NOT NULL,"
           " status TEXT NOT NULL,"
           " payload TEXT NOT NULL,"
           " artifact TEXT,"
           " error TEXT,"
           " created_at_ms INTEGER NOT NULL,"
           " started_at_ms INTEGER,"
           " finished_at_ms INTEGER,"
           " attempts INTEGER NOT NULL DEFAULT 0,"
           " trace TEXT NOT NULL,"
           " lease_token INTEGER NOT NULL DEFAULT 0,"
           " lease_until_ms INTEGER,"
           " cancel_requested INTEGER NOT NULL DEFAULT 0,"
           " created_by TEXT NOT NULL,"
           " idempotency_key TEXT)",

           // job_id ends each ordering index so the tie-break of listJobs and claimJob is read
           // from the index instead of sorted.
           "CREATE INDEX jobs_by_agent ON jobs (agent_id, created_at_ms DESC, job_id DESC)",
           "CREATE INDEX jobs_by_status ON jobs (status, created_at_ms, job_id)",
           "CREATE UNIQUE INDEX jobs_idempotency ON jobs (created_by, idempotency_key)"
           " WHERE idempotency_key IS NOT NULL",
           // Retention (deleteFinishedBefore) walks finished jobs by finished_at.
           "CREATE INDEX jobs_by_finished ON jobs (finished_at_ms, job_id)"
           " WHERE finished_at_ms IS NOT NULL",

           // No foreign key to jobs: a sync run may stream events before its job row exists.
           "CREATE TABLE job_events ("
           " job_id TEXT NOT NULL,"
           " seq INTEGER NOT NULL,"
           " data TEXT NOT NULL,"
           " PRIMARY KEY (job_id, seq))",

           "CREATE TABLE kv ("
           " agent_id TEXT NOT NULL,"
           " key TEXT NOT NULL,"
           " value TEXT NOT NULL,"
           " PRIMARY KEY (agent_id, key))",

           // One row: the last lease token handed out. A counter, not MAX(lease_token), because
           // tokens must keep growing even after the job that held the highest one is deleted.
           "CREATE TABLE lease_counter ("
           " id INTEGER PRIMARY KEY CHECK (id = 1),"
           " last_token INTEGER NOT NULL)",
           "INSERT INTO lease_counter (id, last_token) VALUES (1, 0)",
       }},
      // A key that is not an admin lists only the jobs it created (issue 11, Tenancy): this
      // index serves that page in order, however many jobs other keys have on the agent.
      {2,
       {
           "CREATE INDEX jobs_by_agent_creator"
           " ON jobs (agent_id, created_by, created_at_ms DESC, job_id DESC)",
       }},
  };
  return kMigrations;
}

const char* const kJobColumns = job_rows::kColumns;

const char* const kAgentColumns =
    "agent_id, draft, deployed_version, latest_version, updated_at_ms";

Poco::Nullable<std::string> toNullable(const std::optional<std::string>& value) {
  return value ? Poco::Nullable<std::string>(*value) : Poco::Nullable<std::string>();
}

/// BEGIN IMMEDIATE … COMMIT, rolled back unless committed. IMMEDIATE takes the write lock up front
/// so a read-then-write cannot fail halfway with SQLITE_BUSY when another connection writes.
class WriteTransaction {
 public:
  explicit WriteTransaction(Session& session) : session_(session) {
    session_ << "BEGIN IMMEDIATE", now;
  }
  ~WriteTransaction() {
    if (committed_) return;
    try {
      session_ << "ROLLBACK", now;
    } catch (...) {
      // SQLite may already have rolled back (e.g. after an I/O error); nothing left to undo.
    }
  }
  WriteTransaction(const WriteTransaction&) = delete;
  WriteTransaction& operator=(const WriteTransaction&) = delete;

  void commit() {
    session_ << "COMMIT", now;
    committed_ = true;
  }

 private:
  Session& session_;
  bool committed_ = false;
};

Session openSession(const std::string& path) {
  static std::once_flag registered;
  std::call_once(registered, [] { Poco::Data::SQLite::Connector::registerConnector(); });
  // Poco retries a failed sqlite3_open for the whole login timeout (60 s by default); a file
  // that cannot be opened now will not open a minute later, so fail fast.
  constexpr std::size_t kLoginTimeoutSeconds = 1;
  return Session(Poco::Data::SQLite::Connector::KEY, path, kLoginTimeoutSeconds);
}

/// A failure of a prepared statement with SQLite's result code; Impl::run names the operation
/// and the file.
class SqliteError : public std::runtime_error {
 public:
  SqliteError(int code, const std::string& message) : std::runtime_error(message), code_(code) {}
  int code() const { return code_; }

 private:
  int code_;
};

/// True for result codes that mean the file cannot take writes now but may later: a full
/// disk, an I/O error, a file that cannot be opened or is read-only, memory (issue 15).
bool isUnavailableCode(int code) {
  switch (code & 0xFF) {
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_NOMEM:
      return true;
    default:
      return false;
  }
}

/// The same for Poco's SQLite exceptions (the statements Poco::Data runs).
bool isUnavailableException(const Poco::Exception& e) {
  return dynamic_cast<const Poco::Data::SQLite::DatabaseFullException*>(&e) != nullptr ||
         dynamic_cast<const Poco::Data::SQLite::IOErrorException*>(&e) != nullptr ||
         dynamic_cast<const Poco::Data::SQLite::CantOpenDBFileException*>(&e) != nullptr ||
         dynamic_cast<const Poco::Data::SQLite::ReadOnlyException*>(&e) != nullptr ||
         dynamic_cast<const Poco::Data::SQLite::NoMemoryException*>(&e) != nullptr;
}

/// One prepared statement of the hot paths (creating, claiming and finishing jobs), compiled
/// once per connection and reused: Poco::Data compiles every statement each time it runs, which
/// cost as much CPU as the insert itself. A use binds parameters 1…n in order, steps, and
/// resets the statement when it ends.
class Prepared {
 public:
  Prepared(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~Prepared() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  Prepared(const Prepared&) = delete;
  Prepared& operator=(const Prepared&) = delete;

  Prepared& bind(std::int64_t value) {
    check(sqlite3_bind_int64(stmt_, ++param_, value));
    return *this;
  }
  Prepared& bind(const std::string& value) {
    check(sqlite3_bind_text(stmt_, ++param_, value.data(), static_cast<int>(value.size()),
                            SQLITE_TRANSIENT));
    return *this;
  }
  Prepared& bind(const char* value) { return bind(std::string(value)); }
  Prepared& bind(const std::optional<std::string>& value) {
    if (value) return bind(*value);
    check(sqlite3_bind_null(stmt_, ++param_));
    return *this;
  }
  Prepared& bind(const std::optional<std::int64_t>& value) {
    if (value) return bind(*value);
    check(sqlite3_bind_null(stmt_, ++param_));
    return *this;
  }

  /// true: a row is ready; false: done.
  bool step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw SqliteError(sqlite3_extended_errcode(db_), sqlite3_errmsg(db_));
  }
  /// Steps a statement that returns no rows; the rows it changed.
  std::int64_t run() {
    while (step()) {
    }
    return sqlite3_changes64(db_);
  }

  bool isNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  std::int64_t int64(int col) const { return sqlite3_column_int64(stmt_, col); }
  /// Text as stored, NUL bytes included.
  std::string text(int col) const {
    const void* data = sqlite3_column_blob(stmt_, col);
    const int size = sqlite3_column_bytes(stmt_, col);
    return data == nullptr ? std::string() : std::string(static_cast<const char*>(data), size);
  }
  std::optional<std::string> optionalText(int col) const {
    if (isNull(col)) return std::nullopt;
    return text(col);
  }
  std::optional<std::int64_t> optionalInt64(int col) const {
    if (isNull(col)) return std::nullopt;
    return int64(col);
  }

  /// A row of `SELECT kJobColumns …`.
  JobRecord job() const {
    JobRecord job;
    job.job_id = text(0);
    job.agent_id = text(1);
    job.blueprint_id = text(2);
    job.agent_version = int64(3);
    job.status = text(4);
    job.payload = Json::parse(text(5));
    job.artifact = optionalText(6);
    job.error = optionalText(7);
    job.created_at_ms = int64(8);
    job.started_at_ms = optionalInt64(9);
    job.finished_at_ms = optionalInt64(10);
    job.attempts = static_cast<std::int32_t>(int64(11));
    job.trace = Json::parse(text(12));
    job.lease_token = int64(13);
    job.lease_until_ms = optionalInt64(14);
    job.cancel_requested = int64(15) != 0;
    job.created_by = text(16);
    return job;
  }

 private:
  void check(int rc) {
    if (rc != SQLITE_OK) throw SqliteError(sqlite3_extended_errcode(db_), sqlite3_errmsg(db_));
  }

  sqlite3* db_;
  sqlite3_stmt* stmt_;
  int param_ = 0;
};

/// The prepared statements of one connection, by SQL text (each a string literal of this file).
class PreparedCache {
 public:
  explicit PreparedCache(sqlite3* db) : db_(db) {}
  ~PreparedCache() {
    for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
  }
  PreparedCache(const PreparedCache&) = delete;
  PreparedCache& operator=(const PreparedCache&) = delete;

  Prepared use(const std::string& sql) {
    auto it = statements_.find(sql);
    if (it == statements_.end()) {
      sqlite3_stmt* stmt = nullptr;
      if (sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()),
                             SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK) {
        throw SqliteError(sqlite3_extended_errcode(db_), sqlite3_errmsg(db_));
      }
      it = statements_.emplace(sql, stmt).first;
    }
    return Prepared(db_, it->second);
  }

 private:
  sqlite3* db_;
  std::map<std::string, sqlite3_stmt*> statements_;
};

}  // namespace

struct SqliteStorage::Impl {
  explicit Impl(const std::string& db_path)
      : path(db_path),
        session(openSession(db_path)),
        prepared(Poco::Data::SQLite::Utility::dbHandle(session)) {}

  std::string path;
  std::mutex mutex;
  Session session;
  /// After session, so its statements are finalized before the connection closes.
  PreparedCache prepared;

  /// One write waiting for its group commit (createJob, finishJob): `apply` runs inside the
  /// batch's transaction, given the batch's clock; it may run twice (once in the batch, once
  /// alone if the batch failed), so it must only assign its results.
  struct PendingWrite {
    const char* op = "";  // names the write in a StorageError
    std::function<void(Int64 now_ms)> apply;
    std::exception_ptr error;
    /// Waiting, then told either to lead the next batch or that its batch is durable. Each
    /// write has its own condition variable, so a commit wakes the writers of its batch and
    /// the next leader only, not every waiting thread.
    enum class State { kWaiting, kLead, kDone } state = State::kWaiting;
    std::mutex mutex;
    std::condition_variable changed;

    void tell(State next) {
      std::lock_guard<std::mutex> lock(mutex);
      state = next;
      changed.notify_one();
    }
  };
  /// Writes waiting for the next batch, and whether a leader is committing one.
  std::mutex batch_mutex;
  std::vector<PendingWrite*> pending_writes;
  bool batch_leader = false;

  /// Runs `write` in the next group commit and returns once it is durable (see groupCommit).
  void groupCommit(PendingWrite& write);
  /// Runs `body` in BEGIN IMMEDIATE … COMMIT, rolled back if it throws.
  void inTransaction(const std::function<void()>& body);
  /// Commits a batch of writes in one transaction, or one by one if that fails.
  void commitWrites(const std::vector<PendingWrite*>& batch);

  /// Inserts one job inside the caller's transaction (idempotency rules of DESIGN §6).
  std::pair<JobRecord, bool> insertJob(const JobRecord& job, const std::string& idempotency_key,
                                       Int64 now_ms);
  /// Claims up to `max_jobs` jobs inside the caller's transaction (claimJobs).
  std::vector<JobRecord> claimIn(std::chrono::milliseconds lease, std::size_t max_jobs,
                                 Int64 now_ms);
  /// finishJob's conditional write inside the caller's transaction; false when the token no
  /// longer holds the job (nothing written).
  bool writeFinish(const JobRecord& job, Int64 lease_token, const std::vector<std::string>& events,
                   Int64 now_ms);

  /// Appends `events` after the job's last stored event, inside the caller's transaction.
  void insertEvents(const std::string& job_id, const std::vector<std::string>& events) {
    Int64 next_seq = 0;
    {
      Prepared max_seq =
          prepared.use("SELECT COALESCE(MAX(seq) + 1, 0) FROM job_events WHERE job_id = ?");
      max_seq.bind(job_id);
      if (max_seq.step()) next_seq = max_seq.int64(0);
    }
    for (const std::string& data : events) {
      Prepared insert = prepared.use("INSERT INTO job_events (job_id, seq, data) VALUES (?, ?, ?)");
      insert.bind(job_id).bind(next_seq++).bind(data).run();
    }
  }

  /// Runs `body` under the mutex; Poco and JSON failures become StorageError naming `op`.
  template <typename Body>
  auto run(const char* op, Body&& body) -> decltype(body()) {
    std::lock_guard<std::mutex> lock(mutex);
    try {
      return body();
    } catch (const StorageError&) {
      throw;
    } catch (const SqliteError& e) {
      throw StorageError(
          std::string("sqlite storage '") + path + "': " + op + " failed: " + e.what(),
          isUnavailableCode(e.code()));
    } catch (const Poco::Exception& e) {
      throw StorageError(
          std::string("sqlite storage '") + path + "': " + op + " failed: " + e.displayText(),
          isUnavailableException(e));
    } catch (const std::exception& e) {
      throw StorageError(std::string("sqlite storage '") + path + "': " + op +
                         " failed: " + e.what());
    }
  }

  void configure() {
    // WAL lets readers run beside the writer; synchronous=FULL syncs the WAL on every commit,
    // which is what "durable before 202" needs (NORMAL may lose the last commits on power loss).
    std::string journal_mode;
    session << "PRAGMA journal_mode = WAL", into(journal_mode), now;
    session << "PRAGMA synchronous = FULL", now;
    // Another process on the same file (a CLI, a second host) waits instead of failing at once.
    Int64 busy_timeout = 0;
    session << "PRAGMA busy_timeout = 5000", into(busy_timeout), now;
    session << "PRAGMA foreign_keys = ON", now;
  }

  void migrate() {
    WriteTransaction tx(session);
    session << "CREATE TABLE IF NOT EXISTS schema_migrations ("
               " version INTEGER PRIMARY KEY,"
               " applied_at_ms INTEGER NOT NULL)",
        now;
    Int64 current = 0;
    session << "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", into(current), now;
    const Int64 latest = migrations().back().version;
    if (current > latest) {
      throw StorageError("the database schema is version " + std::to_string(current) +
                         ", newer than this build supports (" + std::to_string(latest) +
                         "); upgrade the host");
    }
    for (const Migration& migration : migrations()) {
      if (migration.version <= current) continue;
      for (const char* sql : migration.statements) session << sql, now;
      session << "INSERT INTO schema_migrations (version, applied_at_ms) VALUES (?, ?)",
          bind(migration.version), bind(nowMs()), now;
    }
    tx.commit();
  }

  /// Adds the JobRecord extractions to `stmt` (whose SELECT lists kJobColumns), runs it and
  /// returns the rows.
  static std::vector<JobRecord> fetchJobs(Statement& stmt) { return job_rows::fetch<Int64>(stmt); }

  std::optional<JobRecord> loadJob(const std::string& job_id) {
    Statement stmt(session);
    stmt << "SELECT " << kJobColumns << " FROM jobs WHERE job_id = ?";
    stmt.addBind(bind(job_id));
    std::vector<JobRecord> jobs = fetchJobs(stmt);
    if (jobs.empty()) return std::nullopt;
    return std::move(jobs.front());
  }

  /// An upsert rather than INSERT OR REPLACE: REPLACE deletes the row first and would drop the
  /// idempotency key the job was created with.
  static void upsertJob(Session& session, const JobRecord& job) {
    Statement stmt(session);
    stmt << "INSERT INTO jobs (" << kJobColumns
         << ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)" << job_rows::kUpsertTail;
    bindJob(stmt, job);
    stmt.execute();
  }

  /// Binds every kJobColumns value of `job`, in order.
  static void bindJob(Statement& stmt, const JobRecord& job) {
    stmt.addBind(bind(job.job_id));
    stmt.addBind(bind(job.agent_id));
    stmt.addBind(bind(job.blueprint_id));
    stmt.addBind(bind(job.agent_version));
    stmt.addBind(bind(job.status));
    stmt.addBind(bind(toText(job.payload)));
    stmt.addBind(bind(toNullable(job.artifact)));
    stmt.addBind(bind(toNullable(job.error)));
    stmt.addBind(bind(job.created_at_ms));
    stmt.addBind(bind(toNullable(job.started_at_ms)));
    stmt.addBind(bind(toNullable(job.finished_at_ms)));
    stmt.addBind(bind(static_cast<Int64>(job.attempts)));
    stmt.addBind(bind(toText(job.trace)));
    stmt.addBind(bind(job.lease_token));
    stmt.addBind(bind(toNullable(job.lease_until_ms)));
    stmt.addBind(bind(static_cast<Int64>(job.cancel_requested ? 1 : 0)));
    stmt.addBind(bind(job.created_by));
  }

  static std::vector<AgentRecord> fetchAgents(Statement& stmt) {
    std::vector<std::string> agent_id, draft;
    std::vector<Poco::Nullable<Int64>> deployed_version;
    std::vector<Int64> latest_version, updated_at_ms;
    stmt.addExtract(into(agent_id));
    stmt.addExtract(into(draft));
    stmt.addExtract(into(deployed_version));
    stmt.addExtract(into(latest_version));
    stmt.addExtract(into(updated_at_ms));
    stmt.execute();
    std::vector<AgentRecord> agents(agent_id.size());
    for (std::size_t i = 0; i < agents.size(); ++i) {
      agents[i].agent_id = std::move(agent_id[i]);
      agents[i].draft = Json::parse(draft[i]);
      agents[i].deployed_version = fromNullable(deployed_version[i]);
      agents[i].latest_version = latest_version[i];
      agents[i].updated_at_ms = updated_at_ms[i];
    }
    return agents;
  }
};

SqliteStorage::SqliteStorage(const std::string& path) {
  try {
    impl_ = std::make_unique<Impl>(path);
    impl_->configure();
    impl_->migrate();
  } catch (const StorageError& e) {
    throw StorageError("sqlite storage '" + path + "': cannot open: " + e.what());
  } catch (const Poco::Exception& e) {
    throw StorageError("sqlite storage '" + path + "': cannot open: " + e.displayText());
  } catch (const std::exception& e) {
    throw StorageError("sqlite storage '" + path + "': cannot open: " + e.what());
  }
}

SqliteStorage::~SqliteStorage() = default;

std::int64_t SqliteStorage::schemaVersion() { return migrations().back().version; }

std::string SqliteStorage::backendName() const { return "sqlite"; }

// ---- agents ----

void SqliteStorage::saveDraft(const std::string& agent_id, const Json& draft) {
  impl_->run("saveDraft", [&] {
    impl_->session << "INSERT INTO agents (agent_id, draft, deployed_version, latest_version,"
                      " updated_at_ms) VALUES (?, ?, NULL, 0, ?)"
                      " ON CONFLICT (agent_id) DO UPDATE SET draft = excluded.draft,"
                      " updated_at_ms = excluded.updated_at_ms",
        bind(agent_id), bind(toText(draft)), bind(nowMs()), now;
  });
}

std::optional<AgentRecord> SqliteStorage::getAgent(const std::string& agent_id) {
  return impl_->run("getAgent", [&]() -> std::optional<AgentRecord> {
    Statement stmt(impl_->session);
    stmt << "SELECT " << kAgentColumns << " FROM agents WHERE agent_id = ?";
    stmt.addBind(bind(agent_id));
    std::vector<AgentRecord> agents = Impl::fetchAgents(stmt);
    if (agents.empty()) return std::nullopt;
    return std::move(agents.front());
  });
}

std::vector<AgentRecord> SqliteStorage::listAgents() {
  return impl_->run("listAgents", [&] {
    Statement stmt(impl_->session);
    stmt << "SELECT " << kAgentColumns << " FROM agents ORDER BY agent_id";
    return Impl::fetchAgents(stmt);
  });
}

bool SqliteStorage::deleteAgent(const std::string& agent_id) {
  return impl_->run("deleteAgent", [&] {
    WriteTransaction tx(impl_->session);
    impl_->session << "DELETE FROM kv WHERE agent_id = ?", bind(agent_id), now;
    impl_->session << "DELETE FROM agent_versions WHERE agent_id = ?", bind(agent_id), now;
    Statement delete_agent(impl_->session);
    delete_agent << "DELETE FROM agents WHERE agent_id = ?", bind(agent_id);
    const bool deleted = delete_agent.execute() > 0;
    tx.commit();
    return deleted;
  });
}

AgentVersion SqliteStorage::deployNewVersion(const std::string& agent_id, const Json& definition) {
  return impl_->run("deployNewVersion", [&] {
    WriteTransaction tx(impl_->session);
    std::vector<Int64> latest;
    impl_->session << "SELECT latest_version FROM agents WHERE agent_id = ?", bind(agent_id),
        into(latest), now;
    if (latest.empty()) {
      throw StorageError("deployNewVersion: agent '" + agent_id + "' does not exist");
    }
    AgentVersion version;
    version.agent_id = agent_id;
    version.version = latest.front() + 1;
    version.definition = definition;
    version.created_at_ms = nowMs();
    impl_->session << "INSERT INTO agent_versions (agent_id, version, definition, created_at_ms)"
                      " VALUES (?, ?, ?, ?)",
        bind(agent_id), bind(version.version), bind(toText(definition)),
        bind(version.created_at_ms), now;
    impl_->session << "UPDATE agents SET latest_version = ?, deployed_version = ?,"
                      " updated_at_ms = ? WHERE agent_id = ?",
        bind(version.version), bind(version.version), bind(version.created_at_ms), bind(agent_id),
        now;
    tx.commit();
    return version;
  });
}

bool SqliteStorage::deployExistingVersion(const std::string& agent_id, std::int64_t version) {
  return impl_->run("deployExistingVersion", [&] {
    // One statement, so the existence check and the update are atomic without a transaction.
    Statement stmt(impl_->session);
    stmt << "UPDATE agents SET deployed_version = ?, updated_at_ms = ? WHERE agent_id = ?"
            " AND EXISTS (SELECT 1 FROM agent_versions WHERE agent_id = ? AND version = ?)",
        bind(version), bind(nowMs()), bind(agent_id), bind(agent_id), bind(version);
    return stmt.execute() > 0;
  });
}

bool SqliteStorage::undeploy(const std::string& agent_id) {
  return impl_->run("undeploy", [&] {
    Statement stmt(impl_->session);
    stmt << "UPDATE agents SET deployed_version = NULL, updated_at_ms = ? WHERE agent_id = ?",
        bind(nowMs()), bind(agent_id);
    return stmt.execute() > 0;
  });
}

std::optional<AgentVersion> SqliteStorage::getVersion(const std::string& agent_id,
                                                      std::int64_t version) {
  return impl_->run("getVersion", [&]() -> std::optional<AgentVersion> {
    std::vector<std::string> definition;
    std::vector<Int64> created_at_ms;
    impl_->session << "SELECT definition, created_at_ms FROM agent_versions"
                      " WHERE agent_id = ? AND version = ?",
        bind(agent_id), bind(version), into(definition), into(created_at_ms), now;
    if (definition.empty()) return std::nullopt;
    AgentVersion result;
    result.agent_id = agent_id;
    result.version = version;
    result.definition = Json::parse(definition.front());
    result.created_at_ms = created_at_ms.front();
    return result;
  });
}

// ---- jobs ----

std::pair<JobRecord, bool> SqliteStorage::Impl::insertJob(const JobRecord& job,
                                                          const std::string& idempotency_key,
                                                          Int64 now_ms) {
  if (!idempotency_key.empty()) {
    std::vector<std::string> existing_id;
    std::vector<Int64> existing_created;
    session << "SELECT job_id, created_at_ms FROM jobs"
               " WHERE created_by = ? AND idempotency_key = ?",
        bind(job.created_by), bind(idempotency_key), into(existing_id), into(existing_created), now;
    if (!existing_id.empty()) {
      if (existing_created.front() >= now_ms - kIdempotencyWindowMs) {
        std::optional<JobRecord> existing = loadJob(existing_id.front());
        return {std::move(*existing), false};
      }
      // The key expired: the old job gives it up, which keeps the UNIQUE index a plain one.
      session << "UPDATE jobs SET idempotency_key = NULL WHERE job_id = ?",
          bind(existing_id.front()), now;
    }
  }
  JobRecord stored = job;
  if (stored.created_at_ms == 0) stored.created_at_ms = now_ms;
  static const std::string kInsert =
      std::string("INSERT INTO jobs (") + kJobColumns +
      ", idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
  Prepared insert = prepared.use(kInsert);
  insert.bind(stored.job_id)
      .bind(stored.agent_id)
      .bind(stored.blueprint_id)
      .bind(stored.agent_version)
      .bind(stored.status)
      .bind(toText(stored.payload))
      .bind(stored.artifact)
      .bind(stored.error)
      .bind(stored.created_at_ms)
      .bind(stored.started_at_ms)
      .bind(stored.finished_at_ms)
      .bind(static_cast<Int64>(stored.attempts))
      .bind(toText(stored.trace))
      .bind(stored.lease_token)
      .bind(stored.lease_until_ms)
      .bind(static_cast<Int64>(stored.cancel_requested ? 1 : 0))
      .bind(stored.created_by)
      .bind(idempotency_key.empty() ? std::optional<std::string>() : idempotency_key)
      .run();
  return {std::move(stored), true};
}

void SqliteStorage::Impl::inTransaction(const std::function<void()>& body) {
  // WriteTransaction's statements, prepared once.
  prepared.use("BEGIN IMMEDIATE").run();
  try {
    body();
    prepared.use("COMMIT").run();
  } catch (...) {
    try {
      prepared.use("ROLLBACK").run();
    } catch (...) {
      // SQLite may already have rolled back (e.g. after an I/O error); nothing left to undo.
    }
    throw;
  }
}

void SqliteStorage::Impl::commitWrites(const std::vector<PendingWrite*>& batch) {
  try {
    run("group commit", [&] {
      const Int64 now_ms = nowMs();
      // One fsync for the whole batch.
      inTransaction([&] {
        for (PendingWrite* p : batch) p->apply(now_ms);
      });
    });
    return;
  } catch (const std::exception&) {
    // Rolled back: no write of the batch is stored. Commit them one by one, so that one bad
    // write fails alone and the others still get their answer.
  }
  for (PendingWrite* p : batch) {
    try {
      run(p->op, [&] { inTransaction([&] { p->apply(nowMs()); }); });
    } catch (...) {
      p->error = std::current_exception();
    }
  }
}

void SqliteStorage::Impl::groupCommit(PendingWrite& mine) {
  // Group commit: every write is durable (synchronous=FULL) before this returns, but callers
  // that arrive while a commit is being synced wait for the next one and share its fsync.
  // Whoever finds no commit in progress leads the next batch; the rest sleep until theirs is
  // done, or until the leader before them hands them the lead. New jobs, finishes and claims
  // share batches: a host that accepts and runs jobs at once pays one fsync for all of them.
  bool lead = false;
  {
    std::lock_guard<std::mutex> lock(batch_mutex);
    pending_writes.push_back(&mine);
    lead = !batch_leader;
    batch_leader = true;
  }
  if (!lead) {
    std::unique_lock<std::mutex> lock(mine.mutex);
    mine.changed.wait(lock, [&] { return mine.state != PendingWrite::State::kWaiting; });
    lead = mine.state == PendingWrite::State::kLead;
  }
  if (lead) {
    std::vector<PendingWrite*> batch;
    {
      std::lock_guard<std::mutex> lock(batch_mutex);
      batch.swap(pending_writes);  // mine among them
    }
    commitWrites(batch);
    PendingWrite* next_leader = nullptr;
    {
      std::lock_guard<std::mutex> lock(batch_mutex);
      if (pending_writes.empty())
        batch_leader = false;
      else
        next_leader = pending_writes.front();
    }
    // The next batch starts before this one's writers are told; none of them is touched once
    // told (each returns and destroys its PendingWrite).
    if (next_leader != nullptr) next_leader->tell(PendingWrite::State::kLead);
    for (PendingWrite* p : batch)
      if (p != &mine) p->tell(PendingWrite::State::kDone);
  }
  if (mine.error) std::rethrow_exception(mine.error);
}

std::pair<JobRecord, bool> SqliteStorage::createJob(const JobRecord& job,
                                                    const std::string& idempotency_key) {
  std::optional<std::pair<JobRecord, bool>> result;
  Impl::PendingWrite mine;
  mine.op = "createJob";
  mine.apply = [&](Int64 now_ms) { result = impl_->insertJob(job, idempotency_key, now_ms); };
  impl_->groupCommit(mine);
  return std::move(*result);
}

void SqliteStorage::putJob(const JobRecord& job) {
  impl_->run("putJob", [&] { Impl::upsertJob(impl_->session, job); });
}

void SqliteStorage::putFinishedRuns(const std::vector<FinishedRun>& runs) {
  if (runs.empty()) return;
  impl_->run("putFinishedRuns", [&] {
    WriteTransaction tx(impl_->session);
    for (const FinishedRun& run : runs) {
      Impl::upsertJob(impl_->session, run.job);
      if (!run.events.empty()) impl_->insertEvents(run.job.job_id, run.events);
    }
    tx.commit();
  });
}

std::optional<JobRecord> SqliteStorage::getJob(const std::string& job_id) {
  return impl_->run("getJob", [&] { return impl_->loadJob(job_id); });
}

JobPage SqliteStorage::listJobs(const JobQuery& query) {
  return impl_->run("listJobs", [&] {
    std::string where = " WHERE 1 = 1";
    if (!query.agent_id.empty()) where += " AND agent_id = ?";
    if (query.status) where += " AND status = ?";
    if (query.created_by) where += " AND created_by = ?";
    const auto bind_filter = [&](Statement& stmt) {
      if (!query.agent_id.empty()) stmt.addBind(bind(query.agent_id));
      if (query.status) stmt.addBind(bind(*query.status));
      if (query.created_by) stmt.addBind(bind(*query.created_by));
    };

    JobPage page;
    Statement count(impl_->session);
    count << "SELECT COUNT(*) FROM jobs" << where;
    bind_filter(count);
    count.addExtract(into(page.total));
    count.execute();

    // LIMIT -1 is SQLite for "no limit", which is what a negative limit means here too.
    Statement select(impl_->session);
    select << "SELECT " << kJobColumns << " FROM jobs" << where
           << " ORDER BY created_at_ms DESC, job_id DESC LIMIT ? OFFSET ?";
    bind_filter(select);
    select.addBind(bind(query.limit < 0 ? Int64(-1) : query.limit));
    select.addBind(bind(query.offset < 0 ? Int64(0) : query.offset));
    page.jobs = Impl::fetchJobs(select);
    return page;
  });
}

std::int64_t SqliteStorage::countQueued() {
  return impl_->run("countQueued", [&] {
    Int64 count = 0;
    impl_->session << "SELECT COUNT(*) FROM jobs WHERE status = ?",
        bind(std::string(job_status::kQueued)), into(count), now;
    return count;
  });
}

std::vector<JobRecord> SqliteStorage::Impl::claimIn(std::chrono::milliseconds lease,
                                                    std::size_t max_jobs, Int64 now_ms) {
  if (max_jobs == 0) return {};
  const Int64 limit = static_cast<Int64>(max_jobs);
  // Two index walks (status, created_at_ms) instead of one OR, then the oldest of both.
  std::vector<std::pair<Int64, std::string>> candidates;
  {
    Prepared queued = prepared.use(
        "SELECT created_at_ms, job_id FROM jobs WHERE status = ?"
        " ORDER BY created_at_ms, job_id LIMIT ?");
    queued.bind(job_status::kQueued).bind(limit);
    while (queued.step()) candidates.emplace_back(queued.int64(0), queued.text(1));
  }
  {
    Prepared expired = prepared.use(
        "SELECT created_at_ms, job_id FROM jobs WHERE status = ? AND lease_until_ms < ?"
        " ORDER BY created_at_ms, job_id LIMIT ?");
    expired.bind(job_status::kInProgress).bind(now_ms).bind(limit);
    while (expired.step()) candidates.emplace_back(expired.int64(0), expired.text(1));
  }
  std::sort(candidates.begin(), candidates.end());
  if (candidates.size() > max_jobs) candidates.resize(max_jobs);
  if (candidates.empty()) return {};

  // Tokens last+1 … last+n, one per job in claim order, from the one counter row.
  const Int64 n = static_cast<Int64>(candidates.size());
  Int64 token = 0;
  {
    Prepared counter = prepared.use(
        "UPDATE lease_counter SET last_token = last_token + ? WHERE id = 1 RETURNING last_token");
    counter.bind(n);
    if (!counter.step()) throw SqliteError(SQLITE_CORRUPT, "the lease_counter row is missing");
    token = counter.int64(0) - n;
  }
  static const std::string kClaim =
      std::string(
          "UPDATE jobs SET status = ?, attempts = attempts + 1,"
          " started_at_ms = COALESCE(started_at_ms, ?), lease_token = ?,"
          " lease_until_ms = ? WHERE job_id = ? RETURNING ") +
      kJobColumns;
  std::vector<JobRecord> claimed;
  claimed.reserve(candidates.size());
  for (const auto& candidate : candidates) {
    Prepared claim = prepared.use(kClaim);
    claim.bind(job_status::kInProgress)
        .bind(now_ms)
        .bind(++token)
        .bind(now_ms + static_cast<Int64>(lease.count()))
        .bind(candidate.second);
    if (!claim.step())
      throw SqliteError(SQLITE_CORRUPT, "claimed job " + candidate.second + " vanished");
    claimed.push_back(claim.job());
  }
  return claimed;
}

std::vector<JobRecord> SqliteStorage::claimJobs(std::chrono::milliseconds lease,
                                                std::size_t max_jobs) {
  if (max_jobs == 0) return {};
  // Claims share group commits with creates and finishes: idle workers claiming at once, or a
  // claim beside a burst of submits, pay one fsync together.
  std::vector<JobRecord> claimed;
  Impl::PendingWrite mine;
  mine.op = "claimJobs";
  mine.apply = [&](Int64 now_ms) { claimed = impl_->claimIn(lease, max_jobs, now_ms); };
  impl_->groupCommit(mine);
  return claimed;
}

std::size_t SqliteStorage::unclaimJobs(
    const std::vector<std::pair<std::string, std::int64_t>>& claims) {
  if (claims.empty()) return 0;
  return impl_->run("unclaimJobs", [&]() -> std::size_t {
    WriteTransaction tx(impl_->session);
    std::size_t handed_back = 0;
    for (const auto& [job_id, token] : claims) {
      // SET reads the row as it was: `attempts <= 1` is the count before this update.
      Statement update(impl_->session);
      update << "UPDATE jobs SET status = ?, attempts = MAX(attempts - 1, 0),"
                " started_at_ms = CASE WHEN attempts <= 1 THEN NULL ELSE started_at_ms END,"
                " lease_token = 0, lease_until_ms = NULL"
                " WHERE job_id = ? AND lease_token = ? AND status = ?",
          bind(std::string(job_status::kQueued)), bind(job_id), bind(Int64(token)),
          bind(std::string(job_status::kInProgress));
      handed_back += update.execute();
    }
    tx.commit();
    return handed_back;
  });
}

bool SqliteStorage::renewLease(const std::string& job_id, std::int64_t lease_token,
                               std::chrono::milliseconds lease, bool* cancel_requested) {
  return impl_->run("renewLease", [&] {
    Statement update(impl_->session);
    update << "UPDATE jobs SET lease_until_ms = ?"
              " WHERE job_id = ? AND lease_token = ? AND status = ?",
        bind(nowMs() + static_cast<Int64>(lease.count())), bind(job_id), bind(lease_token),
        bind(std::string(job_status::kInProgress));
    const bool renewed = update.execute() > 0;
    if (cancel_requested != nullptr) {
      std::vector<Int64> flag;
      impl_->session << "SELECT cancel_requested FROM jobs WHERE job_id = ?", bind(job_id),
          into(flag), now;
      *cancel_requested = !flag.empty() && flag.front() != 0;
    }
    return renewed;
  });
}

bool SqliteStorage::Impl::writeFinish(const JobRecord& job, Int64 lease_token,
                                      const std::vector<std::string>& events, Int64 now_ms) {
  // One conditional UPDATE: the fencing check and the write cannot be split by a takeover.
  // The events go in the same transaction, and only when the UPDATE found the job, so a stale
  // attempt writes nothing. Retention deletes by finished_at, so a finished job always gets
  // one; a job handed back to the queue keeps none.
  std::optional<std::int64_t> finished_at = job.finished_at_ms;
  if (!finished_at && (job.status == job_status::kCompleted || job.status == job_status::kError ||
                       job.status == job_status::kCancelled)) {
    finished_at = now_ms;
  }
  Prepared update = prepared.use(
      "UPDATE jobs SET status = ?, artifact = ?, error = ?, trace = ?, finished_at_ms = ?"
      " WHERE job_id = ? AND lease_token = ? AND status = ?");
  update.bind(job.status)
      .bind(job.artifact)
      .bind(job.error)
      .bind(toText(job.trace))
      .bind(finished_at)
      .bind(job.job_id)
      .bind(lease_token)
      .bind(job_status::kInProgress);
  if (update.run() == 0) return false;
  if (!events.empty()) insertEvents(job.job_id, events);
  return true;
}

bool SqliteStorage::finishJob(const JobRecord& job, std::int64_t lease_token,
                              const std::vector<std::string>& events) {
  // Finishes of every worker share group commits (with new jobs too): each is its own fenced
  // write, so one whose token lost the job writes nothing while the others of its batch do,
  // and each caller returns once its own write is durable.
  bool written = false;
  Impl::PendingWrite mine;
  mine.op = "finishJob";
  mine.apply = [&](Int64 now_ms) {
    written = impl_->writeFinish(job, lease_token, events, now_ms);
  };
  impl_->groupCommit(mine);
  return written;
}

Storage::FinishAndClaim SqliteStorage::finishJobAndClaim(const JobRecord& job,
                                                         std::int64_t lease_token,
                                                         const std::vector<std::string>& events,
                                                         std::chrono::milliseconds lease,
                                                         std::size_t max_jobs) {
  FinishAndClaim result;
  Impl::PendingWrite mine;
  mine.op = "finishJobAndClaim";
  mine.apply = [&](Int64 now_ms) {
    result.written = impl_->writeFinish(job, lease_token, events, now_ms);
    result.claimed = impl_->claimIn(lease, max_jobs, now_ms);
  };
  impl_->groupCommit(mine);
  return result;
}

std::optional<JobRecord> SqliteStorage::requestCancel(const std::string& job_id) {
  return impl_->run("requestCancel", [&] {
    Session& session = impl_->session;
    WriteTransaction tx(session);
    session << "UPDATE jobs SET status = ?, cancel_requested = 1, finished_at_ms = ?"
               " WHERE job_id = ? AND status = ?",
        bind(std::string(job_status::kCancelled)), bind(nowMs()), bind(job_id),
        bind(std::string(job_status::kQueued)), now;
    session << "UPDATE jobs SET cancel_requested = 1 WHERE job_id = ? AND status = ?", bind(job_id),
        bind(std::string(job_status::kInProgress)), now;
    std::optional<JobRecord> job = impl_->loadJob(job_id);
    tx.commit();
    return job;
  });
}

std::pair<std::optional<JobRecord>, bool> SqliteStorage::retryJob(const std::string& job_id) {
  return impl_->run("retryJob", [&]() -> std::pair<std::optional<JobRecord>, bool> {
    Session& session = impl_->session;
    WriteTransaction tx(session);
    std::optional<JobRecord> job = impl_->loadJob(job_id);
    if (!job || job->status != job_status::kError) return {std::move(job), false};
    // A retry is a fresh run: no lease holds it, an old cancel must not stop it, and its trace
    // and event stream start empty (a reader must not replay the failed run's [DONE]).
    session << "UPDATE jobs SET status = ?, artifact = NULL, error = NULL, finished_at_ms = NULL,"
               " lease_token = 0, lease_until_ms = NULL, cancel_requested = 0, trace = ?"
               " WHERE job_id = ?",
        bind(std::string(job_status::kQueued)), bind(toText(Json::array())), bind(job_id), now;
    session << "DELETE FROM job_events WHERE job_id = ?", bind(job_id), now;
    job = impl_->loadJob(job_id);
    tx.commit();
    return {std::move(job), true};
  });
}

std::int64_t SqliteStorage::deleteFinishedBefore(std::int64_t cutoff_ms, std::int64_t batch) {
  return impl_->run("deleteFinishedBefore", [&]() -> std::int64_t {
    if (batch <= 0) return 0;
    Session& session = impl_->session;
    WriteTransaction tx(session);
    // Oldest finished first, so repeated batches walk forward in time. The unary + keeps the
    // planner off the status index, which would read every finished job and sort them.
    std::vector<std::string> ids;
    session << "SELECT job_id FROM jobs WHERE +status IN (?, ?, ?) AND finished_at_ms < ?"
               " ORDER BY finished_at_ms, job_id LIMIT ?",
        bind(std::string(job_status::kCompleted)), bind(std::string(job_status::kError)),
        bind(std::string(job_status::kCancelled)), bind(cutoff_ms), bind(batch), into(ids), now;
    if (ids.empty()) return 0;
    // A vector binding runs the statement once per id.
    session << "DELETE FROM job_events WHERE job_id = ?", use(ids), now;
    session << "DELETE FROM jobs WHERE job_id = ?", use(ids), now;
    tx.commit();
    return static_cast<std::int64_t>(ids.size());
  });
}

// ---- job events ----

void SqliteStorage::appendEvents(const std::string& job_id,
                                 const std::vector<std::string>& events) {
  if (events.empty()) return;
  impl_->run("appendEvents", [&] {
    WriteTransaction tx(impl_->session);
    impl_->insertEvents(job_id, events);
    tx.commit();
  });
}

std::vector<std::string> SqliteStorage::loadEvents(const std::string& job_id,
                                                   std::int64_t from_seq) {
  return impl_->run("loadEvents", [&] {
    std::vector<BLOB> data;
    impl_->session << "SELECT data FROM job_events WHERE job_id = ? AND seq >= ? ORDER BY seq",
        bind(job_id), bind(from_seq), into(data), now;
    std::vector<std::string> events;
    events.reserve(data.size());
    for (const BLOB& blob : data) events.push_back(fromBlob(blob));
    return events;
  });
}

// ---- kv ----

std::optional<Json> SqliteStorage::kvGet(const std::string& agent_id, const std::string& key) {
  return impl_->run("kvGet", [&]() -> std::optional<Json> {
    std::vector<std::string> value;
    impl_->session << "SELECT value FROM kv WHERE agent_id = ? AND key = ?", bind(agent_id),
        bind(key), into(value), now;
    if (value.empty()) return std::nullopt;
    return Json::parse(value.front());
  });
}

void SqliteStorage::kvSet(const std::string& agent_id, const std::string& key, const Json& value) {
  impl_->run("kvSet", [&] {
    impl_->session << "INSERT INTO kv (agent_id, key, value) VALUES (?, ?, ?)"
                      " ON CONFLICT (agent_id, key) DO UPDATE SET value = excluded.value",
        bind(agent_id), bind(key), bind(toText(value)), now;
  });
}

bool SqliteStorage::kvDelete(const std::string& agent_id, const std::string& key) {
  return impl_->run("kvDelete", [&] {
    Statement stmt(impl_->session);
    stmt << "DELETE FROM kv WHERE agent_id = ? AND key = ?", bind(agent_id), bind(key);
    return stmt.execute() > 0;
  });
}

}  // namespace blueprint::host
