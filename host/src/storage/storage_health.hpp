// SPDX-License-Identifier: Apache-2.0
// storage_health.hpp: whether storage takes writes now (issue 15: "storage trouble answers
// honestly"). A write that fails because the database cannot serve (StorageError::unavailable:
// a full disk, an I/O error, a lost connection) turns the host not-ready: /readyz answers 503,
// API writes answer 503 storage_unavailable with Retry-After, and one log line says so. The
// first write that succeeds again, or a write probe every `probe_interval` while it lasts,
// turns it back, with one more line. Every failure counts in
// blueprint_storage_write_failures_total. Reading the state is one relaxed atomic load.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "storage/storage.hpp"

namespace blueprint::host {

class StorageHealth {
 public:
  /// Seconds a client is told to wait (Retry-After) while writes fail.
  static constexpr int kRetryAfterSeconds = 5;

  StorageHealth(Storage& storage, std::chrono::milliseconds probe_interval);
  /// Stops the probe thread.
  ~StorageHealth();
  StorageHealth(const StorageHealth&) = delete;
  StorageHealth& operator=(const StorageHealth&) = delete;

  /// Starts the probe thread (it writes only while writes fail).
  void start();

  /// False while storage writes fail for want of space, I/O or a connection.
  bool writable() const { return writable_.load(std::memory_order_relaxed); }
  /// The reason writes fail (the last failure's text); empty while writable.
  std::string lastError() const;

  /// Counts a failed storage call. True when it is an unavailability: the host turns
  /// not-ready (logged once) and the caller answers 503 (and logs nothing itself).
  bool recordFailure(const StorageError& error);
  /// A storage write succeeded: turns the host writable again if it was not (logged once).
  void recordSuccess() {
    if (!writable_.load(std::memory_order_relaxed)) markWritable("a write succeeded");
  }

  std::uint64_t writeFailures() const { return failures_.load(std::memory_order_relaxed); }

 private:
  void markWritable(const char* how);
  void probeLoop();

  Storage& storage_;
  const std::chrono::milliseconds probe_interval_;
  std::atomic<bool> writable_{true};
  std::atomic<std::uint64_t> failures_{0};
  mutable std::mutex mutex_;
  std::string last_error_;  ///< guarded by mutex_
  std::condition_variable wake_;
  bool stopping_ = false;  ///< guarded by mutex_
  std::thread probe_;
};

}  // namespace blueprint::host
