// SPDX-License-Identifier: Apache-2.0
// handler_pool.hpp: the bounded pool of threads that run request handlers. The reactors never
// run a handler (it may block: a sync run that waits, a slow body); they hand complete
// requests here, in order of arrival. Threads are started as requests need them, up to the
// bound, and then kept (docs/decisions/016-event-loop-connections.md).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace blueprint::host {

class HttpConnection;

class HandlerPool {
 public:
  /// `max_threads` >= 1.
  explicit HandlerPool(std::size_t max_threads);
  ~HandlerPool();
  HandlerPool(const HandlerPool&) = delete;
  HandlerPool& operator=(const HandlerPool&) = delete;

  /// Queues `connection`'s dispatched request; a free thread serves it.
  void submit(std::shared_ptr<HttpConnection> connection);
  /// Serves what is queued, then ends and joins every thread.
  void stop();
  std::size_t threads();

 private:
  void work();

  const std::size_t max_threads_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::shared_ptr<HttpConnection>> queue_;
  std::vector<std::thread> threads_;
  std::size_t idle_ = 0;
  bool stopping_ = false;
};

}  // namespace blueprint::host
