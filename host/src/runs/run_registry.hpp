// SPDX-License-Identifier: Apache-2.0
// run_registry.hpp: runs this host is executing or has just finished, in memory. Every sync run
// is a job that lives here (so the hot path pays no database write); async runs are here while
// they run on this host. Followers of `…/events` subscribe to a LiveRun; cancel reaches its
// RunControl. Finished runs stay, bounded by count and by bytes, so their result can still be
// fetched (issue 11, M1: a thousand runs with 19 MB each held 2 GB).
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/runner.hpp"
#include "storage/storage.hpp"

namespace blueprint::host {

/// One run in flight (or just finished) on this host.
class LiveRun {
 public:
  explicit LiveRun(JobRecord job);

  const std::string& jobId() const { return job_id_; }
  /// The name of the API key that started the run: who may see and control it (issue 11).
  const std::string& createdBy() const { return created_by_; }
  RunControl& control() { return control_; }

  /// Appends events; wakes followers.
  void append(std::vector<std::string> events);
  void append(std::string event);
  /// Events from index `from`; blocks up to `wait` for new ones when none are there yet.
  /// `finished` says whether the run has ended (and so no event will follow the ones returned).
  std::vector<std::string> eventsFrom(std::size_t from, std::chrono::milliseconds wait,
                                      bool& finished);
  std::vector<std::string> allEvents();

  /// Marks the run finished with its final job record (status, artifact, error, trace…). A
  /// `deferred_trace` (RunOptions::defer_trace) becomes the record's trace when it is first read.
  void finish(const JobRecord& final_record, std::shared_ptr<const RunTrace> deferred_trace = {});
  void setStarted(std::int64_t started_at_ms, std::int32_t attempts);
  bool finished();
  /// The job as GET /v1/agents/jobs/{id} shows it right now.
  JobRecord snapshot();

  /// Keeps the request body a sync run was triggered with (its live record has none), so the
  /// run can be retried from memory; it counts toward retainedBytes().
  void keepPayload(std::shared_ptr<const Json> payload);
  /// The kept request body, or null.
  std::shared_ptr<const Json> payload();

  /// What the run holds in memory (events, artifact, error, payload, trace), roughly in bytes.
  std::size_t retainedBytes();

  /// The sync caller went away: the run's result must be persisted when it ends.
  void markCallerGone() { caller_gone_ = true; }
  bool callerGone() const { return caller_gone_; }

 private:
  std::string job_id_;
  std::string created_by_;
  std::mutex mutex_;
  std::condition_variable cv_;
  JobRecord job_;
  std::shared_ptr<const RunTrace> deferred_trace_;
  std::shared_ptr<const Json> payload_;
  std::vector<std::string> events_;
  std::size_t event_bytes_ = 0;
  bool finished_ = false;
  std::atomic<bool> caller_gone_{false};
  RunControl control_;
};

class RunRegistry {
 public:
  /// `keep_finished`: how many finished runs stay in memory for polling; `keep_bytes`: how much
  /// they may hold together (RunRegistry evicts the oldest past either; the newest one stays).
  explicit RunRegistry(std::size_t keep_finished,
                       std::size_t keep_bytes = std::numeric_limits<std::size_t>::max());

  std::shared_ptr<LiveRun> add(JobRecord job);
  std::shared_ptr<LiveRun> find(const std::string& job_id);
  /// Moves a run to the finished list (evicting the oldest beyond the bound).
  void retire(const std::shared_ptr<LiveRun>& run);
  /// Drops a finished run (its job was retried: storage has the newer state). A run that is
  /// not finished (already claimed again) stays.
  void forgetFinished(const std::string& job_id);
  /// Cancels every run (shutdown).
  void cancelAll();
  std::size_t activeCount();
  /// Bytes the finished runs kept here hold (LiveRun::retainedBytes at their retirement).
  std::size_t finishedBytes();

 private:
  struct Finished {
    std::string job_id;
    std::size_t bytes;
  };

  std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<LiveRun>> runs_;
  std::deque<Finished> finished_order_;
  std::size_t keep_finished_;
  std::size_t keep_bytes_;
  std::size_t finished_bytes_ = 0;
  std::size_t active_ = 0;
};

}  // namespace blueprint::host
