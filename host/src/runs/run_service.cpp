// SPDX-License-Identifier: Apache-2.0
// Tenancy (issue 11): a key sees and controls only the jobs it may access (Principal::
// mayAccessJob); any other job answers exactly as a job that does not exist, so a job id of
// another key reveals nothing, not even that it exists.
#include "runs/run_service.hpp"

#include <Poco/Logger.h>

#include <chrono>
#include <thread>

#include "agents/agent_service.hpp"
#include "app/host_config.hpp"
#include "app/host_services.hpp"
#include "metrics/metrics.hpp"
#include "runs/job_id.hpp"
#include "runs/job_worker.hpp"
#include "runs/queue_depth.hpp"
#include "runs/run_events.hpp"
#include "runs/run_outcome.hpp"
#include "runs/run_registry.hpp"
#include "runs/sync_run_recorder.hpp"
#include "storage/storage_health.hpp"

namespace blueprint::host {

namespace {

bool isFinished(const std::string& status) {
  return status == job_status::kCompleted || status == job_status::kError ||
         status == job_status::kCancelled;
}

ApiError jobNotFound(const std::string& id) {
  return ApiError(404, "job_not_found", "job '" + id + "' does not exist (or has expired)");
}

bool mayAccess(const Principal& who, const JobRecord& job) {
  return who.mayAccessJob(job.agent_id, job.created_by);
}

bool mayAccess(const Principal& who, LiveRun& live) {
  if (!who.admin && live.createdBy() != who.name) return false;
  // Only a key limited to some agents needs the run's agent, and so its snapshot.
  return who.agents == nullptr || who.mayUseAgent(live.snapshot().agent_id);
}

/// The inputs a job's run was given: the request body's `inputs` object, or null when the run
/// had none (a test run of a draft with its trigger's Default result).
Json inputsOf(const Json& payload) {
  if (!payload.is_object()) return nullptr;
  auto it = payload.find("inputs");
  return it != payload.end() && it->is_object() ? *it : Json(nullptr);
}

}  // namespace

std::optional<RunAdmission::Slot> RunService::admitSync(const std::string& agent_id) {
  RunAdmission* admission = services_.admission;
  if (admission == nullptr) return std::nullopt;
  RunAdmission::Limit refused = RunAdmission::Limit::None;
  std::optional<RunAdmission::Slot> slot = admission->tryAcquire(agent_id, refused);
  if (slot) return slot;
  if (refused == RunAdmission::Limit::Agent)
    throw ApiError(429, "too_many_runs",
                   "agent '" + agent_id + "' already has " +
                       std::to_string(admission->maxPerAgent()) +
                       " runs in progress (max_concurrent_runs_per_agent); retry later, or "
                       "submit it as a job, which waits for a slot")
        .retryAfter(1);
  throw ApiError(429, "too_many_runs",
                 "this host already has " + std::to_string(admission->maxTotal()) +
                     " runs in progress (max_concurrent_runs); retry later, or submit it as a "
                     "job, which waits for a slot")
      .retryAfter(1);
}

/// A sync run in flight: what its end needs, kept together so that a run started on the
/// engine (and finished on one of its threads) owns it all.
struct RunService::SyncRun {
  std::shared_ptr<const CompiledAgent> agent;
  std::shared_ptr<const Json> payload;
  std::optional<RunAdmission::Slot> slot;
  std::shared_ptr<LiveRun> live;
  std::shared_ptr<RunStream> stream;
  JobRecord job;
  RunOptions options;
  std::chrono::steady_clock::time_point started;
};

void RunService::runSync(const Principal& caller, std::shared_ptr<const CompiledAgent> agent,
                         const CompiledBlueprint& bp, std::shared_ptr<const Json> payload,
                         std::optional<RunAdmission::Slot> slot, RunStreamOpener& opener) {
  HostServices& s = services_;
  auto run = std::make_shared<SyncRun>();
  JobRecord& job = run->job;
  job.job_id = newJobId();
  job.agent_id = agent->agent_id;
  job.blueprint_id = bp.id;
  job.agent_version = agent->version;
  job.status = job_status::kInProgress;
  // No payload in the live record: nothing reads it there, and copying it per run shows in
  // profiles. It is added only if the run has to be stored.
  job.created_at_ms = nowMs();
  job.started_at_ms = job.created_at_ms;
  job.attempts = 1;
  job.created_by = caller.name;
  run->live = s.registry->add(job);
  run->live->keepPayload(payload);  // shared, not copied: a retry from memory needs it (M4)
  run->agent = std::move(agent);
  run->payload = std::move(payload);
  run->slot = std::move(slot);
  run->started = std::chrono::steady_clock::now();
  run->stream = opener.open(run->live, job.job_id);
  RunStream& stream = *run->stream;
  stream.push(run_events::inProgress());
  // The same bytes for every run of a blueprint: made once per thread and blueprint id.
  thread_local std::string executing_for, executing_event;
  if (executing_event.empty() || executing_for != bp.id) {
    executing_for = bp.id;
    executing_event = run_events::executing(bp.id);
  }
  stream.push(executing_event);
  // The trace stays compact unless the job is fetched: most sync runs' traces are never read.
  run->options = *s.run_options;
  run->options.defer_trace = true;
  run->options.job_id = run->job.job_id;
  const std::shared_ptr<LiveRun> live = run->live;
  if (bp.may_wait && stream.detach([live] { live->markCallerGone(); })) {
    // Nothing waits for this run: the engine runs it, and its end (on an engine thread) writes
    // the rest of the answer, which the client's connection has been holding since.
    Runner::start(*run->agent, bp, run->payload, run->options, stream, live->control(),
                  [this, run](RunResult result) { finishSync(*run, result); });
    return;
  }
  const RunResult result =
      Runner::run(*run->agent, bp, run->payload, run->options, stream, live->control());
  finishSync(*run, result);
}

void RunService::finishSync(SyncRun& run, const RunResult& result) {
  HostServices& s = services_;
  JobRecord final_record = std::move(run.job);
  for (const std::string& event : endRun(result, final_record)) run.stream->push(event);
  // The job is final, and the run no longer active or holding its slot, before the caller
  // reads [DONE]: a client that polls the job, the metrics or the next run as soon as its
  // stream ends must find this one over.
  run.live->finish(final_record, result.deferred_trace);
  s.registry->retire(run.live);
  s.metrics->countRun(RunKind::Sync, outcomeOf(result.status),
                      std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::steady_clock::now() - run.started)
                          .count(),
                      run.agent->agent_id);
  run.slot.reset();
  run.stream->finish();
  if (run.stream->callerGone()) run.live->markCallerGone();
  keepSyncRun(std::move(final_record), run.payload, result, *run.live);
}

