// SPDX-License-Identifier: Apache-2.0
#include "runs/job_worker.hpp"

#include <Poco/Logger.h>

#include <algorithm>
#include <blueprint/json_limits.hpp>

#include "logging/log_fields.hpp"
#include "runs/run_events.hpp"
#include "runs/run_outcome.hpp"

namespace blueprint::host {

namespace {

/// Records an async run's deltas in its LiveRun, for followers of …/events on this host.
class LiveRunObserver final : public RunObserver {
 public:
  explicit LiveRunObserver(LiveRun& live) : live_(live) {}
  void onDelta(std::string_view text) override { live_.append(run_events::delta(text)); }

 private:
  LiveRun& live_;
};

/// How long one Storage::waitForJobs call blocks: the bound on how long stop() waits for the
/// announcement thread.
constexpr std::chrono::milliseconds kAnnouncementWait{250};

}  // namespace

JobWorker::JobWorker(Storage& storage, AgentService& agents, RunRegistry& registry,
                     const RunOptions& options, JobWorkerConfig config)
    : storage_(storage), agents_(agents), registry_(registry), options_(options), config_(config) {}

JobWorker::~JobWorker() { stop(); }

void JobWorker::start() {
  stopping_ = false;
  for (int i = 0; i < config_.threads; ++i) threads_.emplace_back([this] { workerLoop(); });
  lease_thread_ = std::thread([this] { leaseLoop(); });
  // A host without workers (one that only accepts jobs) has nobody to wake.
  if (config_.threads > 0) announcement_thread_ = std::thread([this] { announcementLoop(); });
}

void JobWorker::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
    for (auto& [id, a] : active_) a->live->control().cancel();
    wake_.notify_all();
    lease_wake_.notify_all();
  }
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
  if (lease_thread_.joinable()) lease_thread_.join();
  if (announcement_thread_.joinable()) announcement_thread_.join();
}

void JobWorker::notify() {
  std::lock_guard<std::mutex> lock(mutex_);
  wakeWorkersLocked(1);
}

void JobWorker::wakeWorkersLocked(std::uint64_t count) {
  // More pending wake-ups than workers would only make them claim in vain after a burst.
  const auto workers = static_cast<std::uint64_t>(std::max(config_.threads, 1));
  pending_wakes_ = std::min(pending_wakes_ + count, workers);
  if (count == 1)
    wake_.notify_one();
  else
    wake_.notify_all();
}

bool JobWorker::reportedAsStorageTrouble(const std::exception& error) {
  const auto* storage_error = dynamic_cast<const StorageError*>(&error);
  return storage_error != nullptr && config_.storage_health != nullptr &&
         config_.storage_health->recordFailure(*storage_error);
}

void JobWorker::announcementLoop() {
  auto& log = Poco::Logger::get("blueprint.jobs");
  while (!stopping_) {
    bool announced = false;
    try {
      announced = storage_.waitForJobs(kAnnouncementWait);
    } catch (const std::exception& e) {
      // The poll keeps the queue moving meanwhile; try again after a pause.
      log.error("waiting for job announcements failed: %s", std::string(e.what()));
      std::this_thread::sleep_for(kAnnouncementWait);
      continue;
    }
    if (!announced) continue;
    // One announcement may stand for many jobs (they are coalesced): wake every idle worker.
    std::lock_guard<std::mutex> lock(mutex_);
    wakeWorkersLocked(static_cast<std::uint64_t>(std::max(config_.threads, 1)));
  }
}

std::size_t JobWorker::running() {
  std::lock_guard<std::mutex> lock(mutex_);
  return active_.size();
}

