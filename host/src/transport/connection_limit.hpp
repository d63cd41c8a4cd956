// SPDX-License-Identifier: Apache-2.0
// connection_limit.hpp: max_connections. Past it a new connection is answered at once with 503
// and closed on the accepting thread, instead of a silent drop (a reset the client cannot tell
// from a crash). Open = accepted and not closed yet, whatever the connection is doing.
#pragma once

#include <atomic>
#include <cstdint>

namespace blueprint::host {

class ConnectionLimit {
 public:
  /// `max_open` >= 1.
  explicit ConnectionLimit(int max_open) : max_open_(max_open) {}

  /// For a connection just accepted on `fd`: true when it may be served (counted as open until
  /// closed()); false when it was answered 503 (the caller closes it).
  bool admit(int fd);
  /// An admitted connection closed.
  void closed() { open_.fetch_sub(1, std::memory_order_relaxed); }

  int open() const { return open_.load(std::memory_order_relaxed); }
  /// Connections refused so far.
  std::uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }

 private:
  const int max_open_;
  std::atomic<int> open_{0};
  std::atomic<std::uint64_t> refused_{0};
};

}  // namespace blueprint::host
