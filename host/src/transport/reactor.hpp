// SPDX-License-Identifier: Apache-2.0
// reactor.hpp: one event-loop thread and the connections it owns, on an edge-triggered epoll
// instance of its own (docs/decisions/016-event-loop-connections.md). Each connection is
// registered once for input, output and the peer's close; other threads hand connections back
// through a queue and an eventfd. Deadlines are checked by a sweep every kTick.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

namespace blueprint::host {

class HttpConnection;
struct ConnectionContext;

class Reactor {
 public:
  explicit Reactor(ConnectionContext& context);
  ~Reactor();
  Reactor(const Reactor&) = delete;
  Reactor& operator=(const Reactor&) = delete;

  void start();
  /// Takes an accepted non-blocking socket over (any thread).
  void adopt(int fd);
  /// Hands a connection back to this reactor (any thread): its answer completed.
  void post(std::shared_ptr<HttpConnection> connection);
  /// Runs the deadline sweep at once (any thread): shutdown closes idle connections.
  void sweepNow();
  /// Closes every connection; one still being answered closes when its handler returns.
  void abortAll();
  /// Ends the loop and joins it; connections left are closed.
  void stop();
  /// Open connections owned by this reactor.
  std::size_t connections() const { return count_.load(std::memory_order_relaxed); }

  /// The reactor thread: `connection` closed (its socket leaves the epoll set now; the object
  /// lives until the current batch of events is done).
  void remove(HttpConnection& connection);

 private:
  void loop();
  void wake();
  void takeInbox();
  void sweep();

  ConnectionContext& context_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> count_{0};

  std::mutex inbox_mutex_;
  std::vector<int> adopted_;
  std::vector<std::shared_ptr<HttpConnection>> resumed_;
  bool sweep_now_ = false;
  bool abort_all_ = false;
  bool woken_ = false;

  // The reactor thread's own.
  std::unordered_map<HttpConnection*, std::shared_ptr<HttpConnection>> live_;
  std::vector<std::shared_ptr<HttpConnection>> closed_;
  std::chrono::steady_clock::time_point last_sweep_;
};

}  // namespace blueprint::host
