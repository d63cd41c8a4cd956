// SPDX-License-Identifier: Apache-2.0
// Running as a service (issue 15): the real blueprint-host tells systemd it is ready only once
// its port answers (sd_notify over $NOTIFY_SOCKET, received here on a socket the test binds),
// reports reloads and its shutdown; --print-config and --check-config answer from the binary;
// every `blueprint` subcommand has --help.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "app/systemd_notify.hpp"
#include "support/http_client.hpp"
#include "support/test_host.hpp"

namespace fs = std::filesystem;
using blueprint::testing::httpRequest;
using blueprint::testing::TestHost;

namespace {

/// A Unix datagram socket standing in for systemd's notification socket.
class NotifySocket {
 public:
  /// `abstract`: a name in the abstract namespace ("@…"), else a file in the temp directory.
  explicit NotifySocket(bool abstract = false) {
    const std::string name =
        "bp-notify-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++);
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (abstract) {
      name_ = "@" + name;
      std::memcpy(address.sun_path + 1, name.data(), name.size());
    } else {
      name_ = (fs::temp_directory_path() / name).string();
      fs::remove(name_);
      std::memcpy(address.sun_path, name_.data(), name_.size());
    }
    const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name_.size());
    bound_ = ::bind(fd_, reinterpret_cast<const sockaddr*>(&address), length) == 0;
  }
  ~NotifySocket() {
    ::close(fd_);
    if (name_[0] == '/') fs::remove(name_);
  }
  bool bound() const { return bound_; }
  /// The value for $NOTIFY_SOCKET.
  const std::string& name() const { return name_; }
  /// The next datagram, or empty when none comes within `timeout_ms`.
  std::string receive(int timeout_ms = 20000) const {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) != 1) return {};
    std::array<char, 4096> buffer{};
    const ssize_t n = ::recv(fd_, buffer.data(), buffer.size(), 0);
    return n > 0 ? std::string(buffer.data(), static_cast<std::size_t>(n)) : std::string();
  }

 private:
  static inline int counter_ = 0;
  int fd_ = -1;
  bool bound_ = false;
  std::string name_;
};

struct CommandResult {
  int exit_code = -1;
  std::string output;  ///< stdout and stderr
};

CommandResult runCommand(const std::string& command) {
  CommandResult result;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer{};
  std::size_t n = 0;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
    result.output.append(buffer.data(), n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() { ::unsetenv(name_); }

 private:
  const char* name_;
};

TEST(SystemdNotify, SendsToFileAndAbstractSockets) {
  for (bool abstract : {false, true}) {
    NotifySocket socket(abstract);
    ASSERT_TRUE(socket.bound()) << socket.name();
    ScopedEnv env("NOTIFY_SOCKET", socket.name());
    EXPECT_TRUE(blueprint::host::notifySystemd("READY=1\nSTATUS=serving"));
    EXPECT_EQ(socket.receive(), "READY=1\nSTATUS=serving");
  }
}

TEST(SystemdNotify, DoesNothingOutsideSystemd) {
  ::unsetenv("NOTIFY_SOCKET");
  EXPECT_FALSE(blueprint::host::notifySystemd("READY=1"));
  ScopedEnv env("NOTIFY_SOCKET", "relative/path");
  EXPECT_FALSE(blueprint::host::notifySystemd("READY=1"));
}

/// A port nothing listens on right now (bound to 0, then released).
int freePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

/// GET /readyz's status, or 0 when nothing answers.
int readyzStatus(int port) {
  try {
    return httpRequest(port, "GET", "/readyz").status;
  } catch (const std::exception&) {
    return 0;
  }
}

TEST(SystemdNotify, HostIsReadyOnlyOnceItServesThenReportsReloadAndStop) {
  NotifySocket socket;
  ASSERT_TRUE(socket.bound());
  ScopedEnv env("NOTIFY_SOCKET", socket.name());
  const int port = freePort();
  blueprint::testing::TestHostOptions options;
  options.listen = "127.0.0.1:" + std::to_string(port);
  TestHost host(options);
  // Another thread asks the port the moment READY=1 arrives, as a unit ordered
  // After=blueprint-host.service would. (This thread starts the host: the child is bound to the
  // life of the thread that forks it, PR_SET_PDEATHSIG.)
  std::string ready;
  int status_when_ready = -1;
  std::thread listener([&] {
    ready = socket.receive();
    status_when_ready = readyzStatus(port);
  });
  const ::testing::AssertionResult started = host.start();
  listener.join();
  ASSERT_TRUE(started);
  ASSERT_EQ(ready, "READY=1") << host.output();
  EXPECT_EQ(status_when_ready, 200) << "READY=1 came before the host served";

  ASSERT_EQ(::kill(host.pid(), SIGHUP), 0);
  EXPECT_EQ(socket.receive(), "RELOADING=1");
  EXPECT_EQ(socket.receive(), "READY=1");
  EXPECT_EQ(readyzStatus(port), 200);

  ASSERT_EQ(host.stop(), 0);
  EXPECT_EQ(socket.receive(), "STOPPING=1");
}

TEST(SystemdNotify, NothingIsSentBeforeTheListenerServes) {
  // A host that cannot serve (its port is taken) must never claim readiness.
  NotifySocket socket;
  ASSERT_TRUE(socket.bound());
  ScopedEnv env("NOTIFY_SOCKET", socket.name());
  TestHost first;
  ASSERT_TRUE(first.start());
  EXPECT_EQ(socket.receive(), "READY=1");
  blueprint::testing::TestHostOptions options;
  options.listen = "127.0.0.1:" + std::to_string(first.port());
  TestHost second(options);
  EXPECT_FALSE(second.start());
  EXPECT_EQ(second.waitExit(std::chrono::seconds(10)), 69);
  EXPECT_EQ(socket.receive(1000), "");
}

class HostConfigFlags : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("service-test-" + std::to_string(::getpid()));
    fs::create_directories(dir_ / "plugins");
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string writeConfig(const std::string& text) {
    const fs::path file = dir_ / "host.json";
    std::ofstream(file) << text;
    return file.string();
  }
  fs::path dir_;
};

