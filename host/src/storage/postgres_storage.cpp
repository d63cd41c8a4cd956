// SPDX-License-Identifier: Apache-2.0
// postgres_storage.cpp: the `postgresql://` backend on Poco::Data::PostgreSQL (DESIGN §6).
//
// Same semantics as sqlite_storage.cpp; what differs is how concurrency is handled. SQLite has one
// writer, so that backend serialises everything behind a mutex. Here many threads of many hosts
// write at once, so every public method runs under Impl::run on a pooled connection of its own,
// and each write is either one statement whose WHERE clause is its own check (claimJob,
// finishJob, renewLease, requestCancel: the fencing check and the write cannot be split by a
// takeover; finishJob's events follow that statement in its transaction) or a short READ
// COMMITTED transaction that locks the rows it reads.
//
// Two Poco 1.11 quirks shape the code (checked against Debian 12's libpocodatapostgresql80):
//  - parameters travel as NUL-terminated text, and an empty BLOB is bound as SQL NULL, so byte
//    strings go as bytea hex text (`\x…`, cast with `$n::bytea`) and come back through BLOB;
//  - the connection string is split at spaces before libpq sees it, so no value may hold one.
// Query text uses `$n` placeholders (Poco hands it to PQprepare unchanged).
#include "storage/postgres_storage.hpp"

#include <Poco/Data/LOB.h>
#include <Poco/Data/PostgreSQL/Connector.h>
#include <Poco/Data/PostgreSQL/SessionImpl.h>
#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>
#include <Poco/Exception.h>
#include <Poco/Nullable.h>
#include <Poco/URI.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>
#include <tuple>
#include <utility>

#include "storage/job_rows.hpp"
#include "storage/storage_url.hpp"

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

using Clock = std::chrono::steady_clock;

constexpr std::size_t kDefaultPoolSize = 8;
constexpr std::size_t kMaxPoolSize = 1000;
/// How long a call waits for a pooled connection before it fails (all of them busy).
constexpr std::chrono::seconds kPoolWait{30};
/// libpq's connect_timeout unless the URL sets one (also Poco's login timeout).
constexpr std::size_t kLoginTimeoutSeconds = 10;
/// The listener's connect attempt bound, and its retry delays after a failure.
constexpr std::chrono::seconds kListenConnectTimeout{10};
constexpr std::chrono::milliseconds kListenRetryFirst{250};
constexpr std::chrono::milliseconds kListenRetryMax{5000};

/// Advisory lock keys: (class, id) pairs of pg_advisory_xact_lock(int, int). The class keeps our
/// locks apart from any other application's on the same database.
constexpr const char* kLockClass = "1112559700";  // "BP" in ASCII, times 10^4 + 0
constexpr const char* kMigrationLockId = "1";

/// One schema version: its statements are applied together, in one transaction, and recorded in
/// schema_migrations. Never edit a released step; append a new one.
struct Migration {
  Int64 version;
  std::vector<const char*> statements;
};

// Why the column types:
//  - JSON (draft, definition, payload, trace, kv value) is TEXT, not JSONB: nothing queries
//    inside it, the host parses it anyway, TEXT round-trips byte for byte like SQLite, and JSONB
//    would reject a payload holding "\u0000" (the job must be accepted) and renormalise numbers.
//  - Free text written by blocks (artifact, error, event data) is BYTEA: TEXT refuses NUL bytes
//    and invalid UTF-8, and the contract stores these strings exactly.
//  - Keys are COLLATE "C": byte order, as SQLite sorts, whatever the database's locale (a
//    linguistic collation ignores '-' and would reorder the job_id tie-break of listJobs); it is
//    also the cheapest comparison.
//  - Times and tokens are BIGINT (milliseconds since the epoch overflow INTEGER).
const std::vector<Migration>& migrations() {
  static const std::vector<Migration> kMigrations = {
      {1,
       {
           "CREATE TABLE agents ("
           " agent_id TEXT COLLATE \"C\" PRIMARY KEY,"
           " draft TEXT NOT NULL,"
           " deployed_version BIGINT,"
           " latest_version BIGINT NOT NULL DEFAULT 0,"
           " updated_at_ms BIGINT NOT NULL)",

           "CREATE TABLE agent_versions ("
           " agent_id TEXT COLLATE \"C\" NOT NULL REFERENCES agents (agent_id) ON DELETE CASCADE,"
           " version BIGINT NOT NULL,"
           " definition TEXT NOT NULL,"
           " created_at_ms BIGINT NOT NULL,"
           " PRIMARY KEY (agent_id, version))",

           // No foreign key to agents: jobs outlive their agent (deleteAgent keeps them).
           "CREATE TABLE jobs ("
           " job_id TEXT COLLATE \"C\" PRIMARY KEY,"
           " agent_id TEXT COLLATE \"C\" NOT NULL,"
           " blueprint_id TEXT NOT NULL,"
           " agent_version BIGINT NOT NULL,"
           " status TEXT COLLATE \"C\" NOT NULL,"
           " payload TEXT NOT NULL,"
           " artifact BYTEA,"
           " error BYTEA,"
           " created_at_ms BIGINT NOT NULL,"
           " started_at_ms BIGINT,"
           " finished_at_ms BIGINT,"
           " attempts INTEGER NOT NULL DEFAULT 0,"
           " trace TEXT NOT NULL,"
           " lease_token BIGINT NOT NULL DEFAULT 0,"
           " lease_until_ms BIGINT,"
           " cancel_requested BOOLEAN NOT NULL DEFAULT FALSE,"
           " created_by TEXT COLLATE \"C\" NOT NULL,"
           " idempotency_key TEXT COLLATE \"C\")",

           // job_id ends each ordering index so the tie-breaks are read from the index.
           "CREATE INDEX jobs_by_agent ON jobs (agent_id, created_at_ms DESC, job_id DESC)",
           "CREATE INDEX jobs_by_status ON jobs (status, created_at_ms, job_id)",
           // claimJob walks this in order and stops at the first row it can lock; only
           // unfinished jobs are in it, so finished history does not slow claims down.
           "CREATE INDEX jobs_claimable ON jobs (created_at_ms, job_id)"
           " WHERE status IN ('queued', 'in_progress')",
           // The arbiter of createJob's ON CONFLICT: one live key per creator.
           "CREATE UNIQUE INDEX jobs_idempotency ON jobs (created_by, idempotency_key)"
           " WHERE idempotency_key IS NOT NULL",
           // Retention (deleteFinishedBefore) walks finished jobs by finished_at.
           "CREATE INDEX jobs_by_finished ON jobs (finished_at_ms, job_id)"
           " WHERE finished_at_ms IS NOT NULL",

           // No foreign key to jobs: a sync run may stream events before its job row exists.
           "CREATE TABLE job_events ("
           " job_id TEXT COLLATE \"C\" NOT NULL,"
           " seq BIGINT NOT NULL,"
           " data BYTEA NOT NULL,"
           " PRIMARY KEY (job_id, seq))",

           "CREATE TABLE kv ("
           " agent_id TEXT COLLATE \"C\" NOT NULL,"
           " key TEXT COLLATE \"C\" NOT NULL,"
           " value TEXT NOT NULL,"
           " PRIMARY KEY (agent_id, key))",

           // Lease tokens: a sequence, not MAX(lease_token) + 1, because tokens must keep
           // growing after the job that held the highest one is deleted, and nextval() never
           // blocks concurrent claimers (its values are not rolled back, which only leaves gaps).
           "CREATE SEQUENCE lease_tokens AS BIGINT START WITH 1",
       }},
      // agentsRevision(): hosts cache which version of each agent is deployed and compare this
      // one number to learn that another host changed an agent. A row, not a sequence, because
      // a sequence moves before its transaction commits: a host could see the new number, read
      // the old rows and keep them as current. A statement trigger bumps it inside the very
      // transaction of every change, so no write path can forget to.
      {2,
       {
           "CREATE TABLE agents_revision ("
           " singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),"
           " revision BIGINT NOT NULL)",
           "INSERT INTO agents_revision (revision) VALUES (0)",
           "CREATE FUNCTION bump_agents_revision() RETURNS trigger LANGUAGE plpgsql AS"
           " 'BEGIN UPDATE agents_revision SET revision = revision + 1; RETURN NULL; END'",
           "CREATE TRIGGER agents_changed AFTER INSERT OR UPDATE OR DELETE ON agents"
           " FOR EACH STATEMENT EXECUTE FUNCTION bump_agents_revision()",
       }},
      // A key that is not an admin lists only the jobs it created (issue 11, Tenancy): this
      // index serves that page in order, however many jobs other keys have on the agent.
      {3,
       {
           "CREATE INDEX jobs_by_agent_creator"
           " ON jobs (agent_id, created_by, created_at_ms DESC, job_id DESC)",
       }},
  };
  return kMigrations;
}

