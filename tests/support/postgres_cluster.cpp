// SPDX-License-Identifier: Apache-2.0
// postgres_cluster.cpp: see postgres_cluster.hpp. The server runs from a temp dir named
// blueprint-pg-<owner pid>-XXXXXX, which is how a later run finds (by that directory and its
// postmaster.pid, never by process name) a cluster whose test process died before stopping it.
#include "support/postgres_cluster.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <system_error>

namespace blueprint::testing {

namespace fs = std::filesystem;

namespace {

constexpr const char* kDirPrefix = "blueprint-pg-";
/// initdb takes about 0.9 s, copying its result about 0.4 s, and ctest runs every test in a
/// process of its own; so the first process keeps a pristine data directory in the temp dir for
/// the others to copy (about 30 MB, kept across runs like any cache; deleting it costs an initdb).
constexpr const char* kTemplatePrefix = "blueprint-pgtemplate-";
constexpr const char* kDatabase = "blueprint";
/// The superuser's password. It holds the characters a URL and a libpq connection string must
/// escape (':' '@' '/' '%' '\'' '\\'), so every test also checks PostgresStorage's URL handling.
/// It is stored as md5, not scram-sha-256: SCRAM's 4096 PBKDF2 rounds cost about 35 ms per
/// connection here and the tests open hundreds; what they check is our URL handling, not the hash.
constexpr const char* kPassword = "bp:p@ss/w%rd'\\x";
constexpr int kStartAttempts = 5;

const char* const kInstallHint =
    "run scripts/install-deps (it installs the Debian 'postgresql' package), or set "
    "BLUEPRINT_TEST_POSTGRES_URL to a server the tests may create databases on";

std::string percentEncode(const std::string& text) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(c);
    } else {
      out += '%';
      out.push_back(kDigits[byte >> 4]);
      out.push_back(kDigits[byte & 0x0f]);
    }
  }
  return out;
}

/// `url` with its database (the path) replaced by `database`.
std::string withDatabase(const std::string& url, const std::string& database) {
  const std::size_t scheme_end = url.find("://");
  const std::size_t authority_begin = scheme_end == std::string::npos ? 0 : scheme_end + 3;
  const std::size_t path_begin = std::min(url.find_first_of("/?#", authority_begin), url.size());
  const std::size_t path_end = std::min(url.find_first_of("?#", path_begin), url.size());
  return url.substr(0, path_begin) + "/" + database + url.substr(path_end);
}

/// The message without the password, for exceptions.
std::string redacted(std::string text) {
  for (const std::string& secret : {std::string(kPassword), percentEncode(kPassword)}) {
    for (std::size_t at = text.find(secret); at != std::string::npos; at = text.find(secret)) {
      text.replace(at, secret.size(), "***");
    }
  }
  return text;
}

struct PgConnDeleter {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
using PgConn = std::unique_ptr<PGconn, PgConnDeleter>;

/// libpq prints NOTICEs ("database … does not exist, skipping") to stderr by default.
void ignoreNotice(void*, const char*) {}

PgConn connectTo(const std::string& url) {
  PgConn conn(PQconnectdb(url.c_str()));
  if (!conn || PQstatus(conn.get()) != CONNECTION_OK) {
    throw std::runtime_error("cannot connect to " + redacted(url) + ": " +
                             (conn ? PQerrorMessage(conn.get()) : "out of memory"));
  }
  PQsetNoticeProcessor(conn.get(), ignoreNotice, nullptr);
  return conn;
}

std::vector<std::string> exec(PGconn* conn, const std::string& sql) {
  std::unique_ptr<PGresult, void (*)(PGresult*)> result(PQexec(conn, sql.c_str()), PQclear);
  const ExecStatusType status = PQresultStatus(result.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    throw std::runtime_error("'" + sql + "' failed: " + PQerrorMessage(conn));
  }
  std::vector<std::string> column;
  if (status == PGRES_TUPLES_OK && PQnfields(result.get()) > 0) {
    for (int row = 0; row < PQntuples(result.get()); ++row) {
      column.emplace_back(PQgetvalue(result.get(), row, 0));
    }
  }
  return column;
}

bool hasServerPrograms(const fs::path& dir) {
  std::error_code ec;
  for (const char* program : {"initdb", "pg_ctl", "postgres"}) {
    if (!fs::exists(dir / program, ec)) return false;
  }
  return true;
}

/// Where initdb and pg_ctl live: Debian's /usr/lib/postgresql/<major>/bin (newest major first),
/// then `pg_config --bindir`, then PATH.
fs::path findServerBinaries() {
  std::error_code ec;
  std::vector<fs::path> versions;
  for (const fs::directory_entry& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    versions.push_back(entry.path() / "bin");
  }
  std::sort(versions.begin(), versions.end(), [](const fs::path& a, const fs::path& b) {
    const std::string x = a.parent_path().filename().string();
    const std::string y = b.parent_path().filename().string();
    return std::atoi(x.c_str()) > std::atoi(y.c_str());
  });
  for (const fs::path& dir : versions) {
    if (hasServerPrograms(dir)) return dir;
  }
  if (FILE* pipe = ::popen("pg_config --bindir 2>/dev/null", "r")) {
    char line[4096] = {};
    const bool read = std::fgets(line, sizeof(line), pipe) != nullptr;
    ::pclose(pipe);
    std::string dir = read ? line : "";
    while (!dir.empty() && (dir.back() == '\n' || dir.back() == '\r')) dir.pop_back();
    if (!dir.empty() && hasServerPrograms(dir)) return dir;
  }
  if (const char* path = std::getenv("PATH")) {
    std::stringstream dirs(path);
    for (std::string dir; std::getline(dirs, dir, ':');) {
      if (!dir.empty() && hasServerPrograms(dir)) return dir;
    }
  }
  throw std::runtime_error(
      "the PostgreSQL server programs (initdb, pg_ctl, postgres) were not found in "
      "/usr/lib/postgresql/*/bin, `pg_config --bindir` or PATH; " +
      std::string(kInstallHint));
}

/// A loopback port nobody listens on right now (the kernel's pick for port 0). Another process
/// may take it before the server binds it; start() then retries with a new one.
unsigned short freeLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    const int error = errno;
    ::close(fd);
    throw std::system_error(error, std::generic_category(), "bind 127.0.0.1:0");
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

bool processAlive(pid_t pid) { return ::kill(pid, 0) == 0 || errno == EPERM; }

}  // namespace