void RunService::keepSyncRun(JobRecord record, const std::shared_ptr<const Json>& payload,
                             const RunResult& result, LiveRun& live) {
  HostServices& s = services_;
  if (!live.callerGone()) {
    // Written behind the run, in a batch, for the other hosts sharing the storage.
    if (s.recorder != nullptr)
      s.recorder->record(std::move(record), payload, result.deferred_trace, live.allEvents());
    return;
  }
  // Nobody saw the end: keep it where …/jobs/{id} and …/events find it after a restart too.
  record.payload = *payload;
  if (result.deferred_trace) record.trace = result.deferred_trace->toJson();
  try {
    s.storage->putJob(record);
    s.storage->appendEvents(record.job_id, live.allEvents());
  } catch (const StorageError& e) {
    // A full disk is reported once by the storage health, not once per run.
    if (!s.storage_health->recordFailure(e))
      Poco::Logger::get("blueprint.runs")
          .error("storing sync run %s failed: %s", record.job_id, std::string(e.what()));
  } catch (const std::exception& e) {
    Poco::Logger::get("blueprint.runs")
        .error("storing sync run %s failed: %s", record.job_id, std::string(e.what()));
  }
}

RunService::Submitted RunService::submit(const Principal& caller, const CompiledAgent& agent,
                                         const CompiledBlueprint& bp, Json body,
                                         const std::string& idempotency_key) {
  HostServices& s = services_;
  if (idempotency_key.size() > 255)
    throw ApiError(400, "invalid_request", "Idempotency-Key is longer than 255 characters");
  if (s.queue_depth->approximate() >= s.config->job_queue_limit)
    throw ApiError(429, "queue_full",
                   "the job queue holds its limit of " + std::to_string(s.config->job_queue_limit) +
                       " queued jobs; retry later")
        .retryAfter(1);
  JobRecord job;
  job.job_id = newJobId();
  job.agent_id = agent.agent_id;
  job.blueprint_id = bp.id;
  job.agent_version = agent.version;
  job.status = job_status::kQueued;
  job.payload = std::move(body);
  job.created_at_ms = nowMs();
  job.created_by = caller.name;
  // Durable before the 202 (DESIGN §6).
  auto [stored, created] = s.storage->createJob(job, idempotency_key);
  if (created) {
    s.metrics->countJobCreated();
    s.queue_depth->added();
    s.worker->notify();
  }
  return {std::move(stored), created};
}

