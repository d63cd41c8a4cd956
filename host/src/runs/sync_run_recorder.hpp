// SPDX-License-Identifier: Apache-2.0
// sync_run_recorder.hpp: writes finished sync runs to storage behind their runs, in batches, so
// `GET /v1/agents/jobs/{X-Job-Id}` and `…/events` answer from every host sharing the database,
// not only from the one whose memory holds the run (issue 12, item 7). The run's caller never
// waits for it: the request thread hands the record over (one short lock) and a background
// thread turns deferred traces into JSON and writes each batch in one transaction
// (Storage::putFinishedRuns). `store_sync_runs` chooses when: `auto` (shared storage only),
// `always`, `never`.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/run_trace.hpp"
#include "storage/storage.hpp"

namespace blueprint::host {

class SyncRunRecorder {
 public:
  /// `max_pending`: records waiting to be written (a storage outage fills it); past it the oldest
  /// are dropped, counted and logged once per outage. `period`: the longest a record waits.
  SyncRunRecorder(Storage& storage, std::size_t max_pending, std::chrono::milliseconds period);
  ~SyncRunRecorder();
  SyncRunRecorder(const SyncRunRecorder&) = delete;
  SyncRunRecorder& operator=(const SyncRunRecorder&) = delete;

  /// Queues a finished run. The payload and trace are shared, not copied, on the caller's thread.
  void record(JobRecord run, std::shared_ptr<const Json> payload,
              std::shared_ptr<const RunTrace> deferred_trace, std::vector<std::string> events);
  /// Writes what is queued (retrying a failed batch until `deadline`) and stops the thread.
  void stop(std::chrono::milliseconds deadline = std::chrono::milliseconds(5000));

  std::uint64_t written() const { return written_.load(std::memory_order_relaxed); }
  std::uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  struct Pending {
    JobRecord run;
    std::shared_ptr<const Json> payload;
    std::shared_ptr<const RunTrace> trace;
    std::vector<std::string> events;
  };
  void loop();
  /// Writes up to one batch; false if storage refused it (the batch stays queued).
  bool writeBatch();

  Storage& storage_;
  const std::size_t max_pending_;
  const std::chrono::milliseconds period_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Pending> pending_;
  bool stopping_ = false;
  bool failing_ = false;      ///< storage refused the last batch (logged once until it recovers)
  bool drop_logged_ = false;  ///< a drop was logged since the last batch written
  std::atomic<std::uint64_t> written_{0}, dropped_{0};
  std::thread thread_;
};

}  // namespace blueprint::host