TEST_F(HostConfigFlags, PrintConfigShowsTheEffectiveConfigurationRedacted) {
  const std::string file =
      writeConfig(R"({"threads": 32, "storage": "postgresql://bp:pw-123@db/x"})");
  const CommandResult r =
      runCommand("env BLUEPRINT_THREADS=48 " BLUEPRINT_HOST_BINARY " --config " + file +
                 " --listen 127.0.0.1:9999 --print-config");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const nlohmann::json printed = nlohmann::json::parse(r.output, nullptr, false);
  ASSERT_FALSE(printed.is_discarded()) << r.output;
  EXPECT_EQ(printed["threads"], 48);               // environment over file
  EXPECT_EQ(printed["listen"], "127.0.0.1:9999");  // flag over everything
  EXPECT_EQ(printed["storage"], "postgresql://bp@db/x");
  EXPECT_EQ(r.output.find("pw-123"), std::string::npos);
}

TEST_F(HostConfigFlags, CheckConfigListsEveryProblemAndFails) {
  const std::string file = writeConfig(R"({"plugins": ")" + (dir_ / "nope").string() +
                                       R"(", "threds": 4, "job_workers": "x"})");
  const CommandResult r =
      runCommand(std::string(BLUEPRINT_HOST_BINARY) + " --config " + file + " --check-config");
  EXPECT_EQ(r.exit_code, 78) << r.output;
  EXPECT_NE(r.output.find("unknown key \"threds\""), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("\"job_workers\" has the wrong type"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("plugins: directory"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("3 problems"), std::string::npos) << r.output;
}

TEST_F(HostConfigFlags, CheckConfigPassesAGoodConfiguration) {
  const std::string file = writeConfig(R"({"plugins": ")" + (dir_ / "plugins").string() +
                                       R"(", "data": ")" + (dir_ / "data").string() + R"("})");
  const CommandResult r =
      runCommand(std::string(BLUEPRINT_HOST_BINARY) + " --config " + file + " --check-config");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_FALSE(fs::exists(dir_ / "data")) << "--check-config must not create anything";
}

TEST(BlueprintCli, EverySubcommandHasHelp) {
  for (const char* command :
       {"run", "validate", "blocks", "import-wf", "new-block", "probe", "hash-key"}) {
    const CommandResult r =
        runCommand(std::string(BLUEPRINT_CLI_BINARY) + " " + command + " --help");
    EXPECT_EQ(r.exit_code, 0) << command << ": " << r.output;
    EXPECT_NE(r.output.find(std::string("usage: blueprint ") + command), std::string::npos)
        << command << ": " << r.output;
    EXPECT_EQ(r.output.find("unknown option"), std::string::npos) << command << ": " << r.output;
  }
  const CommandResult topic = runCommand(std::string(BLUEPRINT_CLI_BINARY) + " help new-block");
  EXPECT_EQ(topic.exit_code, 0);
  EXPECT_NE(topic.output.find("--type VENDOR.TYPE"), std::string::npos) << topic.output;
  const CommandResult all = runCommand(std::string(BLUEPRINT_CLI_BINARY) + " --help");
  EXPECT_EQ(all.exit_code, 0);
  EXPECT_NE(all.output.find("hash-key <key>"), std::string::npos) << all.output;
}

TEST(BlueprintHost, HelpListsEveryFlag) {
  const CommandResult r = runCommand(std::string(BLUEPRINT_HOST_BINARY) + " --help");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  for (const char* flag : {"--config", "--listen", "--plugins", "--agents", "--data", "--storage",
                           "--api-keys", "--threads", "--watch-plugins", "--no-watch-plugins",
                           "--probe-plugins", "--print-config", "--check-config"})
    EXPECT_NE(r.output.find(flag), std::string::npos) << flag << "\n" << r.output;
}

}  // namespace
