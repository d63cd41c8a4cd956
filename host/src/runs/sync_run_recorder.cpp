// SPDX-License-Identifier: Apache-2.0
#include "runs/sync_run_recorder.hpp"

#include <Poco/Logger.h>

#include <blueprint/json_limits.hpp>

namespace blueprint::host {

namespace {
/// Runs written in one transaction: enough to keep up with thousands of runs a second in a few
/// commits, small enough that one batch never holds the database for long.
constexpr std::size_t kBatch = 256;
}  // namespace

SyncRunRecorder::SyncRunRecorder(Storage& storage, std::size_t max_pending,
                                 std::chrono::milliseconds period)
    : storage_(storage), max_pending_(std::max<std::size_t>(1, max_pending)), period_(period) {
  thread_ = std::thread([this] { loop(); });
}

SyncRunRecorder::~SyncRunRecorder() { stop(); }

void SyncRunRecorder::record(JobRecord run, std::shared_ptr<const Json> payload,
                             std::shared_ptr<const RunTrace> deferred_trace,
                             std::vector<std::string> events) {
  bool overflowed = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return;
    if (pending_.size() >= max_pending_) {
      pending_.pop_front();
      dropped_.fetch_add(1, std::memory_order_relaxed);
      overflowed = !drop_logged_;
      drop_logged_ = true;
    }
    pending_.push_back(
        {std::move(run), std::move(payload), std::move(deferred_trace), std::move(events)});
    // Woken only for a full batch: otherwise the period collects them, so a busy host pays
    // no wake-up per run.
    if (pending_.size() == kBatch) wake_.notify_one();
  }
  if (overflowed)
    Poco::Logger::get("blueprint.jobs")
        .warning(
            "finished sync runs are arriving faster than storage takes them: the oldest "
            "unwritten records are dropped (their callers had their results; other hosts "
            "cannot look them up)");
}

bool SyncRunRecorder::writeBatch() {
  std::vector<Pending> batch;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const std::size_t n = std::min(kBatch, pending_.size());
    batch.reserve(n);
    for (std::size_t i = 0; i < n; ++i) batch.push_back(std::move(pending_[i]));
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(n));
  }
  if (batch.empty()) return true;
  std::vector<FinishedRun> runs;
  runs.reserve(batch.size());
  for (Pending& p : batch) {
    FinishedRun run{p.run, p.events};
    if (p.payload) run.job.payload = *p.payload;
    if (p.trace) run.job.trace = p.trace->toJson();
    runs.push_back(std::move(run));
  }
  auto& log = Poco::Logger::get("blueprint.jobs");
  try {
    storage_.putFinishedRuns(runs);
  } catch (const std::exception& e) {
    std::lock_guard<std::mutex> lock(mutex_);
    // Back to the front, in order, within the bound: the next period tries again.
    for (auto it = batch.rbegin(); it != batch.rend(); ++it) {
      if (pending_.size() >= max_pending_) {
        dropped_.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      pending_.push_front(std::move(*it));
    }
    if (!failing_)
      log.error(
          "storing finished sync runs failed: %s; retrying (until it works, only this host "
          "can look them up)",
          toValidUtf8(e.what()));
    failing_ = true;
    return false;
  }
  written_.fetch_add(runs.size(), std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(mutex_);
  if (failing_) log.information("storing finished sync runs works again");
  failing_ = false;
  drop_logged_ = false;
  return true;
}

void SyncRunRecorder::loop() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait_for(lock, period_, [&] { return stopping_ || pending_.size() >= kBatch; });
      if (stopping_) return;  // stop() writes the rest
    }
    // Everything that was queued now, batch by batch; after a failure, wait a period.
    while (writeBatch()) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (pending_.empty() || stopping_) break;
    }
  }
}

void SyncRunRecorder::stop(std::chrono::milliseconds deadline) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
    wake_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  const auto until = std::chrono::steady_clock::now() + deadline;
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (pending_.empty()) return;
    }
    if (!writeBatch()) {
      if (std::chrono::steady_clock::now() >= until) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  std::lock_guard<std::mutex> lock(mutex_);
  if (!pending_.empty()) {
    Poco::Logger::get("blueprint.jobs")
        .error("%z finished sync runs could not be stored before shutdown", pending_.size());
    dropped_.fetch_add(pending_.size(), std::memory_order_relaxed);
    pending_.clear();
  }
}

}  // namespace blueprint::host
