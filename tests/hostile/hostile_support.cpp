// SPDX-License-Identifier: Apache-2.0
#include "hostile/hostile_support.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "support/http_client.hpp"

namespace blueprint::testing {

namespace {

using Clock = std::chrono::steady_clock;

int remainingMs(Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

/// Waits for input until `deadline`; true when readable (data, end of input or an error).
bool waitReadable(int fd, Clock::time_point deadline) {
  pollfd pfd{fd, POLLIN, 0};
  for (;;) {
    const int ready = ::poll(&pfd, 1, remainingMs(deadline));
    if (ready > 0) return true;
    if (ready == 0) return false;
    if (errno != EINTR) return false;
  }
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

/// The length of the first complete response in `data`, or 0 while it is incomplete.
/// `closed`: the peer closed, so a response without framing ends at the end of `data`.
std::size_t completeResponseLength(const std::string& data, bool closed) {
  const std::size_t head_end = data.find("\r\n\r\n");
  if (head_end == std::string::npos) return 0;
  const std::size_t body_start = head_end + 4;
  const std::string head = lower(data.substr(0, head_end));
  const int status = statusOf(data);
  if (status == 100) return body_start;  // interim: a response of its own
  if (status == 204 || status == 304) return body_start;
  const std::size_t cl = head.find("\r\ncontent-length:");
  if (cl != std::string::npos) {
    const std::size_t length = std::stoull(head.substr(cl + 17));
    return data.size() >= body_start + length ? body_start + length : 0;
  }
  if (head.find("\r\ntransfer-encoding: chunked") != std::string::npos) {
    std::size_t at = body_start;
    for (;;) {
      const std::size_t line_end = data.find("\r\n", at);
      if (line_end == std::string::npos) return 0;
      const std::size_t size = std::stoull(data.substr(at, line_end - at), nullptr, 16);
      at = line_end + 2 + size + 2;
      if (at > data.size()) return 0;
      if (size == 0) return at;
    }
  }
  return closed ? data.size() : 0;
}

}  // namespace

RawConnection::RawConnection(int port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    throw std::runtime_error(std::string("connect: ") + std::strerror(err));
  }
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

RawConnection::~RawConnection() {
  if (fd_ >= 0) ::close(fd_);
}

bool RawConnection::send(const std::string& bytes) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

std::string RawConnection::readUntilClose(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::string out = std::move(pending_);
  pending_.clear();
  char buf[16384];
  while (waitReadable(fd_, deadline)) {
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

std::optional<std::string> RawConnection::readResponse(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  char buf[16384];
  bool closed = false;
  for (;;) {
    if (const std::size_t length = completeResponseLength(pending_, closed); length > 0) {
      std::string response = pending_.substr(0, length);
      pending_.erase(0, length);
      return response;
    }
    if (closed || !waitReadable(fd_, deadline)) return std::nullopt;
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      closed = true;
    else
      pending_.append(buf, static_cast<std::size_t>(n));
  }
}

bool RawConnection::closedByPeer(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  char buf[16384];
  while (waitReadable(fd_, deadline)) {
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return true;
    pending_.append(buf, static_cast<std::size_t>(n));
  }
  return false;
}

void RawConnection::shutdownWrite() { ::shutdown(fd_, SHUT_WR); }

int statusOf(const std::string& response) {
  if (response.compare(0, 5, "HTTP/") != 0) return 0;
  const std::size_t space = response.find(' ');
  if (space == std::string::npos || space + 4 > response.size()) return 0;
  try {
    return std::stoi(response.substr(space + 1, 3));
  } catch (const std::exception&) {
    return 0;
  }
}

std::string bodyOf(const std::string& response) {
  const std::size_t head_end = response.find("\r\n\r\n");
  if (head_end == std::string::npos) return {};
  const std::string head = lower(response.substr(0, head_end));
  std::string body = response.substr(head_end + 4);
  if (head.find("\r\ntransfer-encoding: chunked") == std::string::npos) return body;
  std::string decoded;
  std::size_t at = 0;
  for (;;) {
    const std::size_t line_end = body.find("\r\n", at);
    if (line_end == std::string::npos) break;
    const std::size_t size = std::stoull(body.substr(at, line_end - at), nullptr, 16);
    if (size == 0) break;
    decoded += body.substr(line_end + 2, size);
    at = line_end + 2 + size + 2;
  }
  return decoded;
}

std::optional<ProcessStats> processStats(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  if (!status) return std::nullopt;
  ProcessStats stats;
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) stats.rss_kib = std::stoull(line.substr(6));
    if (line.rfind("Threads:", 0) == 0) stats.threads = std::stoi(line.substr(8));
  }
  return stats;
}

::testing::AssertionResult stillServing(const TestHost& host, std::size_t max_rss_mib,
                                        int max_threads) {
  if (!host.running() || ::kill(host.pid(), 0) != 0)
    return ::testing::AssertionFailure() << "the host is not running; its output:\n"
                                         << host.output();
  HttpResponse health;
  try {
    health = httpRequest(host.port(), "GET", "/healthz", {}, {}, std::chrono::seconds(5));
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "GET /healthz failed: " << e.what();
  }
  if (health.status != 200)
    return ::testing::AssertionFailure() << "GET /healthz answered " << health.status;
  const std::optional<ProcessStats> stats = processStats(host.pid());
  if (!stats) return ::testing::AssertionFailure() << "cannot read /proc of the host";
#if defined(__SANITIZE_ADDRESS__)
  // The ASan build checks memory errors, not memory bounds (the dev build does): its shadow
  // memory and its 256 MiB quarantine of freed blocks belong to the host's resident set.
  max_rss_mib = max_rss_mib * 2 + 512;
#endif
  if (stats->rss_kib > max_rss_mib * 1024)
    return ::testing::AssertionFailure()
           << "host RSS " << stats->rss_kib / 1024 << " MiB > " << max_rss_mib << " MiB";
  if (stats->threads > max_threads)
    return ::testing::AssertionFailure()
           << "host has " << stats->threads << " threads > " << max_threads;
  return ::testing::AssertionSuccess();
}

std::string nestedArrays(std::size_t depth, const std::string& inner) {
  std::string s(depth, '[');
  s += inner;
  s.append(depth, ']');
  return s;
}

std::string nestedObjects(std::size_t depth, const std::string& inner) {
  std::string s;
  s.reserve(depth * 6 + inner.size());
  for (std::size_t i = 0; i < depth; ++i) s += "{\"a\":";
  s += inner;
  s.append(depth, '}');
  return s;
}

}  // namespace blueprint::testing