const char* const kJobColumns = job_rows::kColumns;

/// Placeholders matching kJobColumns for bindJob (artifact and error arrive as bytea hex text).
const char* const kJobValues =
    "$1, $2, $3, $4, $5, $6, $7::bytea, $8::bytea, $9, $10, $11, $12, $13, $14, $15, $16, $17";

const char* const kAgentColumns =
    "agent_id, draft, deployed_version, latest_version, updated_at_ms";

/// A status as an SQL literal. Statuses are written into the query text rather than bound so the
/// planner can match the partial jobs_claimable index, whose predicate names them.
std::string literal(const char* status) { return std::string("'") + status + "'"; }

/// Bytes as bytea hex input (`\x616263`), bound as text and cast with `$n::bytea` (see the top).
std::string toByteaHex(const std::string& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex = "\\x";
  hex.reserve(2 + 2 * bytes.size());
  for (const char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    hex.push_back(kDigits[byte >> 4]);
    hex.push_back(kDigits[byte & 0x0f]);
  }
  return hex;
}

Poco::Nullable<std::string> toByteaHex(const std::optional<std::string>& bytes) {
  return bytes ? Poco::Nullable<std::string>(toByteaHex(*bytes)) : Poco::Nullable<std::string>();
}

bool isFinished(const std::string& status) {
  return status == job_status::kCompleted || status == job_status::kError ||
         status == job_status::kCancelled;
}

// ---- the URL ----

/// What the constructor needs from the URL.
struct ConnectionSettings {
  /// `key=value …` for Poco (and the listener's libpq connection).
  std::string conninfo;
  /// The URL without its password and query, for messages.
  std::string display;
  std::size_t pool_size = kDefaultPoolSize;
  /// Strings that must never appear in a message (the password, raw and decoded).
  std::vector<std::string> secrets;
};

/// Replaces every secret in `text` with `***`. libpq and Poco do not echo passwords; this is the
/// second line of defence. Secrets shorter than 4 bytes are left alone: masking every "a" of a
/// message would hide the message, and such a password is no secret anyway.
std::string scrub(std::string text, const std::vector<std::string>& secrets) {
  for (const std::string& secret : secrets) {
    if (secret.size() < 4) continue;
    for (std::size_t at = text.find(secret); at != std::string::npos;
         at = text.find(secret, at + 3)) {
      text.replace(at, secret.size(), "***");
    }
  }
  return text;
}

