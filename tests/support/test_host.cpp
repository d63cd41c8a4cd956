// SPDX-License-Identifier: Apache-2.0
#include "support/test_host.hpp"

#include <Poco/DigestEngine.h>
#include <Poco/SHA2Engine.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <thread>

extern char** environ;

namespace blueprint::testing {

namespace fs = std::filesystem;
using Json = nlohmann::json;

fs::path corePluginPath() { return fs::path(BLUEPRINT_PLUGIN_DIR) / "core_blocks.so"; }

fs::path fixturePluginPath(const std::string& name) {
  return fs::path(BLUEPRINT_FIXTURE_PLUGIN_DIR) / name / (name + ".so");
}

namespace {

std::string randomHex(std::size_t bytes) {
  std::random_device rd;
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < bytes; ++i) {
    const unsigned v = rd() & 0xffU;
    out += kHex[v >> 4];
    out += kHex[v & 0xfU];
  }
  return out;
}

std::string sha256Hex(const std::string& text) {
  Poco::SHA2Engine engine(Poco::SHA2Engine::SHA_256);
  engine.update(text);
  return Poco::DigestEngine::digestToHex(engine.digest());
}

void writeFile(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

std::string readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

int exitCodeOf(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

/// The last `max` bytes of `text`, for failure messages.
std::string tail(const std::string& text, std::size_t max = 8000) {
  return text.size() <= max ? text : "…" + text.substr(text.size() - max);
}

}  // namespace

TestHost::TestHost(TestHostOptions options) : options_(std::move(options)) {
  std::string pattern = (fs::temp_directory_path() / "bp-test-host-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr)
    throw std::runtime_error(std::string("mkdtemp failed: ") + std::strerror(errno));
  dir_ = pattern;
  fs::create_directories(dataDir());
  fs::create_directories(agentsDir());
  fs::create_directories(pluginDir());
  for (const fs::path& plugin : options_.plugins)
    fs::copy_file(plugin, pluginDir() / plugin.filename(), fs::copy_options::overwrite_existing);
  for (const auto& [id, definition] : options_.agents) writeAgent(id, definition);

  admin_key_ = options_.admin_key.empty() ? "bp_ops_" + randomHex(24) : options_.admin_key;
  invoke_key_ = options_.invoke_key.empty() ? "bp_client_" + randomHex(24) : options_.invoke_key;
  Json keys = {
      {"keys",
       {{{"name", "ops"}, {"sha256", sha256Hex(admin_key_)}, {"scopes", {"admin", "invoke"}}},
        {{"name", "client"}, {"sha256", sha256Hex(invoke_key_)}, {"scopes", {"invoke"}}}}}};
  writeFile(dir_ / "api-keys.json", keys.dump(2));
  writeFile(dir_ / "host.json", options_.config.dump(2));
}

TestHost::~TestHost() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    if (!reap(std::chrono::seconds(3))) {
      ::kill(pid_, SIGKILL);
      reap(std::chrono::seconds(10));
    }
  }
  std::error_code ec;
  if (::testing::Test::HasFailure()) {
    std::cerr << "[TestHost] kept " << dir_.string() << "; host output:\n"
              << tail(output()) << "\n";
    return;
  }
  fs::remove_all(dir_, ec);
}

void TestHost::writeAgent(const std::string& id, const Json& definition) const {
  writeFile(agentsDir() / (id + ".json"), definition.dump(2));
}

std::string TestHost::output() const { return readFile(logPath()); }

::testing::AssertionResult TestHost::start(std::chrono::milliseconds timeout) {
  if (pid_ > 0) return ::testing::AssertionFailure() << "the host is already running";
  const std::string log = logPath().string();
  const std::size_t log_start = fs::exists(logPath()) ? fs::file_size(logPath()) : 0;

  // Everything the child needs is prepared before fork: after it only async-signal-safe calls.
  std::vector<std::string> args = {BLUEPRINT_HOST_BINARY,
                                   "--config=" + (dir_ / "host.json").string(),
                                   "--listen=" + options_.listen,
                                   "--plugins=" + pluginDir().string(),
                                   "--agents=" + agentsDir().string(),
                                   "--data=" + dataDir().string(),
                                   "--api-keys=" + (dir_ / "api-keys.json").string()};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  // The test's own BLUEPRINT_* settings must not leak into the host under test.
  std::vector<std::string> env_store;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e)
    if (std::strncmp(*e, "BLUEPRINT_", 10) != 0) env_store.emplace_back(*e);
  std::vector<char*> envp;
  for (auto& e : env_store) envp.push_back(e.data());
  envp.push_back(nullptr);

  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return ::testing::AssertionFailure() << "fork failed: " << std::strerror(errno);
  if (pid == 0) {
    // The host dies with the test process, even if the test is killed.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(126);
    const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    const int in = ::open("/dev/null", O_RDONLY);
    if (out < 0 || in < 0) ::_exit(126);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(out, 2);
    // No inherited client sockets: a connection the test closes must really close.
    ::syscall(SYS_close_range, 3U, ~0U, 0U);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  pid_ = pid;
  exit_code_.reset();

  const std::string marker = "blueprint-host listening on http://";
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    const std::string text = output();
    const std::string mine = text.size() > log_start ? text.substr(log_start) : std::string();
    const auto at = mine.find(marker);
    if (at != std::string::npos) {
      const auto eol = mine.find(" (", at);
      if (eol != std::string::npos) {
        const std::string address = mine.substr(at + marker.size(), eol - at - marker.size());
        port_ = std::stoi(address.substr(address.rfind(':') + 1));
        return ::testing::AssertionSuccess();
      }
    }
    if (std::optional<int> code = reap(std::chrono::milliseconds(0)))
      return ::testing::AssertionFailure()
             << "blueprint-host exited with code " << *code << " before listening; output:\n"
             << tail(mine);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return ::testing::AssertionFailure() << "blueprint-host did not print its listening line within "
                                       << timeout.count() << " ms; output:\n"
                                       << tail(output().substr(log_start));
}

::testing::AssertionResult TestHost::restart() {
  if (pid_ > 0) {
    std::optional<int> code = stop();
    if (!code || *code != 0)
      return ::testing::AssertionFailure()
             << "stopping the host for a restart did not exit 0; output:\n"
             << tail(output());
  }
  return start();
}

std::optional<int> TestHost::reap(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return std::nullopt;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || r < 0) {
      pid_ = -1;
      exit_code_ = r < 0 ? -1 : exitCodeOf(status);
      return exit_code_;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::optional<int> TestHost::waitExit(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return exit_code_;
  return reap(timeout);
}

std::optional<int> TestHost::stop(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return std::nullopt;
  ::kill(pid_, SIGTERM);
  if (std::optional<int> code = reap(timeout)) return code;
  ADD_FAILURE() << "blueprint-host did not exit within " << timeout.count()
                << " ms of SIGTERM; killing it";
  kill9();
  return std::nullopt;
}

void TestHost::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  reap(std::chrono::seconds(10));
}

}  // namespace blueprint::testing
