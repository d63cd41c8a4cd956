// SPDX-License-Identifier: Apache-2.0
// queue_depth.hpp: how many jobs are queued, for the submit path's `job_queue_limit` check and
// the blueprint_jobs_queued gauge. Counting queued rows costs a scan that grows with the queue
// (and a round trip on PostgreSQL), so neither a submit nor a scrape counts: a background
// thread reads the count every `refresh`, and jobs created here since are added to it. Reading
// it is one atomic load. The limit is a back-pressure bound, not an exact quota: several hosts
// or a refresh window may overshoot it by the jobs submitted in one window.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "storage/storage.hpp"

namespace blueprint::host {

class QueueDepth {
 public:
  /// Reads the count once now (a storage failure leaves it at 0 until the next refresh) and
  /// starts the refresh thread.
  QueueDepth(Storage& storage, std::chrono::milliseconds refresh)
      : storage_(storage), refresh_(refresh) {
    read();
    thread_ = std::thread([this] { refreshLoop(); });
  }
  ~QueueDepth() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  QueueDepth(const QueueDepth&) = delete;
  QueueDepth& operator=(const QueueDepth&) = delete;

  /// The queued-job count, at most `refresh` old plus the jobs counted by added() since.
  std::int64_t approximate() const { return count_.load(std::memory_order_relaxed); }

  /// A job was just queued by this host.
  void added() { count_.fetch_add(1, std::memory_order_relaxed); }

 private:
  void read() {
    try {
      count_.store(storage_.countQueued(), std::memory_order_relaxed);
    } catch (const std::exception&) {
      // Storage trouble is reported by the writes that fail (StorageHealth); the last count
      // stands until a read succeeds.
    }
  }

  void refreshLoop() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopping_) {
      wake_.wait_for(lock, refresh_);
      if (stopping_) break;
      lock.unlock();
      read();
      lock.lock();
    }
  }

  Storage& storage_;
  const std::chrono::milliseconds refresh_;
  std::atomic<std::int64_t> count_{0};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  ///< guarded by mutex_
  std::thread thread_;
};

}  // namespace blueprint::host
