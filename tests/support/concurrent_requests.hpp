// SPDX-License-Identifier: Apache-2.0
// concurrent_requests.hpp: many requests in flight at once from one thread (non-blocking sockets
// on epoll), each on its own connection, each read to the end of its answer. For the tests and
// the benchmark of runs that wait (issue 12): 2,000 or 10,000 sync runs that each wait in a
// block, all open at the same time, with no client thread per request.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

namespace blueprint::testing {

struct ConcurrentResult {
  /// Answers that ended as a completed run's stream ends (`data: [DONE]` and the end of the
  /// body, with no error or cancelled status event).
  std::size_t done = 0;
  /// Requests that could not connect, were cut off, timed out or got another answer.
  std::size_t failed = 0;
  /// Status codes of the answers, counted.
  std::map<int, std::size_t> statuses;
  /// From the first connect to the last answer.
  std::chrono::milliseconds wall{0};
  /// The slowest answer, from its connect to its end.
  std::chrono::milliseconds slowest{0};
  /// The first failure's description, for a test's message.
  std::string first_failure;
};

/// Opens `count` connections to 127.0.0.1:`port` (at most `connect_burst` connecting at once),
/// writes `request` (the whole raw request, `Connection: close` advised) on each, and reads
/// each answer to its end, until `timeout` has passed. Raises the process's open-file limit
/// to its hard limit first; a count beyond it fails the excess requests.
ConcurrentResult runConcurrentRequests(std::uint16_t port, const std::string& request,
                                       std::size_t count, std::chrono::milliseconds timeout,
                                       std::size_t connect_burst = 512);

/// Raises RLIMIT_NOFILE's soft limit to its hard limit (children inherit it); returns the new
/// soft limit.
std::uint64_t raiseOpenFileLimit();

}  // namespace blueprint::testing
