// SPDX-License-Identifier: Apache-2.0
#include "jobs/run_registry.hpp"

namespace blueprint::host {

LiveRun::LiveRun(JobRecord job)
    : job_id_(job.job_id), created_by_(job.created_by), job_(std::move(job)) {}

void LiveRun::append(std::vector<std::string> events) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& e : events) events_.push_back(std::move(e));
  cv_.notify_all();
}

void LiveRun::append(std::string event) {
  std::lock_guard<std::mutex> lock(mutex_);
  events_.push_back(std::move(event));
  cv_.notify_all();
}

std::vector<std::string> LiveRun::eventsFrom(std::size_t from, std::chrono::milliseconds wait,
                                             bool& finished) {
  std::unique_lock<std::mutex> lock(mutex_);
  cv_.wait_for(lock, wait, [&] { return events_.size() > from || finished_; });
  finished = finished_;
  if (from >= events_.size()) return {};
  return std::vector<std::string>(events_.begin() + static_cast<std::ptrdiff_t>(from),
                                  events_.end());
}

std::vector<std::string> LiveRun::allEvents() {
  std::lock_guard<std::mutex> lock(mutex_);
  return events_;
}

void LiveRun::finish(const JobRecord& final_record,
                     std::shared_ptr<const RunTrace> deferred_trace) {
  std::lock_guard<std::mutex> lock(mutex_);
  job_ = final_record;
  deferred_trace_ = std::move(deferred_trace);
  finished_ = true;
  cv_.notify_all();
}

void LiveRun::setStarted(std::int64_t started_at_ms, std::int32_t attempts) {
  std::lock_guard<std::mutex> lock(mutex_);
  job_.status = job_status::kInProgress;
  job_.started_at_ms = started_at_ms;
  job_.attempts = attempts;
}

bool LiveRun::finished() {
  std::lock_guard<std::mutex> lock(mutex_);
  return finished_;
}

JobRecord LiveRun::snapshot() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (deferred_trace_) {
    job_.trace = deferred_trace_->toJson();
    deferred_trace_.reset();
  }
  return job_;
}

RunRegistry::RunRegistry(std::size_t keep_finished) : keep_finished_(keep_finished) {}

std::shared_ptr<LiveRun> RunRegistry::add(JobRecord job) {
  auto run = std::make_shared<LiveRun>(std::move(job));
  std::lock_guard<std::mutex> lock(mutex_);
  runs_[run->jobId()] = run;
  ++active_;
  return run;
}

std::shared_ptr<LiveRun> RunRegistry::find(const std::string& job_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = runs_.find(job_id);
  return it == runs_.end() ? nullptr : it->second;
}

void RunRegistry::retire(const std::shared_ptr<LiveRun>& run) {
  // An evicted run is destroyed (its events, its record) after the lock is released: every
  // sync run passes through here, and none should wait for another's deallocation.
  std::shared_ptr<LiveRun> evicted;
  std::lock_guard<std::mutex> lock(mutex_);
  if (active_ > 0) --active_;
  finished_order_.push_back(run->jobId());
  while (finished_order_.size() > keep_finished_) {
    auto it = runs_.find(finished_order_.front());
    if (it != runs_.end()) {
      evicted = std::move(it->second);
      runs_.erase(it);
    }
    finished_order_.pop_front();
  }
}

void RunRegistry::forgetFinished(const std::string& job_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = runs_.find(job_id);
  if (it != runs_.end() && it->second->finished()) runs_.erase(it);
}

void RunRegistry::cancelAll() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [id, run] : runs_) run->control().cancel();
}

std::size_t RunRegistry::activeCount() {
  std::lock_guard<std::mutex> lock(mutex_);
  return active_;
}

}  // namespace blueprint::host