void JobWorker::workerLoop() {
  auto& log = Poco::Logger::get("blueprint.jobs");
  std::optional<JobRecord> next;
  while (!stopping_) {
    if (!next) {
      try {
        next = storage_.claimJob(config_.lease);
        if (next && config_.storage_health != nullptr) config_.storage_health->recordSuccess();
      } catch (const std::exception& e) {
        if (!reportedAsStorageTrouble(e))
          log.error("claiming a job failed: %s", std::string(e.what()));
      }
    }
    if (next && !stopping_) {
      // No exception may end a worker thread (std::terminate, and a restart that claims the
      // same job again: issue 11, H2). execute() finishes its run on every path; this is the
      // last line should memory run out on the way.
      try {
        next = execute(std::move(*next));
      } catch (const std::exception& e) {
        log.error("running a job failed: %s", toValidUtf8(e.what()));
        next.reset();
      } catch (...) {
        log.error("running a job failed with an unknown exception");
        next.reset();
      }
      continue;
    }
    if (next) break;
    std::unique_lock<std::mutex> lock(mutex_);
    wake_.wait_for(lock, config_.poll, [&] { return stopping_ || pending_wakes_ > 0; });
    if (pending_wakes_ > 0) --pending_wakes_;
  }
  if (!next) return;
  // Claimed as the worker stopped, never started: back to the queue as if never claimed. If
  // that fails, the lease expires and the job is claimed again (that claim counts).
  try {
    storage_.unclaimJobs({{next->job_id, next->lease_token}});
  } catch (const std::exception& e) {
    log.error("handing back job %s failed (it is claimed again when its lease expires): %s",
              next->job_id, std::string(e.what()));
  }
}

void JobWorker::leaseLoop() {
  auto& log = Poco::Logger::get("blueprint.jobs");
  const auto period = std::max(std::chrono::milliseconds(50), config_.lease / 3);
  while (true) {
    std::vector<std::pair<std::string, std::shared_ptr<Active>>> snapshot;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      lease_wake_.wait_for(lock, period, [&] { return stopping_.load(); });
      if (stopping_ && active_.empty()) return;
      snapshot.assign(active_.begin(), active_.end());
    }
    for (auto& [id, active] : snapshot) {
      bool cancel_requested = false;
      bool held = false;
      try {
        held = storage_.renewLease(id, active->token, config_.lease, &cancel_requested);
      } catch (const std::exception& e) {
        if (!reportedAsStorageTrouble(e))
          log.error("renewing the lease of job %s failed: %s", id, std::string(e.what()));
        continue;
      }
      if (!held) {
        // Another host took the job over (or it finished): stop; our result would be refused.
        active->lease_lost = true;
        active->live->control().cancel();
      } else if (cancel_requested) {
        active->live->control().cancel();
      }
    }
  }
}

void JobWorker::giveUp(JobRecord job) {
  auto& log = Poco::Logger::get("blueprint.jobs");
  const int earlier = job.attempts - 1;
  job.status = job_status::kError;
  job.error = "the job ran out of attempts: it was claimed " + std::to_string(earlier) +
              (earlier == 1 ? " time" : " times") +
              " and its host stopped before finishing each time (job_max_attempts is " +
              std::to_string(config_.max_attempts) + ")";
  job.finished_at_ms = nowMs();
  try {
    // The events go in with the final state, as for a run: a follower that sees the job
    // finished finds them complete.
    if (storage_.finishJob(job, job.lease_token,
                           {run_events::error(*job.error), run_events::done()}))
      log.warning("job %s: %s", job.job_id, *job.error);
  } catch (const std::exception& e) {
    log.error("ending job %s after its last attempt failed: %s", job.job_id, std::string(e.what()));
  }
}

