// SPDX-License-Identifier: Apache-2.0
// test_host.hpp: the real blueprint-host binary as a child process, for integration tests.
// Start here: construct a TestHost with TestHostOptions (plugins, agents, extra config), then
// ASSERT_TRUE(host.start()); talk to it on 127.0.0.1:host.port() with host.adminKey() ("ops",
// admin + invoke) or host.invokeKey() ("client", invoke only). Everything lives in a fresh temp
// directory; the child's stdout and stderr go to host.logPath() and are quoted in failures.
// The child is ended by its own PID in the destructor, whatever the test did.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace blueprint::testing {

/// The core_blocks.so the build produced.
std::filesystem::path corePluginPath();
/// A fixture plugin built under tests/fixtures/plugins: `<fixture dir>/<name>/<name>.so`.
std::filesystem::path fixturePluginPath(const std::string& name);

struct TestHostOptions {
  /// Plugin files copied into the host's plugin directory (default: core_blocks.so only).
  std::vector<std::filesystem::path> plugins = {corePluginPath()};
  /// Agent definitions written as `<id>.json` into the agents directory before the first start
  /// (the host deploys them at start-up).
  std::map<std::string, nlohmann::json> agents;
  /// Extra configuration keys, written to a config file passed with --config.
  nlohmann::json config = nlohmann::json::object();
  /// The listen address; port 0 picks a free port.
  std::string listen = "127.0.0.1:0";
  /// The texts of the keys "ops" and "client"; empty: a fresh random key. Hosts behind one load
  /// balancer are given the same keys.
  std::string admin_key;
  std::string invoke_key;
};

class TestHost {
 public:
  explicit TestHost(TestHostOptions options = {});
  /// Ends the child by its PID (SIGTERM, then SIGKILL past a short bound) and removes the temp
  /// directory (kept, with the log quoted, when the test failed).
  ~TestHost();
  TestHost(const TestHost&) = delete;
  TestHost& operator=(const TestHost&) = delete;

  /// Starts the binary and waits (bounded) for its `listening on` line. Fails with the captured
  /// output when the process exits or the line does not come in time.
  ::testing::AssertionResult start(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  /// stop() then start() on the same data directory (the port may change).
  ::testing::AssertionResult restart();
  /// SIGTERM, then waits up to `timeout`; SIGKILL as the last resort. Returns the exit code
  /// (128 + signal when a signal ended it), or nullopt if it had to be SIGKILLed.
  std::optional<int> stop(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  /// SIGKILL and reap: the host gets no chance to clean up.
  void kill9();
  /// Waits up to `timeout` for the child to exit by itself; its exit code (128 + signal when a
  /// signal ended it), or nullopt if it is still running. After the child ended (also inside a
  /// failed start()), the code it ended with.
  std::optional<int> waitExit(std::chrono::milliseconds timeout);
  bool running() const { return pid_ > 0; }

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  /// Key "ops": scopes admin and invoke.
  const std::string& adminKey() const { return admin_key_; }
  /// Key "client": scope invoke only.
  const std::string& invokeKey() const { return invoke_key_; }

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path dataDir() const { return dir_ / "data"; }
  std::filesystem::path agentsDir() const { return dir_ / "agents"; }
  std::filesystem::path pluginDir() const { return dir_ / "plugins"; }
  std::filesystem::path logPath() const { return dir_ / "host.log"; }
  /// Everything the child (all starts of it) wrote to stdout and stderr so far.
  std::string output() const;
  /// Writes `<agents dir>/<id>.json`; read by the host at its next start.
  void writeAgent(const std::string& id, const nlohmann::json& definition) const;

 private:
  std::optional<int> reap(std::chrono::milliseconds timeout);

  TestHostOptions options_;
  std::filesystem::path dir_;
  std::string admin_key_;
  std::string invoke_key_;
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  int port_ = 0;
};

}  // namespace blueprint::testing
