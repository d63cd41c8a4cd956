// SPDX-License-Identifier: Apache-2.0
// postgres_cluster.hpp: a real, throwaway PostgreSQL server for tests (no mocks).
// Start here: sharedPostgresCluster() gives the cluster of the whole test binary, started on first
// use (initdb into a fresh temp dir, pg_ctl start on a free 127.0.0.1 port) and stopped by a gtest
// Environment when the binary ends; createDatabase() gives each test an empty database of its
// own, dropped when the handle goes. With BLUEPRINT_TEST_POSTGRES_URL set, that server is used
// instead (its user must be allowed to CREATE DATABASE). scripts/with-postgres starts the same kind
// of cluster around any command. Since ctest runs each test in a process of its own, the first
// start keeps a pristine initdb result in the temp dir (blueprint-pgtemplate-…, ~30 MB) that later
// starts copy instead of running initdb again (about half a second saved per process).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

// libpq's connection type (PGconn), declared here so this header needs no libpq-fe.h.
struct pg_conn;

namespace blueprint::testing {

/// Names an existing server (`postgresql://user:password@host:port/database`) that tests use
/// instead of starting their own.
inline constexpr const char* kPostgresUrlVariable = "BLUEPRINT_TEST_POSTGRES_URL";

class PostgresCluster {
 public:
  /// An empty database on the cluster, dropped (WITH (FORCE), so open connections do not keep
  /// it) on destruction. The cluster must outlive it.
  class Database {
   public:
    ~Database();
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;

    const std::string& name() const { return name_; }
    /// `postgresql://…/<name>`, for openStorage.
    const std::string& url() const { return url_; }

   private:
    friend class PostgresCluster;
    Database(PostgresCluster& cluster, std::string name, std::string url);

    PostgresCluster& cluster_;
    std::string name_;
    std::string url_;
  };

  PostgresCluster() = default;
  /// stop().
  ~PostgresCluster();
  PostgresCluster(const PostgresCluster&) = delete;
  PostgresCluster& operator=(const PostgresCluster&) = delete;

  /// Starts the cluster and returns the URL of its database `blueprint`
  /// (`postgresql://postgres:<password>@127.0.0.1:<port>/blueprint`, password authentication).
  /// With BLUEPRINT_TEST_POSTGRES_URL set, checks that server answers and returns that URL.
  /// Before starting, stops and deletes clusters left behind by test processes that died.
  /// Throws std::runtime_error saying what failed; when the PostgreSQL server binaries are
  /// missing, the message says to run scripts/install-deps. Calling it again returns the URL.
  std::string start();
  /// `pg_ctl stop -m fast` on this cluster's own data directory, then deletes its temp dir.
  /// Never throws; does nothing when not started or when the server is an external one.
  void stop();

  /// The URL start() returned (empty before).
  const std::string& url() const { return url_; }
  /// Whether the server came from BLUEPRINT_TEST_POSTGRES_URL.
  bool isExternal() const { return external_; }

  /// Creates an empty database with a name unique to this process. Throws std::runtime_error.
  std::unique_ptr<Database> createDatabase();

  /// Runs `sql` on the database at `url` in a connection of its own and returns the first column
  /// of each row (NULL as ""). Throws std::runtime_error with the server's message.
  static std::vector<std::string> query(const std::string& url, const std::string& sql);

 private:
  void dropDatabase(const std::string& name);
  /// stop() with mutex_ held.
  void stopLocked();
  /// Runs one PostgreSQL program (as the `postgres` system user when we are root, since
  /// initdb refuses root). Returns its exit code; its output is left in command_log_.
  int runProgram(const std::string& program, const std::vector<std::string>& args);
  std::string commandOutput() const;
  bool startServer(unsigned short port);
  /// Fills dir_/data: a copy of the cached template when there is one (returns true), else
  /// initdb, whose result then becomes the template (returns false).
  bool makeDataDirectory();
  std::filesystem::path templateDir() const;
  /// Runs `sql` on the admin connection (mutex_ held).
  void adminExec(const std::string& sql);

  struct ConnectionCloser {
    void operator()(pg_conn* conn) const;
  };

  std::mutex mutex_;
  bool started_ = false;
  bool external_ = false;
  std::string url_;
  std::filesystem::path bin_dir_;
  std::filesystem::path dir_;
  std::filesystem::path command_log_;
  bool drop_privileges_ = false;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
  int next_database_ = 0;
  /// A connection to url_, kept for createDatabase and dropDatabase.
  std::unique_ptr<pg_conn, ConnectionCloser> admin_;
  /// `STRATEGY FILE_COPY` where the server has it (15+): with fsync off, copying the template's
  /// files beats replaying them through the WAL (about 60 ms instead of 100 ms a database).
  std::string create_options_;
};

/// The cluster shared by every test of this binary: started by the first call, stopped by a
/// gtest Environment after the last test. When it cannot start, every call throws
/// std::runtime_error with the same message (tests FAIL with it, they are not skipped).
PostgresCluster& sharedPostgresCluster();

}  // namespace blueprint::testing