ConnectionSettings parseUrl(const std::string& url) {
  ConnectionSettings settings;
  RedactedUrl redacted = redactStorageUrl(url);
  settings.display = std::move(redacted.display);
  settings.secrets.push_back(std::move(redacted.secret));
  const auto fail = [&](const std::string& why) {
    throw StorageError("storage URL '" + settings.display + "': " + scrub(why, settings.secrets));
  };
  // RFC 3986 user information ends at the first '/', '?' or '#' and holds no '@': a password
  // with any of them, unencoded, makes the URL mean something else (the rest of the password
  // becomes the path or the query). Refused before parsing, so no part of it is ever echoed.
  {
    const std::size_t authority = url.find("://");
    const std::size_t begin = authority == std::string::npos ? 0 : authority + 3;
    const std::size_t authority_end = std::min(url.find_first_of("/?#", begin), url.size());
    const std::size_t first_at = url.find('@', begin);
    if (first_at != std::string::npos &&
        (first_at >= authority_end || url.find('@', first_at + 1) != std::string::npos))
      fail(
          "the user name or password holds a character that must be percent-encoded ('/' as "
          "%2F, '?' as %3F, '#' as %23, '@' as %40), or an '@' follows the host (write it %40)");
  }

  Poco::URI uri;
  try {
    uri = Poco::URI(url);
  } catch (const Poco::Exception& e) {
    fail(e.displayText());
  }
  if (uri.getScheme() != "postgresql" && uri.getScheme() != "postgres") {
    fail("the scheme must be postgresql:// or postgres://");
  }
  if (!uri.getFragment().empty()) fail("a PostgreSQL URL has no #fragment");

  // Poco keeps the user info encoded, so a ':' inside the encoded user name cannot split it.
  std::string user;
  std::string password;
  const std::string& user_info = uri.getUserInfo();
  const std::size_t colon = user_info.find(':');
  try {
    Poco::URI::decode(user_info.substr(0, colon), user);
    if (colon != std::string::npos) Poco::URI::decode(user_info.substr(colon + 1), password);
  } catch (const Poco::Exception&) {
    fail("bad percent-encoding in the user name or password");
  }
  settings.secrets.push_back(password);
  std::string database = uri.getPath();
  if (!database.empty() && database.front() == '/') database.erase(0, 1);
  const unsigned short port = uri.getSpecifiedPort() != 0 ? uri.getSpecifiedPort() : 5432;

  std::vector<std::pair<std::string, std::string>> options;
  if (!uri.getHost().empty()) options.emplace_back("host", uri.getHost());
  options.emplace_back("port", std::to_string(port));
  if (!database.empty()) options.emplace_back("dbname", database);
  if (!user.empty()) options.emplace_back("user", user);
  if (!password.empty()) options.emplace_back("password", password);
  bool has_application_name = false;
  bool has_connect_timeout = false;
  for (const auto& [key, value] : uri.getQueryParameters()) {
    if (key == "pool_size") {
      std::size_t parsed = 0;
      std::size_t used = 0;
      try {
        parsed = std::stoul(value, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used == 0 || used != value.size() || parsed < 1 || parsed > kMaxPoolSize) {
        fail("pool_size must be a whole number from 1 to " + std::to_string(kMaxPoolSize));
      }
      settings.pool_size = parsed;
      continue;
    }
    if (key.empty() || !std::all_of(key.begin(), key.end(), [](char c) {
          return std::islower(static_cast<unsigned char>(c)) || c == '_';
        })) {
      fail("'" + key + "' is not a libpq connection keyword");
    }
    if (key == "host" || key == "hostaddr" || key == "port" || key == "dbname" || key == "user" ||
        key == "password") {
      fail("give '" + key + "' in the URL itself, not as a query parameter");
    }
    if (key == "application_name") has_application_name = true;
    if (key == "connect_timeout") has_connect_timeout = true;
    options.emplace_back(key, value);
  }
  // Shows which connections are a host's in pg_stat_activity.
  if (!has_application_name) options.emplace_back("application_name", "blueprint-host");
  // Without it libpq waits for the kernel's TCP timeout (minutes) on an unreachable host.
  if (!has_connect_timeout) {
    options.emplace_back("connect_timeout", std::to_string(kLoginTimeoutSeconds));
  }

  for (const auto& [key, value] : options) {
    if (value.empty()) fail("'" + key + "' is empty");
    if (std::any_of(value.begin(), value.end(),
                    [](char c) { return std::isspace(static_cast<unsigned char>(c)); })) {
      // Poco 1.11 splits the connection string at spaces, and libpq ends an unquoted value at
      // any whitespace; a password can still come from PGPASSWORD or ~/.pgpass.
      fail("'" + key +
           "' contains whitespace, which the PostgreSQL connector cannot pass (for a "
           "password, leave it out of the URL and use PGPASSWORD or ~/.pgpass)");
    }
    // libpq reads backslash escapes in unquoted values; escaping ' too keeps a value that
    // starts with one from being read as a quoted value.
    std::string escaped;
    for (const char c : value) {
      if (c == '\\' || c == '\'') escaped.push_back('\\');
      escaped.push_back(c);
    }
    if (!settings.conninfo.empty()) settings.conninfo += ' ';
    settings.conninfo += key + "=" + escaped;
  }
  return settings;
}

// ---- connections ----

/// libpq prints NOTICEs (e.g. "relation already exists, skipping") to stderr by default.
void ignoreNotice(void*, const char*) {}

PGconn* pgconnOf(Session& session) {
  auto* impl = dynamic_cast<Poco::Data::PostgreSQL::SessionImpl*>(session.impl());
  return impl == nullptr ? nullptr : static_cast<PGconn*>(impl->handle());
}

/// Whether an idle session's server is still there. A server that ends a connection (a
/// restart, pg_terminate_backend) sends a FATAL message and closes the socket; reading what is
/// pending, without blocking, turns that into CONNECTION_BAD.
bool stillConnected(Session& session) {
  PGconn* conn = pgconnOf(session);
  if (conn == nullptr || PQstatus(conn) != CONNECTION_OK) return false;
  for (int read = 0; read < 3; ++read) {
    pollfd pending = {PQsocket(conn), POLLIN, 0};
    if (::poll(&pending, 1, 0) <= 0) break;
    if (PQconsumeInput(conn) == 0) return false;
  }
  return PQstatus(conn) == CONNECTION_OK;
}

/// A bounded pool of sessions, opened on demand. A caller past the bound waits for a session
/// instead of failing, unlike Poco::Data::SessionPool (which throws when exhausted); a session
/// whose connection broke, or that is left inside a transaction, is closed instead of reused.
class Pool {
 public:
  Pool(std::string conninfo, std::size_t max_size)
      : conninfo_(std::move(conninfo)), max_size_(max_size) {}

  /// A session for the caller's exclusive use; throws StorageError when connecting fails or
  /// every session stays busy for kPoolWait.
  std::unique_ptr<Session> acquire() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (true) {
      if (!freed_.wait_for(lock, kPoolWait, [&] { return !idle_.empty() || open_ < max_size_; })) {
        throw StorageError("no connection became free within " + std::to_string(kPoolWait.count()) +
                               " s (pool_size " + std::to_string(max_size_) + ")",
                           true);
      }
      if (idle_.empty()) break;
      std::unique_ptr<Session> session = std::move(idle_.back());
      idle_.pop_back();
      if (stillConnected(*session)) return session;
      // The server closed it while it sat idle (a restart, a failover, an idle timeout): the
      // caller gets a fresh connection instead of that error. PQreset reconnects the same
      // handle, which is clean (no transaction, no statements), and avoids Poco's leak of a
      // broken one; only when that fails is the session dropped.
      lock.unlock();
      if (PGconn* conn = pgconnOf(*session)) PQreset(conn);
      if (stillConnected(*session)) return session;
      session.reset();
      lock.lock();
      --open_;
    }
    ++open_;
    lock.unlock();
    try {
      // Poco 1.11 never frees the libpq handle of a connect that failed (~36 KB each time, and
      // a worker retries every poll while the server is down), so libpq tries first and Poco
      // only connects to a server that just let us in.
      std::unique_ptr<PGconn, void (*)(PGconn*)> probe(PQconnectdb(conninfo_.c_str()), PQfinish);
      if (!probe || PQstatus(probe.get()) != CONNECTION_OK) {
        std::string reason = probe ? PQerrorMessage(probe.get()) : "out of memory";
        while (!reason.empty() && std::isspace(static_cast<unsigned char>(reason.back()))) {
          reason.pop_back();
        }
        throw StorageError("cannot connect: " + reason, true);
      }
      probe.reset();
      auto session = std::make_unique<Session>(Poco::Data::PostgreSQL::Connector::KEY, conninfo_,
                                               kLoginTimeoutSeconds);
      if (PGconn* conn = pgconnOf(*session)) PQsetNoticeProcessor(conn, ignoreNotice, nullptr);
      return session;
    } catch (...) {
      lock.lock();
      --open_;
      freed_.notify_one();
      throw;
    }
  }

  void release(std::unique_ptr<Session> session) {
    const bool reusable = [&] {
      PGconn* conn = pgconnOf(*session);
      return conn != nullptr && PQstatus(conn) == CONNECTION_OK &&
             PQtransactionStatus(conn) == PQTRANS_IDLE && !session->isTransaction();
    }();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (reusable) {
        idle_.push_back(std::move(session));
      } else {
        --open_;
      }
      freed_.notify_one();
    }
    // A dropped session closes here, outside the lock. (Poco leaks the libpq handle of a
    // connection that broke, after libpq has closed its socket: a server restart costs each
    // pooled session one handle, once.)
  }

 private:
  const std::string conninfo_;
  const std::size_t max_size_;
  std::mutex mutex_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<Session>> idle_;
  std::size_t open_ = 0;
};