std::optional<JobRecord> JobWorker::execute(JobRecord job) {
  auto& log = Poco::Logger::get("blueprint.jobs");
  const std::int64_t token = job.lease_token;
  if (job.attempts > config_.max_attempts) {
    giveUp(std::move(job));
    return std::nullopt;
  }
  std::shared_ptr<LiveRun> live = registry_.add(job);
  // Whatever happens below, the run leaves the active set and the registry (runs_active).
  struct Retire {
    JobWorker& worker;
    const std::string& job_id;
    std::shared_ptr<LiveRun>& live;
    ~Retire() {
      try {
        {
          std::lock_guard<std::mutex> lock(worker.mutex_);
          worker.active_.erase(job_id);
          // When stopping, the lease thread ends once nothing runs. Otherwise it has nothing to
          // do with a job's end: waking it for every job would cost a context switch per job.
          if (worker.stopping_) worker.lease_wake_.notify_all();
        }
        worker.registry_.retire(live);
      } catch (...) {
      }
    }
  } retire{*this, job.job_id, live};
  auto active = std::make_shared<Active>();
  active->token = token;
  active->live = live;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    active_[job.job_id] = active;
    if (stopping_) live->control().cancel();
  }
  if (job.cancel_requested) live->control().cancel();
  live->append({run_events::inProgress(), run_events::executing(job.blueprint_id)});

  // A job over a run limit is not refused but waits here for a slot, its lease renewed as for a
  // running job. Stopping or a cancel ends the wait; the run below then ends as cancelled at
  // once and takes the usual way back to the queue (or to `cancelled`).
  std::optional<RunAdmission::Slot> slot;
  if (config_.admission != nullptr)
    slot = config_.admission->acquire(job.agent_id, [&] {
      return stopping_ || active->lease_lost || live->control().cancelled();
    });
  const auto run_started = std::chrono::steady_clock::now();
  RunResult result;
  try {
    std::shared_ptr<const CompiledAgent> agent = agents_.version(job.agent_id, job.agent_version);
    const CompiledBlueprint* bp = agent->find(job.blueprint_id);
    if (bp == nullptr) {
      result.status = RunResult::Status::Error;
      result.error = "blueprint '" + job.blueprint_id + "' no longer exists in agent '" +
                     job.agent_id + "' version " + std::to_string(job.agent_version);
    } else {
      LiveRunObserver observer(*live);
      RunOptions options = options_;
      options.job_id = job.job_id;
      result = Runner::run(*agent, *bp, job.payload, options, observer, live->control());
    }
  } catch (const std::exception& e) {
    result.status = RunResult::Status::Error;
    result.error = toValidUtf8(e.what());
  } catch (...) {
    result.status = RunResult::Status::Error;
    result.error = "the run failed with an unknown exception";
  }

  const bool requeue = result.status == RunResult::Status::Cancelled &&
                       (stopping_ || active->lease_lost) && !job.cancel_requested;
  JobRecord final_record = job;
  final_record.trace = result.trace;
  if (requeue) {
    // Shutting down: hand the job back to the queue instead of failing it (DESIGN §7 SIGTERM).
    final_record.status = job_status::kQueued;
    final_record.finished_at_ms.reset();
  } else {
    live->append(endRun(result, final_record));
    if (config_.metrics != nullptr)
      config_.metrics->countRun(RunKind::Async, outcomeOf(result.status),
                                std::chrono::duration_cast<std::chrono::microseconds>(
                                    std::chrono::steady_clock::now() - run_started)
                                    .count(),
                                job.agent_id);
    if (result.status == RunResult::Status::Error) {
      // Run errors read "<block id>: <message>" (DESIGN §3).
      const std::size_t colon = result.error.find(": ");
      logEvent(log, Poco::Message::PRIO_WARNING, "job failed: " + result.error,
               {{"job_id", job.job_id},
                {"agent", job.agent_id},
                {"agent_version", std::to_string(job.agent_version)},
                {"blueprint", job.blueprint_id},
                {"block", colon == std::string::npos ? "" : result.error.substr(0, colon)},
                {"error", result.error}});
    }
  }
  std::optional<JobRecord> next;
  try {
    // The events go in with the final state and under the same token check, so an attempt
    // that lost its lease without noticing stores neither. A job handed back stores none: its
    // next attempt streams from the start. The next job is claimed in the same commit, unless
    // the worker is stopping.
    if (!active->lease_lost) {
      const std::vector<std::string> events =
          requeue ? std::vector<std::string>{} : live->allEvents();
      bool written = false;
      if (stopping_) {
        written = storage_.finishJob(final_record, token, events);
      } else {
        Storage::FinishAndClaim done =
            storage_.finishJobAndClaim(final_record, token, events, config_.lease, 1);
        written = done.written;
        if (!done.claimed.empty()) next = std::move(done.claimed.front());
      }
      if (!written)
        log.warning("job %s: the lease was taken over; this attempt's result is discarded",
                    job.job_id);
      if (config_.storage_health != nullptr) config_.storage_health->recordSuccess();
    }
  } catch (const std::exception& e) {
    // The job stays claimed: it runs again when its lease expires (nothing accepted is lost).
    if (!reportedAsStorageTrouble(e))
      log.error("storing the result of job %s failed: %s", job.job_id, toValidUtf8(e.what()));
  }
  live->finish(final_record);
  return next;
}

}  // namespace blueprint::host
