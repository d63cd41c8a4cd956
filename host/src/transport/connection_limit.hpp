// SPDX-License-Identifier: Apache-2.0
// connection_limit.hpp: max_connections. Past it a new connection is answered at once with 503
// and closed on the accepting thread, instead of Poco's silent drop (a reset the client cannot
// tell from a crash) when its accept queue is full. Open = served + waiting for a thread.
#pragma once

#include <Poco/Net/TCPServer.h>

#include <atomic>
#include <cstdint>

namespace blueprint::host {

class ConnectionLimit final : public Poco::Net::TCPServerConnectionFilter {
 public:
  /// `server` outlives the filter (it owns it). `max_open` >= 1.
  ConnectionLimit(const Poco::Net::TCPServer& server, int max_open)
      : server_(server), max_open_(max_open) {}

  bool accept(const Poco::Net::StreamSocket& socket) override;

  /// Connections refused so far.
  std::uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }

 private:
  const Poco::Net::TCPServer& server_;
  const int max_open_;
  std::atomic<std::uint64_t> refused_{0};
};

}  // namespace blueprint::host
