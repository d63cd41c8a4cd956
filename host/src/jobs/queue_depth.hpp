// SPDX-License-Identifier: Apache-2.0
// queue_depth.hpp: how many jobs are queued, for the submit path's `job_queue_limit` check.
// Counting queued rows costs a scan that grows with the queue (and a round trip on PostgreSQL),
// so the count is read from storage at most every `refresh` and jobs created here since are
// added to it. The limit is a back-pressure bound, not an exact quota: several hosts or a
// refresh window may overshoot it by the jobs submitted in one window.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>

#include "storage/storage.hpp"

namespace blueprint::host {

class QueueDepth {
 public:
  QueueDepth(Storage& storage, std::chrono::milliseconds refresh)
      : storage_(storage), refresh_(refresh) {}

  /// The queued-job count, at most `refresh` old plus the jobs counted by added() since.
  std::int64_t approximate() {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto now = std::chrono::steady_clock::now();
    if (!read_once_ || now - read_at_ >= refresh_) {
      count_ = storage_.countQueued();
      read_at_ = now;
      read_once_ = true;
    }
    return count_;
  }

  /// A job was just queued by this host.
  void added() {
    std::lock_guard<std::mutex> lock(mutex_);
    ++count_;
  }

 private:
  Storage& storage_;
  const std::chrono::milliseconds refresh_;
  std::mutex mutex_;
  bool read_once_ = false;
  std::chrono::steady_clock::time_point read_at_{};
  std::int64_t count_ = 0;
};

}  // namespace blueprint::host
