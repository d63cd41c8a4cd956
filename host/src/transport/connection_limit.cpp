// SPDX-License-Identifier: Apache-2.0
#include "transport/connection_limit.hpp"

#include <sys/socket.h>

#include <string>

namespace blueprint::host {

namespace {

/// The whole answer, made once: nothing on this path may allocate per connection or block.
const std::string& refusal() {
  static const std::string text = [] {
    const std::string body =
        R"({"error":{"code":"too_many_connections","message":"this host has its limit of open )"
        R"(connections (max_connections); retry later"}})";
    return "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
           "Retry-After: 1\r\nConnection: close\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
  }();
  return text;
}

}  // namespace

bool ConnectionLimit::admit(int fd) {
  if (open_.fetch_add(1, std::memory_order_relaxed) < max_open_) return true;
  open_.fetch_sub(1, std::memory_order_relaxed);
  refused_.fetch_add(1, std::memory_order_relaxed);
  // On the accepting thread: never block it. A fresh socket's send buffer takes these bytes
  // whole; whatever the client already sent is read first, so closing does not reset the
  // connection and destroy the answer before the client reads it.
  char discard[4096];
  for (int i = 0; i < 16 && ::recv(fd, discard, sizeof(discard), MSG_DONTWAIT) > 0; ++i) {
  }
  const std::string& answer = refusal();
  (void)::send(fd, answer.data(), answer.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  ::shutdown(fd, SHUT_WR);
  return false;
}

}  // namespace blueprint::host
