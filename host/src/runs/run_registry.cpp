// SPDX-License-Identifier: Apache-2.0
#include "runs/run_registry.hpp"

#include <cstdint>
#include <vector>

#include "engine/json_text_size.hpp"

namespace blueprint::host {

LiveRun::LiveRun(JobRecord job)
    : job_id_(job.job_id), created_by_(job.created_by), job_(std::move(job)) {}

void LiveRun::append(std::vector<std::string> events) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& e : events) {
    event_bytes_ += e.size();
    events_.push_back(std::move(e));
  }
  cv_.notify_all();
}

void LiveRun::append(std::string event) {
  std::lock_guard<std::mutex> lock(mutex_);
  event_bytes_ += event.size();
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

void LiveRun::keepPayload(std::shared_ptr<const Json> payload) {
  std::lock_guard<std::mutex> lock(mutex_);
  payload_ = std::move(payload);
}

std::shared_ptr<const Json> LiveRun::payload() {
  std::lock_guard<std::mutex> lock(mutex_);
  return payload_;
}

std::size_t LiveRun::retainedBytes() {
  std::lock_guard<std::mutex> lock(mutex_);
  // Per-object overheads are approximated by a constant; what matters is what grows with input.
  constexpr std::size_t kPerEvent = sizeof(std::string);
  std::size_t bytes = sizeof(LiveRun) + event_bytes_ + events_.size() * kPerEvent;
  if (job_.artifact) bytes += job_.artifact->size();
  if (job_.error) bytes += job_.error->size();
  if (!job_.payload.empty()) bytes += measureJsonText(job_.payload, SIZE_MAX).bytes;
  if (payload_) bytes += measureJsonText(*payload_, SIZE_MAX).bytes;
  if (!job_.trace.empty()) bytes += measureJsonText(job_.trace, SIZE_MAX).bytes;
  if (deferred_trace_) bytes += deferred_trace_->retainedBytes();
  return bytes;
}

RunRegistry::RunRegistry(std::size_t keep_finished, std::size_t keep_bytes)
    : keep_finished_(keep_finished), keep_bytes_(keep_bytes) {}

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
  // Evicted runs are destroyed (their events, their records) after the lock is released: every
  // sync run passes through here, and none should wait for another's deallocation.
  std::vector<std::shared_ptr<LiveRun>> evicted;
  const std::size_t bytes = run->retainedBytes();
  std::lock_guard<std::mutex> lock(mutex_);
  if (active_ > 0) --active_;
  finished_order_.push_back({run->jobId(), bytes});
  finished_bytes_ += bytes;
  // The newest run always stays, so its caller can still poll it after the stream ended.
  while (finished_order_.size() > 1 &&
         (finished_order_.size() > keep_finished_ || finished_bytes_ > keep_bytes_)) {
    const Finished& oldest = finished_order_.front();
    auto it = runs_.find(oldest.job_id);
    if (it != runs_.end() && it->second->finished()) {
      evicted.push_back(std::move(it->second));
      runs_.erase(it);
    }
    finished_bytes_ -= oldest.bytes;
    finished_order_.pop_front();
  }
  if (keep_finished_ == 0 && !finished_order_.empty()) {
    auto it = runs_.find(finished_order_.front().job_id);
    if (it != runs_.end()) {
      evicted.push_back(std::move(it->second));
      runs_.erase(it);
    }
    finished_bytes_ = 0;
    finished_order_.clear();
  }
}

void RunRegistry::forgetFinished(const std::string& job_id) {
  std::shared_ptr<LiveRun> forgotten;
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = runs_.find(job_id);
  if (it == runs_.end() || !it->second->finished()) return;
  forgotten = std::move(it->second);
  runs_.erase(it);
  // Its bytes no longer count, and a later run under the same id (the retry, claimed here)
  // must not be evicted in its place.
  for (auto f = finished_order_.begin(); f != finished_order_.end(); ++f)
    if (f->job_id == job_id) {
      finished_bytes_ -= f->bytes;
      finished_order_.erase(f);
      break;
    }
}

std::size_t RunRegistry::finishedBytes() {
  std::lock_guard<std::mutex> lock(mutex_);
  return finished_bytes_;
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