// ---- Database ----

PostgresCluster::Database::Database(PostgresCluster& cluster, std::string name, std::string url)
    : cluster_(cluster), name_(std::move(name)), url_(std::move(url)) {}

PostgresCluster::Database::~Database() {
  try {
    cluster_.dropDatabase(name_);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "dropping test database " << name_ << ": " << e.what();
  }
}

// ---- PostgresCluster ----

void PostgresCluster::ConnectionCloser::operator()(pg_conn* conn) const { PQfinish(conn); }

PostgresCluster::~PostgresCluster() { stop(); }

void PostgresCluster::adminExec(const std::string& sql) {
  if (!admin_) throw std::runtime_error("the test PostgreSQL server is not started");
  // A test may have ended every connection (pg_terminate_backend); the next one gets a new one.
  if (PQstatus(admin_.get()) != CONNECTION_OK) PQreset(admin_.get());
  exec(admin_.get(), sql);
}

int PostgresCluster::runProgram(const std::string& program, const std::vector<std::string>& args) {
  const std::string path = (bin_dir_ / program).string();
  std::vector<std::string> arguments = {path};
  arguments.insert(arguments.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& argument : arguments) argv.push_back(argument.data());
  argv.push_back(nullptr);

  const int log = ::open(command_log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log < 0) throw std::system_error(errno, std::generic_category(), command_log_.string());
  const pid_t child = ::fork();
  if (child < 0) {
    ::close(log);
    throw std::system_error(errno, std::generic_category(), "fork");
  }
  if (child == 0) {
    // Only async-signal-safe calls from here to exec (the parent has other threads).
    ::dup2(log, STDOUT_FILENO);
    ::dup2(log, STDERR_FILENO);
    const int null = ::open("/dev/null", O_RDONLY);
    if (null >= 0) ::dup2(null, STDIN_FILENO);
    // The postmaster outlives pg_ctl; it must not keep the test's sockets or pipes (ctest waits
    // for a captured pipe to close).
    for (int fd = 3; fd < 1024; ++fd) ::close(fd);
    if (drop_privileges_ &&
        (::setgroups(0, nullptr) != 0 || ::setgid(gid_) != 0 || ::setuid(uid_) != 0)) {
      ::_exit(126);
    }
    // initdb and pg_ctl look at the working directory, which root's may not let them read.
    if (::chdir(dir_.c_str()) != 0) ::_exit(126);
    ::execv(path.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(log);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) throw std::system_error(errno, std::generic_category(), "waitpid");
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

std::string PostgresCluster::commandOutput() const {
  std::ifstream in(command_log_);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool PostgresCluster::startServer(unsigned short port) {
  const std::string options = "-k '" + dir_.string() + "' -p " + std::to_string(port) +
                              " -c listen_addresses=127.0.0.1 -c fsync=off"
                              " -c synchronous_commit=off -c full_page_writes=off";
  return runProgram("pg_ctl", {"-D", (dir_ / "data").string(), "-l", (dir_ / "server.log").string(),
                               "-w", "-t", "60", "-o", options, "start"}) == 0;
}

fs::path PostgresCluster::templateDir() const {
  // Keyed by the server binaries (a data directory belongs to one major version) and our uid.
  std::stringstream name;
  name << kTemplatePrefix << std::hex << std::hash<std::string>{}(bin_dir_.string()) << "-uid"
       << std::dec << ::geteuid();
  return fs::temp_directory_path() / name.str();
}

bool PostgresCluster::makeDataDirectory() {
  const fs::path data = dir_ / "data";
  const fs::path cached = templateDir();
  std::error_code ec;
  if (fs::exists(cached / "complete", ec)) {
    fs::copy(cached / "data", data, fs::copy_options::recursive);
    if (drop_privileges_) {
      // The copies are root's; the server insists on owning its data directory.
      if (::lchown(data.c_str(), uid_, gid_) != 0) {
        throw std::system_error(errno, std::generic_category(), "chown " + data.string());
      }
      for (const fs::directory_entry& entry : fs::recursive_directory_iterator(data)) {
        if (::lchown(entry.path().c_str(), uid_, gid_) != 0) {
          throw std::system_error(errno, std::generic_category(), "chown " + entry.path().string());
        }
      }
    }
    return true;
  }

  // Password authentication over TCP (what PostgresStorage uses), trust on the private socket
  // (which only the postgres user can reach), where start() sets the password.
  if (runProgram("initdb", {"-D", data.string(), "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8",
                            "--auth-local=trust", "--auth-host=md5", "--wal-segsize=1", "--no-sync",
                            "--no-instructions"}) != 0) {
    throw std::runtime_error("initdb failed:\n" + commandOutput());
  }
  // Publish a pristine copy for the next process: built aside, then renamed into place, so a
  // concurrent process sees either no template or a whole one (the loser of a race drops its).
  const fs::path building = cached.string() + ".building-" + std::to_string(::getpid());
  fs::remove_all(building, ec);
  fs::create_directories(building, ec);
  fs::copy(data, building / "data", fs::copy_options::recursive, ec);
  if (!ec) std::ofstream(building / "complete") << "initdb " << bin_dir_.string() << "\n";
  if (ec || ::rename(building.c_str(), cached.c_str()) != 0) fs::remove_all(building, ec);
  return false;
}

std::string PostgresCluster::start() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (started_) return url_;

  if (const char* external = std::getenv(kPostgresUrlVariable); external && *external) {
    try {
      connectTo(external);
    } catch (const std::exception& e) {
      throw std::runtime_error(std::string(kPostgresUrlVariable) + " is set, but " + e.what());
    }
    external_ = true;
    url_ = external;
    admin_.reset(connectTo(url_).release());
    if (PQserverVersion(admin_.get()) >= 150000) create_options_ = " STRATEGY FILE_COPY";
    started_ = true;
    return url_;
  }

  bin_dir_ = findServerBinaries();
  if (::geteuid() == 0) {
    // initdb refuses to run as root: the cluster belongs to the postgres system user.
    const passwd* user = ::getpwnam("postgres");
    if (user == nullptr) {
      throw std::runtime_error(
          "running as root, the test cluster needs the 'postgres' system user, which does not "
          "exist; " +
          std::string(kInstallHint));
    }
    drop_privileges_ = true;
    uid_ = user->pw_uid;
    gid_ = user->pw_gid;
  }

  // Clusters of test processes that died (SIGKILL, a crash) before stopping theirs, and
  // template copies they were building.
  std::error_code ec;
  const std::string building = templateDir().filename().string() + ".building-";
  for (const fs::directory_entry& entry : fs::directory_iterator(fs::temp_directory_path(), ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(building, 0) == 0) {
      const auto builder = static_cast<pid_t>(std::atol(name.c_str() + building.size()));
      if (builder > 0 && !processAlive(builder)) fs::remove_all(entry.path(), ec);
      continue;
    }
    if (name.rfind(kDirPrefix, 0) != 0) continue;
    const pid_t owner = static_cast<pid_t>(std::atol(name.c_str() + std::strlen(kDirPrefix)));
    if (owner <= 0 || owner == ::getpid() || processAlive(owner)) continue;
    dir_ = entry.path();
    command_log_ = "/dev/null";
    if (fs::exists(dir_ / "data" / "postmaster.pid", ec)) {
      runProgram("pg_ctl", {"-D", (dir_ / "data").string(), "-m", "immediate", "-w", "stop"});
    }
    fs::remove_all(dir_, ec);
  }

  std::string pattern =
      (fs::temp_directory_path() / (kDirPrefix + std::to_string(::getpid()) + "-XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::system_error(errno, std::generic_category(), "mkdtemp " + pattern);
  }
  dir_ = pattern;
  command_log_ = dir_ / "command.log";
  started_ = true;  // from here on, stop() cleans up whatever exists
  try {
    if (drop_privileges_ && ::chown(dir_.c_str(), uid_, gid_) != 0) {
      throw std::system_error(errno, std::generic_category(), "chown " + dir_.string());
    }
    const bool from_template = makeDataDirectory();

    unsigned short port = 0;
    bool running = false;
    std::string failures;
    for (int attempt = 0; attempt < kStartAttempts && !running; ++attempt) {
      port = freeLoopbackPort();
      running = startServer(port);
      if (!running) failures += commandOutput();
    }
    if (!running) {
      // A template the server cannot start from (say, made by another PostgreSQL version) is
      // rebuilt by the next run.
      if (from_template) fs::remove_all(templateDir(), ec);
      std::ifstream log(dir_ / "server.log");
      std::stringstream server_log;
      server_log << log.rdbuf();
      throw std::runtime_error("pg_ctl start failed " + std::to_string(kStartAttempts) +
                               " times:\n" + failures + "\nserver log:\n" + server_log.str());
    }

    {
      PgConn local = connectTo("postgresql:///postgres?host=" + percentEncode(dir_.string()) +
                               "&port=" + std::to_string(port) + "&user=postgres");
      char* password = PQescapeLiteral(local.get(), kPassword, std::strlen(kPassword));
      const std::string quoted = password != nullptr ? password : "''";
      PQfreemem(password);
      create_options_ = PQserverVersion(local.get()) >= 150000 ? " STRATEGY FILE_COPY" : "";
      exec(local.get(), "SET password_encryption = 'md5'");
      exec(local.get(), "ALTER ROLE postgres PASSWORD " + quoted);
      exec(local.get(), std::string("CREATE DATABASE ") + kDatabase + create_options_);
    }
    url_ = "postgresql://postgres:" + percentEncode(kPassword) +
           "@127.0.0.1:" + std::to_string(port) + "/" + kDatabase;
    admin_.reset(connectTo(url_).release());
  } catch (...) {
    stopLocked();
    throw;
  }
  return url_;
}

void PostgresCluster::stop() {
  std::lock_guard<std::mutex> lock(mutex_);
  stopLocked();
}

void PostgresCluster::stopLocked() {
  if (!started_) return;
  started_ = false;
  admin_.reset();
  if (external_) return;
  try {
    std::error_code ec;
    if (fs::exists(dir_ / "data" / "postmaster.pid", ec)) {
      const std::string data = (dir_ / "data").string();
      if (runProgram("pg_ctl", {"-D", data, "-m", "fast", "-w", "-t", "30", "stop"}) != 0) {
        runProgram("pg_ctl", {"-D", data, "-m", "immediate", "-w", "-t", "30", "stop"});
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "stopping the test PostgreSQL cluster in %s: %s\n", dir_.c_str(),
                 e.what());
  }
  std::error_code ignored;
  fs::remove_all(dir_, ignored);
  url_.clear();
}

std::unique_ptr<PostgresCluster::Database> PostgresCluster::createDatabase() {
  std::lock_guard<std::mutex> lock(mutex_);
  // The pid keeps processes that share one BLUEPRINT_TEST_POSTGRES_URL server apart; the DROP
  // clears a database left by an earlier process with the same pid.
  const std::string name =
      "bp_test_" + std::to_string(::getpid()) + "_" + std::to_string(++next_database_);
  adminExec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
  adminExec("CREATE DATABASE " + name + create_options_);
  return std::unique_ptr<Database>(new Database(*this, name, withDatabase(url_, name)));
}

void PostgresCluster::dropDatabase(const std::string& name) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!started_) return;  // the whole cluster is gone already
  adminExec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
}

std::vector<std::string> PostgresCluster::query(const std::string& url, const std::string& sql) {
  PgConn conn = connectTo(url);
  return exec(conn.get(), sql);
}

// ---- the shared cluster ----

namespace {

std::mutex shared_mutex;
std::string shared_error;

PostgresCluster& sharedInstance() {
  static PostgresCluster cluster;
  return cluster;
}

/// Stops the shared cluster after the last test, before static destruction (gtest may be
/// unloaded by then).
class PostgresEnvironment final : public ::testing::Environment {
 public:
  void TearDown() override { sharedInstance().stop(); }
};

[[maybe_unused]] ::testing::Environment* const registered =
    ::testing::AddGlobalTestEnvironment(new PostgresEnvironment);

}  // namespace

PostgresCluster& sharedPostgresCluster() {
  std::lock_guard<std::mutex> lock(shared_mutex);
  if (shared_error.empty() && sharedInstance().url().empty()) {
    try {
      sharedInstance().start();
    } catch (const std::exception& e) {
      shared_error = std::string("cannot start the test PostgreSQL server: ") + e.what();
    }
  }
  if (!shared_error.empty()) throw std::runtime_error(shared_error);
  return sharedInstance();
}

}  // namespace blueprint::testing