JobView RunService::find(const Principal& caller, const std::string& id) {
  std::optional<JobRecord> job;
  // A sync run's live record carries no payload (copying it per run shows in profiles); the
  // run keeps its request body beside it, which is where its inputs are read from.
  std::shared_ptr<const Json> kept_payload;
  if (std::shared_ptr<LiveRun> live = services_.registry->find(id)) {
    job = live->snapshot();
    kept_payload = live->payload();
  } else {
    job = services_.storage->getJob(id);
  }
  if (!job || !mayAccess(caller, *job)) throw jobNotFound(id);
  JobView view;
  view.inputs = inputsOf(kept_payload && job->payload.empty() ? *kept_payload : job->payload);
  view.record = std::move(*job);
  return view;
}

void RunService::follow(const Principal& caller, const std::string& id, RunStreamOpener& opener) {
  HostServices& s = services_;
  std::shared_ptr<LiveRun> live = s.registry->find(id);
  std::optional<JobRecord> stored;
  if (!live) {
    stored = s.storage->getJob(id);
    if (!stored || !mayAccess(caller, *stored)) throw jobNotFound(id);
  } else if (!mayAccess(caller, *live)) {
    throw jobNotFound(id);
  }
  const std::shared_ptr<RunStream> opened = opener.open(nullptr, id);
  RunStream& stream = *opened;
  std::size_t sent = 0;
  const auto give_up = std::chrono::steady_clock::now() +
                       std::chrono::milliseconds(s.config->limits.timeout_ms) +
                       std::chrono::minutes(1);
  bool saw_done = false;
  auto send = [&](const std::vector<std::string>& events) {
    for (const auto& e : events) {
      stream.push(e);
      if (e == run_events::done()) saw_done = true;
    }
    sent += events.size();
    stream.flush();
  };
  while (!saw_done && !stream.callerGone() && std::chrono::steady_clock::now() < give_up) {
    if (live) {
      bool finished = false;
      send(live->eventsFrom(sent, std::chrono::milliseconds(1000), finished));
      if (finished && !saw_done) {
        // Events of this run all arrived; a run without [DONE] (requeued on shutdown) ends here.
        send(live->eventsFrom(sent, std::chrono::milliseconds(0), finished));
        break;
      }
      continue;
    }
    // Not running here: replay storage, and poll it while another host (or the queue) has it.
    send(s.storage->loadEvents(id, static_cast<std::int64_t>(sent)));
    if (saw_done) break;
    stored = s.storage->getJob(id);
    if (!stored) break;
    if (isFinished(stored->status)) {
      send(s.storage->loadEvents(id, static_cast<std::int64_t>(sent)));
      if (!saw_done) {
        // Finished without stored events (cancelled while queued): close the stream properly.
        std::vector<std::string> closing;
        if (stored->status == job_status::kCancelled)
          closing.push_back(run_events::cancelled(stored->error.value_or("the job was cancelled")));
        else if (stored->status == job_status::kError)
          closing.push_back(run_events::error(stored->error.value_or("the job failed")));
        else if (stored->artifact)
          closing.push_back(run_events::delta(*stored->artifact));
        closing.push_back(run_events::done());
        send(closing);
      }
      break;
    }
    if ((live = s.registry->find(id))) continue;  // a worker here just claimed it
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  stream.finish();
}

RunService::Cancel RunService::cancel(const Principal& caller, const std::string& id) {
  HostServices& s = services_;
  std::shared_ptr<LiveRun> live = s.registry->find(id);
  std::optional<JobRecord> stored;
  if (!live || !live->finished()) stored = s.storage->getJob(id);
  if (!live && !stored) throw jobNotFound(id);
  if (live ? !mayAccess(caller, *live) : !mayAccess(caller, *stored)) throw jobNotFound(id);
  if (live && live->finished()) {
    JobRecord j = live->snapshot();
    throw ApiError(409, "job_finished", "job '" + id + "' already ended with status " + j.status);
  }
  if (stored && isFinished(stored->status))
    throw ApiError(409, "job_finished",
                   "job '" + id + "' already ended with status " + stored->status);
  if (stored) s.storage->requestCancel(id);  // queued: cancelled now; running elsewhere: flagged
  Cancel out;
  if (live) {
    live->control().cancel();
    // The run stops at its next block boundary; give it a moment so the answer is final.
    for (int i = 0; i < 100 && !live->finished(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    out.job = live->snapshot();
    out.finished = live->finished();
    if (!out.finished) out.job.status = "cancelling";
    return out;
  }
  std::optional<JobRecord> after = s.storage->getJob(id);
  if (!after) throw jobNotFound(id);
  out.finished = after->status == job_status::kCancelled;
  out.job = std::move(*after);
  return out;
}

JobRecord RunService::retry(const Principal& caller, const std::string& id) {
  HostServices& s = services_;
  // Access first, before anything changes. A test run ran a draft (version 0), which no worker
  // can load: re-running it as a job would only fail again, differently; its inputs are kept
  // now, so the missing-body check below no longer catches it.
  std::int64_t version = 0;
  if (std::shared_ptr<LiveRun> live = s.registry->find(id)) {
    if (!mayAccess(caller, *live)) throw jobNotFound(id);
    version = live->snapshot().agent_version;
  } else {
    std::optional<JobRecord> stored = s.storage->getJob(id);
    if (!stored || !mayAccess(caller, *stored)) throw jobNotFound(id);
    version = stored->agent_version;
  }
  if (version == 0)
    throw ApiError(409, "job_not_retryable",
                   "job '" + id +
                       "' is a test run of a draft, which cannot be retried; run the test again "
                       "instead");
  auto [job, retried] = s.storage->retryJob(id);
  if (!job) {
    // A sync run whose caller stayed lives only in memory; a failed one can still be retried.
    std::shared_ptr<LiveRun> live = s.registry->find(id);
    if (!live) throw jobNotFound(id);
    JobRecord j = live->snapshot();
    if (j.status != job_status::kError)
      throw ApiError(
          409, "job_not_retryable",
          "only jobs that ended in error can be retried; job '" + id + "' is " + j.status);
    // The live record carries no payload; the run kept its request body beside it. Without one
    // re-running would answer with the trigger's default result instead of the caller's inputs
    // (issue 11, M4), so it is refused.
    std::shared_ptr<const Json> payload = live->payload();
    if (!payload || !payload->is_object() || !payload->contains("inputs"))
      throw ApiError(409, "job_not_retryable",
                     "job '" + id +
                         "' has no request body kept to re-run it with; send the request again "
                         "instead");
    j.payload = *payload;
    j.status = job_status::kQueued;
    j.artifact.reset();
    j.error.reset();
    j.finished_at_ms.reset();
    j.lease_token = 0;
    j.lease_until_ms.reset();
    j.trace = Json::array();
    s.storage->putJob(j);
    s.registry->forgetFinished(id);  // else polls would see the failed attempt until a claim
    s.worker->notify();
    return j;
  }
  if (!retried)
    throw ApiError(
        409, "job_not_retryable",
        "only jobs that ended in error can be retried; job '" + id + "' is " + job->status);
  // The failed attempt may still be in memory here: drop it so polls and …/events read storage.
  s.registry->forgetFinished(id);
  s.worker->notify();
  return std::move(*job);
}

}  // namespace blueprint::host
