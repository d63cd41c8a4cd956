// SPDX-License-Identifier: Apache-2.0
#include "support/concurrent_requests.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

namespace blueprint::testing {

namespace {

using Clock = std::chrono::steady_clock;

struct Request {
  int fd = -1;
  std::size_t written = 0;
  std::string answer;
  Clock::time_point started;
  bool finished = false;
  bool silent = false;  ///< connected, no answer bytes yet
};

/// The status code of an answer's first line; 0 when there is none yet.
int statusOf(const std::string& answer) {
  if (answer.size() < 12 || answer.compare(0, 5, "HTTP/") != 0) return 0;
  return std::atoi(answer.c_str() + 9);
}

/// True when `answer` holds a whole answer: a stream ended with [DONE] and the last chunk, or a
/// body as long as its Content-Length.
bool complete(const std::string& answer) {
  const std::size_t head_end = answer.find("\r\n\r\n");
  if (head_end == std::string::npos) return false;
  const std::string head = answer.substr(0, head_end);
  std::string lower = head;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const std::size_t body_start = head_end + 4;
  const std::size_t cl = lower.find("\r\ncontent-length:");
  if (cl != std::string::npos) {
    const std::size_t length = std::strtoull(lower.c_str() + cl + 17, nullptr, 10);
    return answer.size() - body_start >= length;
  }
  if (lower.find("transfer-encoding: chunked") != std::string::npos)
    return answer.size() >= 5 && answer.compare(answer.size() - 5, 5, "0\r\n\r\n") == 0;
  return false;  // read until the server closes
}

}  // namespace

std::uint64_t raiseOpenFileLimit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  limit.rlim_cur = limit.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &limit);
  ::getrlimit(RLIMIT_NOFILE, &limit);
  return static_cast<std::uint64_t>(limit.rlim_cur);
}

ConcurrentResult runConcurrentRequests(std::uint16_t port, const std::string& request,
                                       std::size_t count, std::chrono::milliseconds timeout,
                                       std::size_t connect_burst) {
  raiseOpenFileLimit();
  ConcurrentResult result;
  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  std::vector<Request> requests(count);
  const Clock::time_point start = Clock::now();
  const Clock::time_point deadline = start + timeout;
  std::size_t next = 0, open = 0, ended = 0, silent = 0;
  auto heard = [&](Request& r) {
    if (!r.silent) return;
    r.silent = false;
    --silent;
  };
  auto fail = [&](Request& r, const std::string& why) {
    if (r.finished) return;
    heard(r);
    r.finished = true;
    ++ended;
    ++result.failed;
    if (result.first_failure.empty()) result.first_failure = why;
    if (r.fd >= 0) {
      ::close(r.fd);
      r.fd = -1;
      --open;
    }
  };
  auto finish = [&](Request& r) {
    heard(r);
    const int status = statusOf(r.answer);
    ++result.statuses[status];
    // A run's stream that ends in an error or a cancellation ends with [DONE] too.
    const bool ok = status == 200 && r.answer.find("data: [DONE]") != std::string::npos &&
                    r.answer.find(R"({"status":"error")") == std::string::npos &&
                    r.answer.find(R"({"status":"cancelled")") == std::string::npos;
    if (!ok) {
      fail(r, "status " + std::to_string(status) + ": " + r.answer.substr(0, 300));
      return;
    }
    r.finished = true;
    ++ended;
    ++result.done;
    result.slowest =
        std::max(result.slowest,
                 std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - r.started));
    ::close(r.fd);
    r.fd = -1;
    --open;
  };
  auto flushWrite = [&](Request& r) {
    while (r.written < request.size()) {
      const ssize_t n =
          ::send(r.fd, request.data() + r.written, request.size() - r.written, MSG_NOSIGNAL);
      if (n > 0) {
        r.written += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      fail(r, std::string("send: ") + std::strerror(errno));
      return;
    }
  };
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::vector<epoll_event> events(1024);
  while (ended < count && Clock::now() < deadline) {
    // At most connect_burst requests wait for their first answer bytes at a time, so the
    // server's listen backlog is never flooded faster than it accepts (a dropped SYN costs a
    // second). The host writes a run's first events before a block waits, so a waiting run
    // does not hold the burst.
    while (next < count && silent < connect_burst) {
      Request& r = requests[next++];
      r.started = Clock::now();
      r.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (r.fd < 0) {
        fail(r, std::string("socket: ") + std::strerror(errno));
        continue;
      }
      ++open;
      ++silent;
      r.silent = true;
      const int one = 1;
      ::setsockopt(r.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      if (::connect(r.fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 &&
          errno != EINPROGRESS) {
        fail(r, std::string("connect: ") + std::strerror(errno));
        continue;
      }
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP;
      ev.data.u64 = next - 1;
      ::epoll_ctl(ep, EPOLL_CTL_ADD, r.fd, &ev);
    }
    const int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), 10);
    for (int i = 0; i < n; ++i) {
      Request& r = requests[events[i].data.u64];
      if (r.finished || r.fd < 0) continue;
      if (events[i].events & EPOLLOUT) {
        if (r.written < request.size()) flushWrite(r);
        if (r.finished) continue;
        if (r.written == request.size()) {
          epoll_event ev{};
          ev.events = EPOLLIN | EPOLLRDHUP;
          ev.data.u64 = events[i].data.u64;
          ::epoll_ctl(ep, EPOLL_CTL_MOD, r.fd, &ev);
        }
      }
      if (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        char buf[16384];
        for (;;) {
          const ssize_t got = ::recv(r.fd, buf, sizeof(buf), 0);
          if (got > 0) {
            heard(r);
            r.answer.append(buf, static_cast<std::size_t>(got));
            if (complete(r.answer)) {
              finish(r);
              break;
            }
            continue;
          }
          if (got == 0) {
            // Closed by the server: whole if it carried a stream's end.
            finish(r);
            break;
          }
          if (errno == EAGAIN || errno == EWOULDBLOCK) break;
          fail(r, std::string("recv: ") + std::strerror(errno));
          break;
        }
      }
    }
  }
  for (Request& r : requests)
    if (!r.finished)
      fail(r, r.started == Clock::time_point() ? "never started (timeout)" : "timed out");
  ::close(ep);
  result.wall = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  return result;
}

}  // namespace blueprint::testing
