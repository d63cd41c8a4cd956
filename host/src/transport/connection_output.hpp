// SPDX-License-Identifier: Apache-2.0
// connection_output.hpp: the sending side of one non-blocking HTTP connection. Any thread may
// write (the handler thread, a deferred response's holder, the SSE heartbeat); what the socket
// takes at once leaves in that same send(2), the rest waits in a queue that the connection's
// reactor sends when epoll says the socket is writable. The queue is capped: a writer past the
// cap waits until the reactor drains below it, or fails once no byte has left for the send
// timeout, so a client that stops reading stalls only its own answer
// (docs/decisions/016-event-loop-connections.md).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <string>

namespace blueprint::host {

class ConnectionOutput {
 public:
  using Clock = std::chrono::steady_clock;

  /// `fd`: a connected non-blocking socket (not owned). `max_queued_bytes` >= 1.
  ConnectionOutput(int fd, std::size_t max_queued_bytes, std::chrono::milliseconds send_timeout);

  /// Sends or queues all of `data`. Blocks while the queue is at its cap; false when the bytes
  /// cannot all go out: the peer left, the socket failed, or nothing was sent for the send
  /// timeout (the output is failed then, for every later write too).
  bool write(const char* data, std::size_t size);

  enum class Flush { Empty, Pending, Failed };
  /// The reactor's part: sends queued bytes until the queue is empty or the socket is full.
  Flush flush();

  /// Whether queued bytes have waited for the socket longer than the send timeout.
  bool stalled(Clock::time_point now);
  bool empty();
  bool failed();
  /// Fails the output: blocked and later writers return false at once.
  void fail();
  /// From now on a write that would pass the cap fails the output instead of waiting: for an
  /// answer written by the engine's threads (a detached sync run), which must never block on
  /// a client that stopped reading. Its run goes on without that client.
  void failWhenFull();

 private:
  /// Sends from the queue; the lock is held.
  Flush sendQueued();

  const int fd_;
  const std::size_t max_queued_bytes_;
  const std::chrono::milliseconds send_timeout_;
  std::mutex mutex_;
  std::condition_variable drained_;
  std::string queue_;
  std::size_t sent_ = 0;  // bytes at the queue's front already sent
  bool failed_ = false;
  bool fail_when_full_ = false;
  /// When a byte last left while bytes were queued (or when queuing began).
  Clock::time_point last_progress_;
};

}  // namespace blueprint::host
