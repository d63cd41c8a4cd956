// SPDX-License-Identifier: Apache-2.0
#include "engine/worker_pool.hpp"

#include <pthread.h>

namespace blueprint::host {

namespace {
thread_local WorkerPool::ThreadKind t_kind = WorkerPool::ThreadKind::Other;
}

WorkerPool::WorkerPool(std::string name, std::size_t max_threads, ThreadKind kind, bool eager)
    : name_(std::move(name)), max_threads_(max_threads == 0 ? 1 : max_threads), kind_(kind) {
  if (!eager) return;
  std::lock_guard<std::mutex> lock(mutex_);
  for (std::size_t i = 0; i < max_threads_; ++i) startThreadLocked();
}

WorkerPool::~WorkerPool() { stop(); }

WorkerPool::ThreadKind WorkerPool::currentThreadKind() { return t_kind; }

std::size_t WorkerPool::threadCount() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return threads_.size();
}

void WorkerPool::post(std::function<void()> task) {
  bool run_here = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) {
      run_here = true;
    } else {
      tasks_.push_back(std::move(task));
      // Idle threads outnumbering waiting tasks take them; otherwise grow while allowed.
      if (idle_ < tasks_.size() && threads_.size() < max_threads_) {
        try {
          startThreadLocked();
        } catch (const std::exception&) {
          // Out of threads (a pids limit): the threads already running take the task in turn;
          // with none at all, the caller runs it.
          if (threads_.empty()) {
            task = std::move(tasks_.back());
            tasks_.pop_back();
            run_here = true;
          }
        }
      }
    }
  }
  if (!run_here) {
    wake_.notify_one();
    return;
  }
  // A stopped pool (shutdown): the caller runs the task, so a run still ends and its completion
  // is still delivered.
  try {
    task();
  } catch (...) {
  }
}

void WorkerPool::startThreadLocked() {
  threads_.emplace_back([this] { loop(); });
  const std::string thread_name = (name_ + "-" + std::to_string(threads_.size())).substr(0, 15);
  pthread_setname_np(threads_.back().native_handle(), thread_name.c_str());
}

void WorkerPool::loop() {
  t_kind = kind_;
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    ++idle_;
    wake_.wait(lock, [&] { return stopping_ || !tasks_.empty(); });
    --idle_;
    if (tasks_.empty()) return;  // stopping, and nothing left to run
    std::function<void()> task = std::move(tasks_.front());
    tasks_.pop_front();
    lock.unlock();
    try {
      task();
    } catch (...) {
    }
    task = nullptr;  // release what the task captured before waiting again
    lock.lock();
  }
}

void WorkerPool::stop() {
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    threads.swap(threads_);
  }
  wake_.notify_all();
  for (auto& t : threads)
    if (t.joinable() && t.get_id() != std::this_thread::get_id())
      t.join();
    else if (t.joinable())
      t.detach();
}

}  // namespace blueprint::host
