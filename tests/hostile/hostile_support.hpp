// SPDX-License-Identifier: Apache-2.0
// hostile_support.hpp: what every test of the trust boundary (tests/hostile/) needs.
// Start here: RawConnection sends exact bytes to a host on 127.0.0.1 (a client library would
// refuse or fix most of what these tests send) and reads back with a bounded wait;
// expectStillServing() is the closing assertion of every hostile test: the host process is
// alive, answers GET /healthz within a bound, and its resident memory and thread count stayed
// under the given ceilings.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

#include "support/test_host.hpp"

namespace blueprint::testing {

/// One TCP connection to 127.0.0.1:`port` over which raw bytes go out and come back.
/// Every read is bounded by a deadline; nothing here blocks for ever.
class RawConnection {
 public:
  explicit RawConnection(int port);
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  /// Writes all of `bytes` (false when the peer reset or closed the connection).
  bool send(const std::string& bytes);
  /// Reads whatever arrives until the peer closes or `timeout` passes; returns it all.
  std::string readUntilClose(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  /// Reads one HTTP/1.1 response (head plus a Content-Length or chunked body, or up to close
  /// when it has neither). nullopt when none arrived in full within `timeout`.
  std::optional<std::string> readResponse(
      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  /// True when the peer closed the connection (a read returns 0 or a reset) within `timeout`.
  bool closedByPeer(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  /// Half-closes the sending side (the peer sees end of input).
  void shutdownWrite();
  int fd() const { return fd_; }

 private:
  /// Bytes read past the end of the last response (pipelined answers).
  std::string pending_;
  int fd_ = -1;
};

/// The status code of a raw HTTP response text ("HTTP/1.1 400 Bad Request…" → 400), or 0.
int statusOf(const std::string& response);
/// The body of a raw HTTP response text (after the blank line; chunked bodies are decoded).
std::string bodyOf(const std::string& response);

/// A process's resident set and thread count, read from /proc/<pid>/status.
struct ProcessStats {
  std::size_t rss_kib = 0;
  int threads = 0;
};
std::optional<ProcessStats> processStats(pid_t pid);

/// The closing check of a hostile test: the host still runs, GET /healthz answers 200 within
/// 5 s on a new connection, and its RSS and thread count are at most the given bounds (the RSS
/// bound is widened in the ASan build, whose shadow memory and quarantine are resident too).
::testing::AssertionResult stillServing(const TestHost& host, std::size_t max_rss_mib = 256,
                                        int max_threads = 400);

/// `depth` nested JSON arrays around `inner`: "[[[…1…]]]".
std::string nestedArrays(std::size_t depth, const std::string& inner = "1");
/// `depth` nested JSON objects: {"a":{"a":…inner…}}.
std::string nestedObjects(std::size_t depth, const std::string& inner = "1");

}  // namespace blueprint::testing
