// SPDX-License-Identifier: Apache-2.0
// The job endpoints (DESIGN §2): poll, follow events, cancel, retry, list. A job is either live
// in this host's RunRegistry (every sync run, and async runs executing here) or in storage.
// Tenancy (issue 11): a key sees and controls only the jobs it may access (Principal::
// mayAccessJob); any other job answers exactly as a job that does not exist, so a job id of
// another key reveals nothing, not even that it exists.
#include <limits>
#include <thread>

#include "http/handlers.hpp"
#include "http/http_error.hpp"
#include "jobs/run_events.hpp"

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

/// Throws job_not_found unless job `id` exists and the request's key may access it. Returns the
/// agent version the job runs (0: a test run of a draft).
std::int64_t requireJobAccess(RequestContext& ctx, const std::string& id) {
  if (std::shared_ptr<LiveRun> live = ctx.services.registry->find(id)) {
    if (!mayAccess(ctx.principal, *live)) throw jobNotFound(id);
    return live->snapshot().agent_version;
  }
  std::optional<JobRecord> stored = ctx.services.storage->getJob(id);
  if (!stored || !mayAccess(ctx.principal, *stored)) throw jobNotFound(id);
  return stored->agent_version;
}

}  // namespace

void handleGetJob(RequestContext& ctx) {
  HostServices& s = ctx.services;
  const std::string& id = ctx.params[0];
  std::optional<JobRecord> job;
  // A sync run's live record carries no payload (copying it per run shows in profiles); the
  // run keeps its request body beside the record, which is where its inputs are read from.
  std::shared_ptr<const Json> kept_payload;
  if (std::shared_ptr<LiveRun> live = s.registry->find(id)) {
    job = live->snapshot();
    kept_payload = live->payload();
  } else {
    job = s.storage->getJob(id);
  }
  if (!job || !mayAccess(ctx.principal, *job)) throw jobNotFound(id);
  Json body = jobToJson(*job);
  body["inputs"] = inputsOf(kept_payload && job->payload.empty() ? *kept_payload : job->payload);
  sendJson(ctx.response, 200, std::move(body));
}

void handleJobEvents(RequestContext& ctx) {
  HostServices& s = ctx.services;
  const std::string& id = ctx.params[0];
  std::shared_ptr<LiveRun> live = s.registry->find(id);
  std::optional<JobRecord> stored;
  if (!live) {
    stored = s.storage->getJob(id);
    if (!stored || !mayAccess(ctx.principal, *stored)) throw jobNotFound(id);
  } else if (!mayAccess(ctx.principal, *live)) {
    throw jobNotFound(id);
  }
  SseStream stream(ctx.response, nullptr, *s.heartbeat, id);
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

void handleCancelJob(RequestContext& ctx) {
  HostServices& s = ctx.services;
  const std::string& id = ctx.params[0];
  std::shared_ptr<LiveRun> live = s.registry->find(id);
  std::optional<JobRecord> stored;
  if (!live || !live->finished()) stored = s.storage->getJob(id);
  if (!live && !stored) throw jobNotFound(id);
  if (live ? !mayAccess(ctx.principal, *live) : !mayAccess(ctx.principal, *stored))
    throw jobNotFound(id);
  if (live && live->finished()) {
    JobRecord j = live->snapshot();
    throw ApiError(409, "job_finished", "job '" + id + "' already ended with status " + j.status);
  }
  if (stored && isFinished(stored->status))
    throw ApiError(409, "job_finished",
                   "job '" + id + "' already ended with status " + stored->status);
  if (stored) s.storage->requestCancel(id);  // queued: cancelled now; running elsewhere: flagged
  if (live) {
    live->control().cancel();
    // The run stops at its next block boundary; give it a moment so the answer is final.
    for (int i = 0; i < 100 && !live->finished(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    JobRecord j = live->snapshot();
    if (!live->finished()) j.status = "cancelling";
    sendJson(ctx.response, live->finished() ? 200 : 202, jobToJson(j));
    return;
  }
  std::optional<JobRecord> after = s.storage->getJob(id);
  if (!after) throw jobNotFound(id);
  sendJson(ctx.response, after->status == job_status::kCancelled ? 200 : 202, jobToJson(*after));
}

void handleRetryJob(RequestContext& ctx) {
  HostServices& s = ctx.services;
  const std::string& id = ctx.params[0];
  // Before anything changes. A test run ran a draft (version 0), which no worker can load:
  // re-running it as a job would only fail again, differently; its inputs are kept now, so the
  // missing-body check below no longer catches it.
  if (requireJobAccess(ctx, id) == 0)
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
    sendJson(ctx.response, 202, jobToJson(j));
    return;
  }
  if (!retried)
    throw ApiError(
        409, "job_not_retryable",
        "only jobs that ended in error can be retried; job '" + id + "' is " + job->status);
  // The failed attempt may still be in memory here: drop it so polls and …/events read storage.
  s.registry->forgetFinished(id);
  s.worker->notify();
  sendJson(ctx.response, 202, jobToJson(*job));
}

void handleListJobs(RequestContext& ctx) {
  HostServices& s = ctx.services;
  requireAgentAccess(ctx, ctx.params[0]);
  JobQuery q;
  q.agent_id = ctx.params[0];
  if (!ctx.principal.admin) q.created_by = ctx.principal.name;
  const std::string status = ctx.queryValue("status");
  if (!status.empty()) {
    static const char* kStatuses[] = {job_status::kQueued, job_status::kInProgress,
                                      job_status::kCompleted, job_status::kError,
                                      job_status::kCancelled};
    bool ok = false;
    for (const char* st : kStatuses) ok = ok || status == st;
    if (!ok)
      throw ApiError(
          400, "invalid_request",
          "status '" + status + "' is not one of queued, in_progress, completed, error, cancelled");
    q.status = status;
  }
  auto intParam = [&](const char* name, std::int64_t def, std::int64_t lo, std::int64_t hi) {
    const std::string v = ctx.queryValue(name);
    if (v.empty()) return def;
    try {
      std::size_t pos = 0;
      long long n = std::stoll(v, &pos);
      if (pos == v.size() && n >= lo && n <= hi) return static_cast<std::int64_t>(n);
    } catch (const std::exception&) {
    }
    throw ApiError(400, "invalid_request",
                   std::string(name) + " must be a whole number from " + std::to_string(lo) +
                       " to " + std::to_string(hi));
  };
  q.limit = intParam("limit", 50, 1, 1000);
  q.offset = intParam("offset", 0, 0, std::numeric_limits<std::int32_t>::max());
  if (!s.storage->getAgent(q.agent_id))
    throw ApiError(404, "agent_not_found", "agent '" + q.agent_id + "' does not exist");
  JobPage page = s.storage->listJobs(q);
  Json result = Json::array();
  for (const auto& j : page.jobs) result.push_back(jobToJson(j));
  sendJson(ctx.response, 200,
           {{"result", std::move(result)},
            {"pagination", {{"limit", q.limit}, {"offset", q.offset}}},
            {"totalCount", page.total}});
}

}  // namespace blueprint::host