/// A pooled session held for one storage call.
class Connection {
 public:
  explicit Connection(Pool& pool) : pool_(pool), session_(pool.acquire()) {}
  ~Connection() { pool_.release(std::move(session_)); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  Session& session() { return *session_; }

 private:
  Pool& pool_;
  std::unique_ptr<Session> session_;
};

/// BEGIN … COMMIT, rolled back unless committed (READ COMMITTED: each statement sees what
/// committed before it started, and row locks serialise writers of the same rows).
class Transaction {
 public:
  explicit Transaction(Session& session) : session_(session) { session_.begin(); }
  ~Transaction() {
    if (committed_) return;
    try {
      session_.rollback();
    } catch (...) {
      // The connection is gone; Pool::release sees that and closes the session.
    }
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  void commit() {
    session_.commit();
    committed_ = true;
  }

 private:
  Session& session_;
  bool committed_ = false;
};

/// Announces new claimable work to every listening host; delivered when the transaction commits.
void notifyJobs(Session& session) { session << "NOTIFY " << PostgresStorage::kJobsChannel, now; }

// ---- waitForJobs ----

/// The LISTEN side of waitForJobs: a thread with its own libpq connection that turns
/// notifications into a generation count, which waiters compare against.
class Listener {
 public:
  explicit Listener(std::string conninfo) : conninfo_(std::move(conninfo)) {}
  ~Listener() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!started_) return;
      stopping_ = true;
    }
    const char byte = 0;
    // A full pipe already wakes the thread, so a failed write changes nothing.
    [[maybe_unused]] const ssize_t written = ::write(wake_write_, &byte, 1);
    thread_.join();
    ::close(wake_read_);
    ::close(wake_write_);
  }
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  bool wait(std::chrono::milliseconds timeout) {
    const Clock::time_point deadline = Clock::now() + timeout;
    std::unique_lock<std::mutex> lock(mutex_);
    if (!started_) start();
    // The first call waits (within its timeout) for LISTEN to be in place, so that a job created
    // after it returns is never missed.
    changed_.wait_until(lock, deadline, [&] { return attempted_ || stopping_; });
    const std::uint64_t seen = consumed_;
    const bool woken = changed_.wait_until(lock, deadline, [&] {
      return generation_ > seen || stopping_;
    }) && generation_ > seen;
    consumed_ = std::max(consumed_, generation_);
    return woken;
  }

 private:
  /// Called with mutex_ held.
  void start() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
      throw StorageError(std::string("cannot create the listener's wake pipe: ") +
                         std::strerror(errno));
    }
    wake_read_ = fds[0];
    wake_write_ = fds[1];
    try {
      thread_ = std::thread([this] { run(); });
    } catch (...) {
      ::close(wake_read_);
      ::close(wake_write_);
      wake_read_ = wake_write_ = -1;
      throw;
    }
    started_ = true;
  }

  void run() {
    PGconn* conn = nullptr;
    bool connected_before = false;
    std::chrono::milliseconds retry = kListenRetryFirst;
    while (!stopRequested()) {
      if (conn == nullptr) {
        conn = connect();
        {
          std::lock_guard<std::mutex> lock(mutex_);
          attempted_ = true;
          // After a reconnect, announcements made while we were away are lost: report one.
          if (conn != nullptr && connected_before) ++generation_;
        }
        changed_.notify_all();
        if (conn == nullptr) {
          if (!sleepUnlessStopped(retry)) break;
          retry = std::min(retry * 2, kListenRetryMax);
          continue;
        }
        connected_before = true;
        retry = kListenRetryFirst;
      }

      pollfd fds[2] = {{PQsocket(conn), POLLIN, 0}, {wake_read_, POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        break;
      }
      if (fds[1].revents != 0) break;
      bool notified = false;
      if (PQconsumeInput(conn) != 0) {
        while (PGnotify* notification = PQnotifies(conn)) {
          notified = true;
          PQfreemem(notification);
        }
      }
      if (notified) {
        {
          std::lock_guard<std::mutex> lock(mutex_);
          ++generation_;
        }
        changed_.notify_all();
      }
      if (PQstatus(conn) != CONNECTION_OK) {
        PQfinish(conn);
        conn = nullptr;
      }
    }
    if (conn != nullptr) PQfinish(conn);
  }

  bool stopRequested() {
    std::lock_guard<std::mutex> lock(mutex_);
    return stopping_;
  }

  /// Waits `delay` on the wake pipe; false when asked to stop.
  bool sleepUnlessStopped(std::chrono::milliseconds delay) {
    pollfd wake = {wake_read_, POLLIN, 0};
    const int ready = ::poll(&wake, 1, static_cast<int>(delay.count()));
    return !(ready > 0 || stopRequested());
  }

  /// Connects without blocking past kListenConnectTimeout or a stop request, then LISTENs.
  /// Returns nullptr on any failure (the caller retries).
  PGconn* connect() {
    PGconn* conn = PQconnectStart(conninfo_.c_str());
    if (conn == nullptr) return nullptr;
    const Clock::time_point deadline = Clock::now() + kListenConnectTimeout;
    PostgresPollingStatusType state = PGRES_POLLING_WRITING;
    while (PQstatus(conn) != CONNECTION_BAD && state != PGRES_POLLING_OK &&
           state != PGRES_POLLING_FAILED) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) break;
      pollfd fds[2] = {{PQsocket(conn),
                        static_cast<short>(state == PGRES_POLLING_READING ? POLLIN : POLLOUT), 0},
                       {wake_read_, POLLIN, 0}};
      const int ready = ::poll(fds, 2, static_cast<int>(left.count()));
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0 || fds[1].revents != 0) break;
      state = PQconnectPoll(conn);
    }
    if (state != PGRES_POLLING_OK || PQstatus(conn) != CONNECTION_OK) {
      PQfinish(conn);
      return nullptr;
    }
    PQsetNoticeProcessor(conn, ignoreNotice, nullptr);
    PGresult* result =
        PQexec(conn, (std::string("LISTEN ") + PostgresStorage::kJobsChannel).c_str());
    const bool listening = PQresultStatus(result) == PGRES_COMMAND_OK;
    PQclear(result);
    if (!listening) {
      PQfinish(conn);
      return nullptr;
    }
    return conn;
  }

  const std::string conninfo_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool started_ = false;
  bool stopping_ = false;
  /// The first connection attempt finished (either way).
  bool attempted_ = false;
  /// Bumped once per batch of notifications (and after a reconnect).
  std::uint64_t generation_ = 0;
  /// The generation the last wait() returned after; newer ones are reported to the next call.
  std::uint64_t consumed_ = 0;
  int wake_read_ = -1;
  int wake_write_ = -1;
  std::thread thread_;
};

}  // namespace

struct PostgresStorage::Impl {
  explicit Impl(ConnectionSettings connection)
      : settings(std::move(connection)),
        pool(settings.conninfo, settings.pool_size),
        listener(settings.conninfo) {}

  ConnectionSettings settings;
  Pool pool;
  Listener listener;

  /// Runs `body` on a pooled session; Poco and JSON failures become StorageError naming `op`.
  template <typename Body>
  auto run(const char* op, Body&& body) -> decltype(body(std::declval<Session&>())) {
    try {
      Connection connection(pool);
      return body(connection.session());
    } catch (const StorageError& e) {
      throw StorageError(prefix(op) + scrub(e.what(), settings.secrets), e.unavailable());
    } catch (const Poco::Exception& e) {
      throw StorageError(prefix(op) + scrub(e.displayText(), settings.secrets),
                         isUnavailableText(e.displayText()));
    } catch (const std::exception& e) {
      throw StorageError(prefix(op) + scrub(e.what(), settings.secrets));
    }
  }

  /// True for server messages that mean the database cannot serve now but may later: a full
  /// disk (SQLSTATE 53100), a lost or refused connection (issue 15).
  static bool isUnavailableText(const std::string& text) {
    for (const char* sign : {"No space left on device", "could not extend file", "disk full",
                             "server closed the connection", "terminating connection",
                             "could not connect", "no connection to the server"})
      if (text.find(sign) != std::string::npos) return true;
    return false;
  }

  std::string prefix(const char* op) const {
    return "postgresql storage '" + settings.display + "': " + op + " failed: ";
  }

