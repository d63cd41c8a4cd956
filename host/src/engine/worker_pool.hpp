// SPDX-License-Identifier: Apache-2.0
// worker_pool.hpp: a bounded set of threads taking tasks from one queue (issue 12). The engine
// has two: the run workers (a fixed count, started at once) run blocks that never block their
// thread, and the blocking pool (started as needed, up to its bound) runs third-party blocks
// that may block, so those never stall the workers. Nothing in the engine starts a thread of its
// own any more.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace blueprint::host {

/// A pool of at most `max_threads` threads running posted tasks in FIFO order. Thread-safe.
class WorkerPool {
 public:
  /// What kind of thread the calling thread is: one of a pool's (which) or any other.
  enum class ThreadKind { Other, Worker, Blocking };

  /// `kind` tags the pool's threads (currentThreadKind()); `eager` starts every thread now,
  /// else threads start when tasks wait and no thread is idle, up to `max_threads`.
  WorkerPool(std::string name, std::size_t max_threads, ThreadKind kind, bool eager);
  /// Runs the tasks already posted, then joins every thread (stop()).
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  /// Queues `task`; it runs on a pool thread. Tasks must not throw (an escaping exception is
  /// caught and dropped so the thread survives). After stop() the task runs on the caller.
  void post(std::function<void()> task);
  /// Lets queued tasks finish, then joins every thread. Idempotent.
  void stop();

  std::size_t maxThreads() const { return max_threads_; }
  /// Threads started so far.
  std::size_t threadCount() const;
  /// The kind of the calling thread.
  static ThreadKind currentThreadKind();

 private:
  void startThreadLocked();
  void loop();

  const std::string name_;
  const std::size_t max_threads_;
  const ThreadKind kind_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> tasks_;
  std::vector<std::thread> threads_;
  std::size_t idle_ = 0;
  bool stopping_ = false;
};

}  // namespace blueprint::host
