// SPDX-License-Identifier: Apache-2.0
// nginx_process.hpp: a real nginx (the Debian package) as a child process, for tests that put a
// load balancer in front of blueprint-host. Start here: NginxProcess nginx; then
// ASSERT_TRUE(nginx.start(config_text, port)). Everything nginx writes (pid file, error.log,
// access.log, temp files) lives in a fresh prefix directory, so the config refers to them by
// relative paths and nginx needs no system paths. nginx runs in the foreground (`daemon off`) as
// our child; it is stopped by its own PID (the one its pid file names), never by name.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>

namespace blueprint::testing {

/// Names an nginx binary to use instead of the one on PATH or /usr/sbin/nginx.
inline constexpr const char* kNginxVariable = "BLUEPRINT_TEST_NGINX";

/// The nginx program. Throws std::runtime_error telling to run scripts/install-deps when there
/// is none, so tests that need it FAIL rather than skip.
std::filesystem::path findNginx();

/// A TCP port nothing listens on at 127.0.0.1 right now (bound to port 0, then released); the
/// caller retries with another one when it is taken before it binds it.
int freeLoopbackPort();

class NginxProcess {
 public:
  /// Creates the prefix directory (readable by nginx's unprivileged worker user when we are root).
  NginxProcess();
  /// stop(), then removes the prefix directory (kept, with the error log quoted, when the test
  /// failed).
  ~NginxProcess();
  NginxProcess(const NginxProcess&) = delete;
  NginxProcess& operator=(const NginxProcess&) = delete;

  /// Writes `config` to `<prefix>/nginx.conf` and runs
  /// `nginx -p <prefix> -e error.log -c <prefix>/nginx.conf -g "daemon off;"`. Waits (bounded)
  /// until the pid file names the child and 127.0.0.1:`port` accepts connections. Fails with the
  /// error log when nginx exits or does not come up in time (addressInUse() then tells whether
  /// the port was taken).
  ::testing::AssertionResult start(const std::string& config, int port,
                                   std::chrono::milliseconds timeout = std::chrono::seconds(15));
  /// SIGTERM (fast shutdown, also of the workers) to the master's PID, then waits for it; SIGKILL
  /// past a bound. Does nothing when not running.
  void stop();

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  int port() const { return port_; }
  const std::filesystem::path& prefix() const { return dir_; }
  std::string errorLog() const;
  std::string accessLog() const;
  /// Whether the last failed start() failed because its port was already taken.
  bool addressInUse() const;

 private:
  /// Reaps the child if it ended within `timeout`; true when it is gone.
  bool reap(std::chrono::milliseconds timeout);

  std::filesystem::path dir_;
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace blueprint::testing
