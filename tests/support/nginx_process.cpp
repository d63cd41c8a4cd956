// SPDX-License-Identifier: Apache-2.0
// nginx_process.cpp: see nginx_process.hpp.
#include "support/nginx_process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

namespace blueprint::testing {

namespace fs = std::filesystem;

namespace {

std::string readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string tail(const std::string& text, std::size_t max = 6000) {
  return text.size() <= max ? text : "…" + text.substr(text.size() - max);
}

bool isExecutable(const fs::path& path) {
  return !path.empty() && ::access(path.c_str(), X_OK) == 0 && fs::is_regular_file(path);
}

/// Whether 127.0.0.1:`port` accepts a TCP connection.
bool accepts(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

fs::path findNginx() {
  if (const char* configured = std::getenv(kNginxVariable); configured && *configured) {
    if (isExecutable(configured)) return configured;
    throw std::runtime_error(std::string(kNginxVariable) + "=" + configured +
                             " is not an executable file");
  }
  if (const char* path = std::getenv("PATH")) {
    std::istringstream dirs(path);
    for (std::string dir; std::getline(dirs, dir, ':');)
      if (!dir.empty() && isExecutable(fs::path(dir) / "nginx")) return fs::path(dir) / "nginx";
  }
  if (isExecutable("/usr/sbin/nginx")) return "/usr/sbin/nginx";
  throw std::runtime_error(
      "nginx was not found (not on PATH, not /usr/sbin/nginx): run scripts/install-deps (it "
      "installs the Debian 'nginx-light' package), or set " +
      std::string(kNginxVariable) + " to an nginx binary");
}

int freeLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &size) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    throw std::runtime_error("cannot find a free loopback port: " + why);
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

NginxProcess::NginxProcess() {
  std::string pattern = (fs::temp_directory_path() / "bp-test-nginx-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr)
    throw std::runtime_error(std::string("mkdtemp failed: ") + std::strerror(errno));
  dir_ = pattern;
  // Started as root, nginx runs its workers as an unprivileged user; they must reach the temp
  // directories nginx creates (and hands to that user) inside the prefix.
  fs::permissions(dir_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                            fs::perms::others_read | fs::perms::others_exec);
}

NginxProcess::~NginxProcess() {
  stop();
  if (::testing::Test::HasFailure()) {
    std::cerr << "[NginxProcess] kept " << dir_.string() << "; error.log:\n"
              << tail(errorLog()) << "\n";
    return;
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::string NginxProcess::errorLog() const {
  return readFile(dir_ / "error.log") + readFile(dir_ / "stderr.log");
}

std::string NginxProcess::accessLog() const { return readFile(dir_ / "access.log"); }

bool NginxProcess::addressInUse() const {
  return errorLog().find("Address already in use") != std::string::npos;
}

::testing::AssertionResult NginxProcess::start(const std::string& config, int port,
                                               std::chrono::milliseconds timeout) {
  if (pid_ > 0) return ::testing::AssertionFailure() << "nginx is already running";
  fs::path program;
  try {
    program = findNginx();
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << e.what();
  }
  const fs::path conf = dir_ / "nginx.conf";
  const fs::path pid_file = dir_ / "nginx.pid";
  {
    std::ofstream out(conf, std::ios::binary | std::ios::trunc);
    out << config;
    if (!out) return ::testing::AssertionFailure() << "cannot write " << conf;
  }
  std::error_code ec;
  fs::remove(pid_file, ec);
  fs::remove(dir_ / "error.log", ec);
  fs::remove(dir_ / "stderr.log", ec);

  // Everything the child needs is prepared before fork: after it only async-signal-safe calls.
  std::vector<std::string> args = {program.string(), "-p", dir_.string() + "/", "-e",
                                   "error.log",      "-c", conf.string(),       "-g",
                                   "daemon off;"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string log = (dir_ / "stderr.log").string();

  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return ::testing::AssertionFailure() << "fork failed: " << std::strerror(errno);
  if (pid == 0) {
    // When the test process dies, the master gets SIGTERM: a fast shutdown that also ends its
    // workers (SIGKILL would leave them running, holding the port).
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(126);
    const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    const int in = ::open("/dev/null", O_RDONLY);
    if (out < 0 || in < 0) ::_exit(126);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(out, 2);
    ::syscall(SYS_close_range, 3U, ~0U, 0U);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  pid_ = pid;
  port_ = port;

  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    // The master writes its pid file after it has bound the listening sockets.
    const std::string named = readFile(pid_file);
    if (!named.empty() && std::atoi(named.c_str()) == pid_ && accepts(port))
      return ::testing::AssertionSuccess();
    if (reap(std::chrono::milliseconds(0)))
      return ::testing::AssertionFailure()
             << "nginx exited before serving on 127.0.0.1:" << port << "; error log:\n"
             << tail(errorLog());
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const std::string log_text = errorLog();
  stop();
  return ::testing::AssertionFailure() << "nginx did not serve on 127.0.0.1:" << port << " within "
                                       << timeout.count() << " ms; error log:\n"
                                       << tail(log_text);
}

bool NginxProcess::reap(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return true;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || r < 0) {
      pid_ = -1;
      return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void NginxProcess::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  if (reap(std::chrono::seconds(10))) return;
  ADD_FAILURE() << "nginx (pid " << pid_ << ") did not stop within 10 s of SIGTERM; killing it";
  ::kill(pid_, SIGKILL);
  reap(std::chrono::seconds(10));
}

}  // namespace blueprint::testing
