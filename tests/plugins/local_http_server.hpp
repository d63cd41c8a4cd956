// SPDX-License-Identifier: Apache-2.0
// local_http_server.hpp: a test HTTP server on 127.0.0.1 port 0 that holds thousands of
// connections on one thread, for the http plugin's client tests (http_client_test,
// http_request_deferred_test).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace blueprint::testing_support {

/// An HTTP server on 127.0.0.1 on one thread (poll), so it can hold thousands of connections:
/// reads each request head, and `delay` after it arrived sends `answer(head)` and closes.
class LocalServer {
 public:
  using Answer = std::function<std::string(const std::string& head)>;

  LocalServer(std::chrono::milliseconds delay, Answer answer)
      : delay_(delay), answer_(std::move(answer)) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const int one = 1;
    ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        ::listen(listener_, 4096) != 0)
      throw std::runtime_error("cannot listen on 127.0.0.1");
    socklen_t length = sizeof(address);
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~LocalServer() {
    stopping_ = true;
    thread_.join();
    for (auto& [fd, connection] : connections_) ::close(fd);
    ::close(listener_);
  }
  std::uint16_t port() const { return port_; }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  /// Request heads read so far.
  std::size_t requests() const { return requests_; }

 private:
  struct Connection {
    std::string head;
    bool complete = false;
    std::chrono::steady_clock::time_point arrived;
  };

  void serve() {
    while (!stopping_) {
      std::vector<pollfd> fds{{listener_, POLLIN, 0}};
      for (const auto& [fd, connection] : connections_)
        if (!connection.complete) fds.push_back({fd, POLLIN, 0});
      ::poll(fds.data(), fds.size(), 10);
      for (;;) {
        const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) break;
        connections_[fd] = Connection{};
      }
      const auto now = std::chrono::steady_clock::now();
      for (auto it = connections_.begin(); it != connections_.end();) {
        const int fd = it->first;
        Connection& c = it->second;
        bool drop = false;
        if (!c.complete) {
          char buffer[4096];
          const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
          if (n == 0) drop = true;
          if (n > 0) {
            c.head.append(buffer, static_cast<std::size_t>(n));
            if (c.head.find("\r\n\r\n") != std::string::npos) {
              c.complete = true;
              c.arrived = now;
              ++requests_;
            }
          }
        } else if (now - c.arrived >= delay_) {
          const std::string response = answer_(c.head);
          std::size_t sent = 0;
          while (sent < response.size()) {
            const ssize_t n =
                ::send(fd, response.data() + sent, response.size() - sent, MSG_NOSIGNAL);
            if (n > 0) {
              sent += static_cast<std::size_t>(n);
              continue;
            }
            if (n < 0 && errno == EAGAIN) {
              pollfd out{fd, POLLOUT, 0};
              ::poll(&out, 1, 100);
              if (stopping_) break;
              continue;
            }
            break;  // the client left
          }
          drop = true;
        }
        if (drop) {
          ::close(fd);
          it = connections_.erase(it);
        } else {
          ++it;
        }
      }
    }
  }

  std::chrono::milliseconds delay_;
  Answer answer_;
  int listener_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> requests_{0};
  std::map<int, Connection> connections_;  ///< the server thread only
  std::thread thread_;
};

inline std::string okResponse(const std::string& body = "ok") {
  return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

/// The request target of a request head ("GET /x HTTP/1.1" → "/x").
inline std::string targetOf(const std::string& head) {
  const std::size_t start = head.find(' ') + 1;
  return head.substr(start, head.find(' ', start) - start);
}

}  // namespace blueprint::testing_support
