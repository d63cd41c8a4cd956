// SPDX-License-Identifier: Apache-2.0
#include "transport/handler_pool.hpp"

#include <algorithm>

#include "transport/http_connection.hpp"

namespace blueprint::host {

HandlerPool::HandlerPool(std::size_t max_threads)
    : max_threads_(std::max<std::size_t>(max_threads, 1)) {}

HandlerPool::~HandlerPool() { stop(); }

void HandlerPool::submit(std::shared_ptr<HttpConnection> connection) {
  std::lock_guard<std::mutex> lock(mutex_);
  queue_.push_back(std::move(connection));
  // A thread is started only when every idle one already has a request to take.
  if (queue_.size() > idle_ && threads_.size() < max_threads_ && !stopping_)
    threads_.emplace_back([this] { work(); });
  else
    ready_.notify_one();
}

void HandlerPool::work() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    ++idle_;
    ready_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    --idle_;
    if (queue_.empty()) return;  // stopping, nothing left
    std::shared_ptr<HttpConnection> connection = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    connection->serve();
    connection.reset();
    lock.lock();
  }
}

void HandlerPool::stop() {
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    ready_.notify_all();
    threads.swap(threads_);
  }
  for (std::thread& t : threads) t.join();
}

std::size_t HandlerPool::threads() {
  std::lock_guard<std::mutex> lock(mutex_);
  return threads_.size();
}

}  // namespace blueprint::host