  /// Applies pending migrations. The advisory lock makes hosts that open a fresh database
  /// together take turns: the first creates the schema, the others find it current.
  static void migrate(Session& session) {
    Transaction tx(session);
    session << "SELECT pg_advisory_xact_lock(" << kLockClass << ", " << kMigrationLockId << ")",
        now;
    session << "CREATE TABLE IF NOT EXISTS schema_migrations ("
               " version BIGINT PRIMARY KEY,"
               " applied_at_ms BIGINT NOT NULL)",
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
      session << "INSERT INTO schema_migrations (version, applied_at_ms) VALUES ($1, $2)",
          bind(migration.version), bind(nowMs()), now;
    }
    tx.commit();
  }

  /// Adds the JobRecord extractions to `stmt` (whose SELECT or RETURNING lists kJobColumns),
  /// runs it and returns the rows.
  static std::vector<JobRecord> fetchJobs(Statement& stmt) { return job_rows::fetch<bool>(stmt); }

  /// claimJobs inside the caller's session (and transaction, if any).
  static std::vector<JobRecord> claimIn(Session& session, std::chrono::milliseconds lease,
                                        std::size_t max_jobs);
  /// finishJob's conditional write and its events inside the caller's transaction; false when
  /// the token no longer holds the job (nothing written).
  static bool writeFinish(Session& session, const JobRecord& job, std::int64_t lease_token,
                          const std::vector<std::string>& events);

  static std::optional<JobRecord> firstJob(Statement& stmt) {
    std::vector<JobRecord> jobs = fetchJobs(stmt);
    if (jobs.empty()) return std::nullopt;
    return std::move(jobs.front());
  }

  /// Appends `events` after the job's last stored event, inside the caller's transaction.
  static void insertEvents(Session& session, const std::string& job_id,
                           const std::vector<std::string>& events) {
    if (events.empty()) return;
    // Poco binds no arrays, so each statement carries up to kChunk events as VALUES rows.
    constexpr std::size_t kChunk = 500;
    // Appenders of one job take turns (appendEvents and finishJob of the same job may meet),
    // so reading MAX(seq) and inserting after it cannot collide.
    session << "SELECT pg_advisory_xact_lock(" << kLockClass << ", hashtext($1))", bind(job_id),
        now;
    for (std::size_t first = 0; first < events.size(); first += kChunk) {
      const std::size_t count = std::min(kChunk, events.size() - first);
      Statement insert(session);
      insert << "INSERT INTO job_events (job_id, seq, data) SELECT $1, base.seq + v.i, v.data"
                " FROM (SELECT COALESCE(MAX(seq) + 1, 0) AS seq FROM job_events"
                " WHERE job_id = $1) AS base, (VALUES ";
      for (std::size_t i = 0; i < count; ++i) {
        insert << (i == 0 ? "" : ", ") << "(" << i << ", $" << (i + 2) << "::bytea)";
      }
      insert << ") AS v (i, data)";
      insert.addBind(bind(job_id));
      for (std::size_t i = 0; i < count; ++i) insert.addBind(bind(toByteaHex(events[first + i])));
      insert.execute();
    }
  }

  static std::optional<JobRecord> loadJob(Session& session, const std::string& job_id) {
    Statement stmt(session);
    stmt << "SELECT " << kJobColumns << " FROM jobs WHERE job_id = $1";
    stmt.addBind(bind(job_id));
    return firstJob(stmt);
  }

  /// An upsert keeps the idempotency key the job was created with.
  static void upsertJob(Session& session, const JobRecord& job) {
    Statement stmt(session);
    stmt << "INSERT INTO jobs (" << kJobColumns << ") VALUES (" << kJobValues << ")"
         << job_rows::kUpsertTail;
    bindJob(stmt, job);
    stmt.execute();
  }

  /// Binds every kJobColumns value of `job` as $1…$17, in order.
  static void bindJob(Statement& stmt, const JobRecord& job) {
    stmt.addBind(bind(job.job_id));
    stmt.addBind(bind(job.agent_id));
    stmt.addBind(bind(job.blueprint_id));
    stmt.addBind(bind(Int64(job.agent_version)));
    stmt.addBind(bind(job.status));
    stmt.addBind(bind(toText(job.payload)));
    stmt.addBind(bind(toByteaHex(job.artifact)));
    stmt.addBind(bind(toByteaHex(job.error)));
    stmt.addBind(bind(Int64(job.created_at_ms)));
    stmt.addBind(bind(toNullable(job.started_at_ms)));
    stmt.addBind(bind(toNullable(job.finished_at_ms)));
    stmt.addBind(bind(static_cast<Int64>(job.attempts)));
    stmt.addBind(bind(toText(job.trace)));
    stmt.addBind(bind(Int64(job.lease_token)));
    stmt.addBind(bind(toNullable(job.lease_until_ms)));
    stmt.addBind(bind(job.cancel_requested));
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

PostgresStorage::PostgresStorage(const std::string& url) {
  static std::once_flag registered;
  std::call_once(registered, [] { Poco::Data::PostgreSQL::Connector::registerConnector(); });
  ConnectionSettings settings = parseUrl(url);
  const std::string opening = "postgresql storage '" + settings.display + "': cannot open: ";
  const std::vector<std::string> secrets = settings.secrets;
  try {
    impl_ = std::make_unique<Impl>(std::move(settings));
    Connection connection(impl_->pool);
    Impl::migrate(connection.session());
  } catch (const StorageError& e) {
    throw StorageError(opening + scrub(e.what(), secrets));
  } catch (const Poco::Exception& e) {
    throw StorageError(opening + scrub(e.displayText(), secrets));
  } catch (const std::exception& e) {
    throw StorageError(opening + scrub(e.what(), secrets));
  }
}

PostgresStorage::~PostgresStorage() = default;

std::int64_t PostgresStorage::schemaVersion() { return migrations().back().version; }

std::string PostgresStorage::backendName() const { return "postgresql"; }

// ---- agents ----

void PostgresStorage::saveDraft(const std::string& agent_id, const Json& draft) {
  impl_->run("saveDraft", [&](Session& session) {
    session << "INSERT INTO agents (agent_id, draft, deployed_version, latest_version,"
               " updated_at_ms) VALUES ($1, $2, NULL, 0, $3)"
               " ON CONFLICT (agent_id) DO UPDATE SET draft = excluded.draft,"
               " updated_at_ms = excluded.updated_at_ms",
        bind(agent_id), bind(toText(draft)), bind(nowMs()), now;
  });
}

std::optional<AgentRecord> PostgresStorage::getAgent(const std::string& agent_id) {
  return impl_->run("getAgent", [&](Session& session) -> std::optional<AgentRecord> {
    Statement stmt(session);
    stmt << "SELECT " << kAgentColumns << " FROM agents WHERE agent_id = $1";
    stmt.addBind(bind(agent_id));
    std::vector<AgentRecord> agents = Impl::fetchAgents(stmt);
    if (agents.empty()) return std::nullopt;
    return std::move(agents.front());
  });
}

std::vector<AgentRecord> PostgresStorage::listAgents() {
  return impl_->run("listAgents", [&](Session& session) {
    Statement stmt(session);
    stmt << "SELECT " << kAgentColumns << " FROM agents ORDER BY agent_id";
    return Impl::fetchAgents(stmt);
  });
}

bool PostgresStorage::deleteAgent(const std::string& agent_id) {
  return impl_->run("deleteAgent", [&](Session& session) {
    Transaction tx(session);
    // The agent row first (its versions go with it, ON DELETE CASCADE): a concurrent
    // deployNewVersion then either finished before, or waits and finds no agent.
    Statement delete_agent(session);
    delete_agent << "DELETE FROM agents WHERE agent_id = $1", bind(agent_id);
    const bool deleted = delete_agent.execute() > 0;
    session << "DELETE FROM kv WHERE agent_id = $1", bind(agent_id), now;
    tx.commit();
    return deleted;
  });
}

AgentVersion PostgresStorage::deployNewVersion(const std::string& agent_id,
                                               const Json& definition) {
  return impl_->run("deployNewVersion", [&](Session& session) {
    Transaction tx(session);
    // Bumping latest_version locks the agent row, so two deploys of one agent take turns and
    // get consecutive numbers. SET reads the old row: both columns become old latest + 1.
    const Int64 now_ms = nowMs();
    std::vector<Int64> version_number;
    session << "UPDATE agents SET latest_version = latest_version + 1,"
               " deployed_version = latest_version + 1, updated_at_ms = $1"
               " WHERE agent_id = $2 RETURNING latest_version",
        bind(now_ms), bind(agent_id), into(version_number), now;
    if (version_number.empty()) {
      throw StorageError("agent '" + agent_id + "' does not exist");
    }
    AgentVersion version;
    version.agent_id = agent_id;
    version.version = version_number.front();
    version.definition = definition;
    version.created_at_ms = now_ms;
    session << "INSERT INTO agent_versions (agent_id, version, definition, created_at_ms)"
               " VALUES ($1, $2, $3, $4)",
        bind(agent_id), bind(Int64(version.version)), bind(toText(definition)), bind(now_ms), now;
    tx.commit();
    return version;
  });
}

bool PostgresStorage::deployExistingVersion(const std::string& agent_id, std::int64_t version) {
  return impl_->run("deployExistingVersion", [&](Session& session) {
    // One statement, so the existence check and the update are atomic without a transaction.
    Statement stmt(session);
    stmt << "UPDATE agents SET deployed_version = $1, updated_at_ms = $2 WHERE agent_id = $3"
            " AND EXISTS (SELECT 1 FROM agent_versions WHERE agent_id = $3 AND version = $1)",
        bind(Int64(version)), bind(nowMs()), bind(agent_id);
    return stmt.execute() > 0;
  });
}

bool PostgresStorage::undeploy(const std::string& agent_id) {
  return impl_->run("undeploy", [&](Session& session) {
    Statement stmt(session);
    stmt << "UPDATE agents SET deployed_version = NULL, updated_at_ms = $1 WHERE agent_id = $2",
        bind(nowMs()), bind(agent_id);
    return stmt.execute() > 0;
  });
}

std::optional<std::int64_t> PostgresStorage::agentsRevision() {
  return impl_->run("agentsRevision", [&](Session& session) -> std::optional<std::int64_t> {
    Int64 revision = 0;
    session << "SELECT revision FROM agents_revision", into(revision), now;
    return revision;
  });
}

std::optional<AgentVersion> PostgresStorage::getVersion(const std::string& agent_id,
                                                        std::int64_t version) {
  return impl_->run("getVersion", [&](Session& session) -> std::optional<AgentVersion> {
    std::vector<std::string> definition;
    std::vector<Int64> created_at_ms;
    session << "SELECT definition, created_at_ms FROM agent_versions"
               " WHERE agent_id = $1 AND version = $2",
        bind(agent_id), bind(Int64(version)), into(definition), into(created_at_ms), now;
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

std::pair<JobRecord, bool> PostgresStorage::createJob(const JobRecord& job,
                                                      const std::string& idempotency_key) {
  return impl_->run("createJob", [&](Session& session) -> std::pair<JobRecord, bool> {
    const Int64 now_ms = nowMs();
    Transaction tx(session);
    if (!idempotency_key.empty()) {
      // An expired key is given up by its old job first, which keeps the unique index a plain
      // "one live key per creator" rule that ON CONFLICT can use as its arbiter.
      session << "UPDATE jobs SET idempotency_key = NULL"
                 " WHERE created_by = $1 AND idempotency_key = $2 AND created_at_ms < $3",
          bind(job.created_by), bind(idempotency_key), bind(now_ms - kIdempotencyWindowMs), now;
    }
    JobRecord stored = job;
    if (stored.created_at_ms == 0) stored.created_at_ms = now_ms;
    // DO NOTHING names its arbiter, so a duplicate job_id still fails. A concurrent create with
    // the same key waits here for the other transaction and then inserts nothing.
    std::vector<std::string> inserted;
    Statement insert(session);
    insert << "INSERT INTO jobs (" << kJobColumns << ", idempotency_key) VALUES (" << kJobValues
           << ", $18) ON CONFLICT (created_by, idempotency_key)"
              " WHERE idempotency_key IS NOT NULL DO NOTHING RETURNING job_id";
    Impl::bindJob(insert, stored);
    insert.addBind(bind(idempotency_key.empty() ? Poco::Nullable<std::string>()
                                                : Poco::Nullable<std::string>(idempotency_key)));
    insert.addExtract(into(inserted));
    insert.execute();
    if (inserted.empty()) {
      Statement existing(session);
      existing << "SELECT " << kJobColumns
               << " FROM jobs WHERE created_by = $1 AND idempotency_key = $2";
      existing.addBind(bind(job.created_by));
      existing.addBind(bind(idempotency_key));
      std::optional<JobRecord> found = Impl::firstJob(existing);
      if (!found) {
        throw StorageError("the job holding idempotency key '" + idempotency_key +
                           "' vanished while this one was created; try again");
      }
      tx.commit();
      return {std::move(*found), false};
    }
    notifyJobs(session);
    tx.commit();
    return {std::move(stored), true};
  });
}

void PostgresStorage::putJob(const JobRecord& job) {
  impl_->run("putJob", [&](Session& session) { Impl::upsertJob(session, job); });
}

void PostgresStorage::putFinishedRuns(const std::vector<FinishedRun>& runs) {
  if (runs.empty()) return;
  // Multi-row statements: one round trip per 200 runs and per 1,000 events, not one per row
  // (row by row, a batch of 256 runs took seconds and the recorder fell behind at once). The
  // runs are new jobs whose events start at seq 0; a batch retried after a failure finds its
  // rolled-back rows absent.
  constexpr std::size_t kRunsPerStatement = 200;  // 17 parameters each: 3,400 of 65,535
  constexpr std::size_t kEventsPerStatement = 1000;
  impl_->run("putFinishedRuns", [&](Session& session) {
    Transaction tx(session);
    for (std::size_t first = 0; first < runs.size(); first += kRunsPerStatement) {
      const std::size_t count = std::min(kRunsPerStatement, runs.size() - first);
      Statement stmt(session);
      stmt << "INSERT INTO jobs (" << kJobColumns << ") VALUES ";
      for (std::size_t r = 0; r < count; ++r) {
        const std::size_t base = r * 17;
        stmt << (r == 0 ? "(" : ", (");
        for (std::size_t c = 1; c <= 17; ++c)
          stmt << (c == 1 ? "$" : ", $") << (base + c) << (c == 7 || c == 8 ? "::bytea" : "");
        stmt << ")";
      }
      stmt << job_rows::kUpsertTail;
      for (std::size_t r = 0; r < count; ++r) Impl::bindJob(stmt, runs[first + r].job);
      stmt.execute();
    }
    // Every event of the batch, as (job, seq, data) rows.
    std::vector<std::tuple<const std::string*, Int64, const std::string*>> rows;
    for (const FinishedRun& run : runs)
      for (std::size_t i = 0; i < run.events.size(); ++i)
        rows.emplace_back(&run.job.job_id, static_cast<Int64>(i), &run.events[i]);
    for (std::size_t first = 0; first < rows.size(); first += kEventsPerStatement) {
      const std::size_t count = std::min(kEventsPerStatement, rows.size() - first);
      Statement stmt(session);
      stmt << "INSERT INTO job_events (job_id, seq, data) VALUES ";
      for (std::size_t r = 0; r < count; ++r)
        stmt << (r == 0 ? "" : ", ") << "($" << (3 * r + 1) << ", $" << (3 * r + 2) << ", $"
             << (3 * r + 3) << "::bytea)";
      stmt << " ON CONFLICT DO NOTHING";
      for (std::size_t r = 0; r < count; ++r) {
        const auto& [job_id, seq, data] = rows[first + r];
        stmt.addBind(bind(*job_id));
        stmt.addBind(bind(seq));
        stmt.addBind(bind(toByteaHex(*data)));
      }
      stmt.execute();
    }
    tx.commit();
  });
}

std::optional<JobRecord> PostgresStorage::getJob(const std::string& job_id) {
  return impl_->run("getJob", [&](Session& session) { return Impl::loadJob(session, job_id); });
}

JobPage PostgresStorage::listJobs(const JobQuery& query) {
  return impl_->run("listJobs", [&](Session& session) {
    std::string where = " WHERE TRUE";
    int placeholders = 0;
    if (!query.agent_id.empty()) where += " AND agent_id = $" + std::to_string(++placeholders);
    if (query.status) where += " AND status = $" + std::to_string(++placeholders);
    if (query.created_by) where += " AND created_by = $" + std::to_string(++placeholders);
    const auto bind_filter = [&](Statement& stmt) {
      if (!query.agent_id.empty()) stmt.addBind(bind(query.agent_id));
      if (query.status) stmt.addBind(bind(*query.status));
      if (query.created_by) stmt.addBind(bind(*query.created_by));
    };

    // Count and page in one transaction, so the total matches the page under concurrent writes.
    Transaction tx(session);
    session << "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY", now;
    JobPage page;
    Int64 total = 0;
    Statement count(session);
    count << "SELECT COUNT(*) FROM jobs" << where;
    bind_filter(count);
    count.addExtract(into(total));
    count.execute();
    page.total = total;

    // LIMIT NULL is PostgreSQL for "no limit", which is what a negative limit means here.
    Statement select(session);
    select << "SELECT " << kJobColumns << " FROM jobs" << where
           << " ORDER BY created_at_ms DESC, job_id DESC LIMIT $" << (placeholders + 1)
           << " OFFSET $" << (placeholders + 2);
    bind_filter(select);
    select.addBind(
        bind(query.limit < 0 ? Poco::Nullable<Int64>() : Poco::Nullable<Int64>(query.limit)));
    select.addBind(bind(Int64(query.offset < 0 ? 0 : query.offset)));
    page.jobs = Impl::fetchJobs(select);
    tx.commit();
    return page;
  });
}

std::int64_t PostgresStorage::countQueued() {
  return impl_->run("countQueued", [&](Session& session) {
    Int64 count = 0;
    session << "SELECT COUNT(*) FROM jobs WHERE status = " << literal(job_status::kQueued),
        into(count), now;
    return count;
  });
}

std::vector<JobRecord> PostgresStorage::claimJobs(std::chrono::milliseconds lease,
                                                  std::size_t max_jobs) {
  if (max_jobs == 0) return {};
  return impl_->run("claimJobs",
                    [&](Session& session) { return Impl::claimIn(session, lease, max_jobs); });
}

std::size_t PostgresStorage::unclaimJobs(
    const std::vector<std::pair<std::string, std::int64_t>>& claims) {
  if (claims.empty()) return 0;
  return impl_->run("unclaimJobs", [&](Session& session) -> std::size_t {
    Transaction tx(session);
    std::size_t handed_back = 0;
    for (const auto& [job_id, token] : claims) {
      Statement update(session);
      update << "UPDATE jobs SET status = " << literal(job_status::kQueued)
             << ", attempts = GREATEST(attempts - 1, 0),"
                " started_at_ms = CASE WHEN attempts <= 1 THEN NULL ELSE started_at_ms END,"
                " lease_token = 0, lease_until_ms = NULL"
                " WHERE job_id = $1 AND lease_token = $2 AND status = "
             << literal(job_status::kInProgress),
          bind(job_id), bind(Int64(token));
      handed_back += update.execute();
    }
    if (handed_back > 0) notifyJobs(session);
    tx.commit();
    return handed_back;
  });
}

bool PostgresStorage::renewLease(const std::string& job_id, std::int64_t lease_token,
                                 std::chrono::milliseconds lease, bool* cancel_requested) {
  return impl_->run("renewLease", [&](Session& session) {
    std::vector<bool> flag;
    session << "UPDATE jobs SET lease_until_ms = $1"
               " WHERE job_id = $2 AND lease_token = $3 AND status = "
            << literal(job_status::kInProgress) << " RETURNING cancel_requested",
        bind(nowMs() + static_cast<Int64>(lease.count())), bind(job_id), bind(Int64(lease_token)),
        into(flag), now;
    const bool renewed = !flag.empty();
    if (!renewed && cancel_requested != nullptr) {
      session << "SELECT cancel_requested FROM jobs WHERE job_id = $1", bind(job_id), into(flag),
          now;
    }
    if (cancel_requested != nullptr) *cancel_requested = !flag.empty() && flag.front();
    return renewed;
  });
}

std::vector<JobRecord> PostgresStorage::Impl::claimIn(Session& session,
                                                      std::chrono::milliseconds lease,
                                                      std::size_t max_jobs) {
  if (max_jobs == 0) return {};
  // One statement: the sub-select walks jobs_claimable oldest first and locks the first
  // `max_jobs` rows nobody else has locked (SKIP LOCKED: concurrent claimers of every host
  // each get different jobs instead of queueing behind one); the UPDATE takes them, each under
  // its own token (nextval runs once per row). ARRAY(…) runs the sub-select once, before the
  // UPDATE. An in_progress job without lease_until_ms never matches (NULL < x is not true).
  static const std::string kClaimable = std::string(" status IN (") + literal(job_status::kQueued) +
                                        ", " + literal(job_status::kInProgress) +
                                        ") AND (status = " + literal(job_status::kQueued) +
                                        " OR lease_until_ms < $1)";
  static const std::string kClaim =
      std::string("UPDATE jobs SET status = ") + literal(job_status::kInProgress) +
      ", attempts = attempts + 1, started_at_ms = COALESCE(started_at_ms, $1),"
      " lease_token = nextval('lease_tokens'), lease_until_ms = $2"
      " WHERE job_id = ANY (ARRAY(SELECT job_id FROM jobs WHERE" +
      kClaimable +
      " ORDER BY created_at_ms, job_id LIMIT $3 FOR UPDATE SKIP LOCKED))"
      " RETURNING " +
      kJobColumns;
  static const std::string kAnyClaimable =
      "SELECT COUNT(*) FROM (SELECT 1 FROM jobs WHERE" + kClaimable + " LIMIT 1) AS any_job";
  // The sub-select sees the jobs committed when the statement began. If concurrent claimers
  // take all of those meanwhile, it finds nothing although jobs created since are waiting;
  // a fresh statement sees them. So an empty claim is retried while a job looks claimable,
  // a bounded number of times (a row locked by a slow transaction also looks claimable).
  constexpr int kAttempts = 8;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    const Int64 now_ms = nowMs();
    Statement claim(session);
    claim << kClaim;
    claim.addBind(bind(now_ms));
    claim.addBind(bind(now_ms + static_cast<Int64>(lease.count())));
    claim.addBind(bind(static_cast<Int64>(max_jobs)));
    std::vector<JobRecord> jobs = Impl::fetchJobs(claim);
    if (!jobs.empty()) {
      // RETURNING follows no order: give them back oldest first, as claimed.
      std::sort(jobs.begin(), jobs.end(), [](const JobRecord& a, const JobRecord& b) {
        return std::tie(a.created_at_ms, a.job_id) < std::tie(b.created_at_ms, b.job_id);
      });
      return jobs;
    }
    Int64 claimable = 0;
    session << kAnyClaimable, bind(nowMs()), into(claimable), now;
    if (claimable == 0) break;
  }
  return {};
}

bool PostgresStorage::Impl::writeFinish(Session& session, const JobRecord& job,
                                        std::int64_t lease_token,
                                        const std::vector<std::string>& events) {
  // One conditional UPDATE: the fencing check and the write cannot be split by a takeover (the
  // row lock it takes holds off a concurrent claim until the transaction ends). The events go
  // in the same transaction, and only when the UPDATE found the job, so a stale attempt writes
  // nothing. Retention deletes by finished_at, so a finished job always gets one; a job handed
  // back to the queue keeps none and is announced like a new one.
  std::optional<std::int64_t> finished_at = job.finished_at_ms;
  if (!finished_at && isFinished(job.status)) finished_at = nowMs();
  Statement update(session);
  update << "UPDATE jobs SET status = $1, artifact = $2::bytea, error = $3::bytea, trace = $4,"
            " finished_at_ms = $5 WHERE job_id = $6 AND lease_token = $7 AND status = "
         << literal(job_status::kInProgress),
      bind(job.status), bind(toByteaHex(job.artifact)), bind(toByteaHex(job.error)),
      bind(toText(job.trace)), bind(toNullable(finished_at)), bind(job.job_id),
      bind(Int64(lease_token));
  if (update.execute() == 0) return false;
  insertEvents(session, job.job_id, events);
  if (job.status == job_status::kQueued) notifyJobs(session);
  return true;
}

bool PostgresStorage::finishJob(const JobRecord& job, std::int64_t lease_token,
                                const std::vector<std::string>& events) {
  return impl_->run("finishJob", [&](Session& session) {
    // A lone UPDATE needs no transaction of its own.
    std::optional<Transaction> tx;
    if (job.status == job_status::kQueued || !events.empty()) tx.emplace(session);
    const bool written = Impl::writeFinish(session, job, lease_token, events);
    if (tx) tx->commit();
    return written;
  });
}

Storage::FinishAndClaim PostgresStorage::finishJobAndClaim(const JobRecord& job,
                                                           std::int64_t lease_token,
                                                           const std::vector<std::string>& events,
                                                           std::chrono::milliseconds lease,
                                                           std::size_t max_jobs) {
  return impl_->run("finishJobAndClaim", [&](Session& session) {
    // One transaction, one commit: the finish, then the claim of the worker's next jobs.
    FinishAndClaim result;
    Transaction tx(session);
    result.written = Impl::writeFinish(session, job, lease_token, events);
    result.claimed = Impl::claimIn(session, lease, max_jobs);
    tx.commit();
    return result;
  });
}

std::optional<JobRecord> PostgresStorage::requestCancel(const std::string& job_id) {
  return impl_->run("requestCancel", [&](Session& session) {
    // One statement for both cases; SET reads the row as it was, so each CASE sees the status
    // before the change.
    static const std::string kCancel =
        std::string("UPDATE jobs SET status = CASE WHEN status = ") + literal(job_status::kQueued) +
        " THEN " + literal(job_status::kCancelled) +
        " ELSE status END, finished_at_ms = CASE WHEN status = " + literal(job_status::kQueued) +
        " THEN $1 ELSE finished_at_ms END, cancel_requested = TRUE"
        " WHERE job_id = $2 AND status IN (" +
        literal(job_status::kQueued) + ", " + literal(job_status::kInProgress) + ") RETURNING " +
        kJobColumns;
    Statement stmt(session);
    stmt << kCancel;
    stmt.addBind(bind(nowMs()));
    stmt.addBind(bind(job_id));
    std::optional<JobRecord> changed = Impl::firstJob(stmt);
    // Finished (left as it is) or unknown.
    if (!changed) return Impl::loadJob(session, job_id);
    return changed;
  });
}

std::pair<std::optional<JobRecord>, bool> PostgresStorage::retryJob(const std::string& job_id) {
  return impl_->run("retryJob", [&](Session& session) -> std::pair<std::optional<JobRecord>, bool> {
    Transaction tx(session);
    // A retry is a fresh run: no lease holds it, an old cancel must not stop it, and its trace
    // and event stream start empty (a reader must not replay the failed run's [DONE]).
    Statement update(session);
    update << "UPDATE jobs SET status = " << literal(job_status::kQueued)
           << ", artifact = NULL, error = NULL, finished_at_ms = NULL, lease_token = 0,"
              " lease_until_ms = NULL, cancel_requested = FALSE, trace = $1"
              " WHERE job_id = $2 AND status = "
           << literal(job_status::kError) << " RETURNING " << kJobColumns;
    update.addBind(bind(toText(Json::array())));
    update.addBind(bind(job_id));
    std::optional<JobRecord> retried = Impl::firstJob(update);
    if (!retried) return {Impl::loadJob(session, job_id), false};
    session << "DELETE FROM job_events WHERE job_id = $1", bind(job_id), now;
    notifyJobs(session);
    tx.commit();
    return {std::move(retried), true};
  });
}

std::int64_t PostgresStorage::deleteFinishedBefore(std::int64_t cutoff_ms, std::int64_t batch) {
  return impl_->run("deleteFinishedBefore", [&](Session& session) -> std::int64_t {
    if (batch <= 0) return 0;
    // Oldest finished first, so repeated batches walk forward in time; SKIP LOCKED lets the
    // retention of several hosts run side by side. The job's events go in the same statement.
    static const std::string kDelete =
        std::string("WITH doomed AS (SELECT job_id FROM jobs WHERE status IN (") +
        literal(job_status::kCompleted) + ", " + literal(job_status::kError) + ", " +
        literal(job_status::kCancelled) +
        ") AND finished_at_ms < $1 ORDER BY finished_at_ms, job_id LIMIT $2"
        " FOR UPDATE SKIP LOCKED),"
        " events AS (DELETE FROM job_events WHERE job_id IN (SELECT job_id FROM doomed))"
        " DELETE FROM jobs WHERE job_id IN (SELECT job_id FROM doomed) RETURNING job_id";
    std::vector<std::string> deleted;
    session << kDelete, bind(Int64(cutoff_ms)), bind(Int64(batch)), into(deleted), now;
    return static_cast<std::int64_t>(deleted.size());
  });
}

bool PostgresStorage::waitForJobs(std::chrono::milliseconds timeout) {
  try {
    return impl_->listener.wait(timeout);
  } catch (const std::exception& e) {
    throw StorageError("postgresql storage '" + impl_->settings.display +
                       "': waitForJobs failed: " + e.what());
  }
}

// ---- job events ----

void PostgresStorage::appendEvents(const std::string& job_id,
                                   const std::vector<std::string>& events) {
  if (events.empty()) return;
  impl_->run("appendEvents", [&](Session& session) {
    Transaction tx(session);
    Impl::insertEvents(session, job_id, events);
    tx.commit();
  });
}

std::vector<std::string> PostgresStorage::loadEvents(const std::string& job_id,
                                                     std::int64_t from_seq) {
  return impl_->run("loadEvents", [&](Session& session) {
    std::vector<BLOB> data;
    session << "SELECT data FROM job_events WHERE job_id = $1 AND seq >= $2 ORDER BY seq",
        bind(job_id), bind(Int64(from_seq)), into(data), now;
    std::vector<std::string> events;
    events.reserve(data.size());
    for (const BLOB& blob : data) events.push_back(fromBlob(blob));
    return events;
  });
}

// ---- kv ----

std::optional<Json> PostgresStorage::kvGet(const std::string& agent_id, const std::string& key) {
  return impl_->run("kvGet", [&](Session& session) -> std::optional<Json> {
    std::vector<std::string> value;
    session << "SELECT value FROM kv WHERE agent_id = $1 AND key = $2", bind(agent_id), bind(key),
        into(value), now;
    if (value.empty()) return std::nullopt;
    return Json::parse(value.front());
  });
}

void PostgresStorage::kvSet(const std::string& agent_id, const std::string& key,
                            const Json& value) {
  impl_->run("kvSet", [&](Session& session) {
    session << "INSERT INTO kv (agent_id, key, value) VALUES ($1, $2, $3)"
               " ON CONFLICT (agent_id, key) DO UPDATE SET value = excluded.value",
        bind(agent_id), bind(key), bind(toText(value)), now;
  });
}

bool PostgresStorage::kvDelete(const std::string& agent_id, const std::string& key) {
  return impl_->run("kvDelete", [&](Session& session) {
    Statement stmt(session);
    stmt << "DELETE FROM kv WHERE agent_id = $1 AND key = $2", bind(agent_id), bind(key);
    return stmt.execute() > 0;
  });
}

}  // namespace blueprint::host
