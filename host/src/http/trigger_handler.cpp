// SPDX-License-Identifier: Apache-2.0
// The run endpoints: sync trigger (SSE), the editor's test run (SSE, draft), and async job
// creation (stored before the 202). DESIGN §2, §9.
#include <Poco/Logger.h>

#include <blueprint/json_limits.hpp>

#include <cstdio>
#include <ctime>

#include "http/handlers.hpp"
#include "http/http_error.hpp"
#include "jobs/job_id.hpp"
#include "jobs/run_events.hpp"

namespace blueprint::host {

std::string RequestContext::queryValue(const std::string& name) const {
  for (const auto& [k, v] : query)
    if (k == name) return v;
  return {};
}

Json readJsonBody(RequestContext& ctx, bool allow_empty) {
  const std::int64_t limit = ctx.services.config->body_limit_bytes;
  const std::streamsize declared = ctx.request.getContentLength();
  auto tooLarge = [&]() {
    // The rest of the body is never read, so this connection cannot be reused.
    ctx.response.setKeepAlive(false);
    return ApiError(413, "payload_too_large",
                    "request body exceeds the limit of " + std::to_string(limit) + " bytes");
  };
  if (declared != Poco::Net::HTTPMessage::UNKNOWN_CONTENT_LENGTH && declared > limit)
    throw tooLarge();
  std::string body;
  std::istream& in = ctx.request.stream();
  if (declared > 0) {
    body.resize(static_cast<std::size_t>(declared));
    in.read(body.data(), declared);
    body.resize(static_cast<std::size_t>(in.gcount()));
  } else {
    char buf[16384];
    while (in) {
      in.read(buf, sizeof(buf));
      body.append(buf, static_cast<std::size_t>(in.gcount()));
      if (static_cast<std::int64_t>(body.size()) > limit) throw tooLarge();
    }
  }
  if (body.empty()) {
    if (allow_empty) return nullptr;
    throw ApiError(400, "invalid_request", "request body is empty; send a JSON object");
  }
  // One pass, bounded: a body of 200,000 `[` is 400 KB, well under the size limit, and would
  // build a value that overflows the stack of its first copy (issue 11, H1).
  const std::size_t max_depth = ctx.services.config->limits.json_max_depth;
  JsonParse parsed = parseJsonLimited(body, max_depth);
  if (parsed.status == JsonParse::Status::TooDeep)
    throw ApiError(400, "invalid_request",
                   "request body nests objects and lists deeper than the limit of " +
                       std::to_string(max_depth) + " levels (json_max_depth)");
  if (!parsed.ok())
    throw ApiError(400, "invalid_request", "request body is not valid JSON: " + parsed.error);
  return std::move(parsed.value);
}

void checkTriggerBody(const Json& body) {
  if (!body.is_object())
    throw ApiError(400, "invalid_request",
                   "request body must be a JSON object with an \"inputs\" object");
  auto it = body.find("inputs");
  if (it == body.end())
    throw ApiError(400, "invalid_request", "request body needs \"inputs\" (a JSON object)");
  if (!it->is_object())
    throw ApiError(400, "invalid_request",
                   std::string("\"inputs\" must be a JSON object, got ") + it->type_name());
}

std::string isoTime(std::int64_t ms) {
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

Json jobToJson(const JobRecord& job) {
  auto optTime = [](const std::optional<std::int64_t>& t) {
    return t ? Json(isoTime(*t)) : Json(nullptr);
  };
  return {{"job_id", job.job_id},
          {"agent_id", job.agent_id},
          {"blueprint_id", job.blueprint_id},
          {"agent_version", job.agent_version},
          {"status", job.status},
          {"artifact", job.artifact ? Json(*job.artifact) : Json(nullptr)},
          {"error", job.error ? Json(*job.error) : Json(nullptr)},
          {"created_at", isoTime(job.created_at_ms)},
          {"started_at", optTime(job.started_at_ms)},
          {"finished_at", optTime(job.finished_at_ms)},
          {"attempts", job.attempts},
          {"trace", job.trace}};
}

namespace {

const CompiledBlueprint& triggerable(const CompiledAgent& agent, const std::string& blueprint_id) {
  const CompiledBlueprint* bp = agent.find(blueprint_id);
  if (bp == nullptr)
    throw ApiError(404, "blueprint_not_found",
                   "agent '" + agent.agent_id + "' has no blueprint '" + blueprint_id + "'");
  if (bp->trigger < 0)
    throw ApiError(404, "blueprint_not_triggerable",
                   "blueprint '" + blueprint_id + "' of agent '" + agent.agent_id +
                       "' has no API Trigger block, so it cannot be run through the API");
  return *bp;
}

/// A run slot for a sync run, or 429 with Retry-After: the caller is waiting, so it is told
/// at once rather than queued behind runs that may last minutes.
std::optional<RunAdmission::Slot> admitSyncRun(RequestContext& ctx, const std::string& agent_id) {
  RunAdmission* admission = ctx.services.admission;
  if (admission == nullptr) return std::nullopt;
  RunAdmission::Limit refused = RunAdmission::Limit::None;
  std::optional<RunAdmission::Slot> slot = admission->tryAcquire(agent_id, refused);
  if (slot) return slot;
  ctx.response.set("Retry-After", "1");
  if (refused == RunAdmission::Limit::Agent)
    throw ApiError(429, "too_many_runs",
                   "agent '" + agent_id + "' already has " +
                       std::to_string(admission->maxPerAgent()) +
                       " runs in progress (max_concurrent_runs_per_agent); retry later, or "
                       "submit it as a job, which waits for a slot");
  throw ApiError(429, "too_many_runs",
                 "this host already has " + std::to_string(admission->maxTotal()) +
                     " runs in progress (max_concurrent_runs); retry later, or submit it as a "
                     "job, which waits for a slot");
}

/// Runs `bp` on the request thread and streams it: the sync trigger and the test run.
void streamRun(RequestContext& ctx, std::shared_ptr<const CompiledAgent> agent,
               const CompiledBlueprint& bp, std::shared_ptr<const Json> payload) {
  HostServices& s = ctx.services;
  JobRecord job;
  job.job_id = newJobId();
  job.agent_id = agent->agent_id;
  job.blueprint_id = bp.id;
  job.agent_version = agent->version;
  job.status = job_status::kInProgress;
  // No payload in the live record: nothing reads it there, and copying it per run shows in
  // profiles. It is added below only if the run has to be stored.
  job.created_at_ms = nowMs();
  job.started_at_ms = job.created_at_ms;
  job.attempts = 1;
  job.created_by = ctx.principal.name;
  std::shared_ptr<LiveRun> live = s.registry->add(job);
  live->keepPayload(payload);  // shared, not copied: a retry from memory needs it (issue 11, M4)
  const auto started = std::chrono::steady_clock::now();
  SseStream stream(ctx.response, live, *s.heartbeat, job.job_id);
  stream.push(run_events::inProgress());
  // The same bytes for every run of a blueprint: made once per thread and blueprint id.
  thread_local std::string executing_for, executing_event;
  if (executing_event.empty() || executing_for != bp.id) {
    executing_for = bp.id;
    executing_event = run_events::executing(bp.id);
  }
  stream.push(executing_event);
  // The trace stays compact unless the job is fetched: most sync runs' traces are never read.
  RunOptions options = *s.run_options;
  options.defer_trace = true;
  options.job_id = job.job_id;
  RunResult result = Runner::run(*agent, bp, payload, options, stream, live->control());
  std::vector<std::string> closing;
  run_events::appendClosing(result, closing);
  for (const auto& e : closing) stream.push(e);

  JobRecord final_record = std::move(job);
  final_record.finished_at_ms = nowMs();
  int status_index = 0;
  switch (result.status) {
    case RunResult::Status::Completed:
      final_record.status = job_status::kCompleted;
      if (result.return_value)
        final_record.artifact = run_events::artifactText(*result.return_value);
      break;
    case RunResult::Status::Error:
      final_record.status = job_status::kError;
      final_record.error = result.error;
      status_index = 1;
      break;
    case RunResult::Status::Cancelled:
      final_record.status = job_status::kCancelled;
      final_record.error = result.error;
      status_index = 2;
      break;
  }
  // The job is final before the caller reads [DONE]: a client that polls the job as soon as
  // its stream ends must find it finished.
  live->finish(final_record, result.deferred_trace);
  stream.finish();
  if (stream.callerGone()) live->markCallerGone();
  if (live->callerGone()) {
    // Nobody saw the end: keep it where …/jobs/{id} and …/events find it after a restart too.
    final_record.payload = *payload;
    if (result.deferred_trace) final_record.trace = result.deferred_trace->toJson();
    try {
      s.storage->putJob(final_record);
      s.storage->appendEvents(final_record.job_id, live->allEvents());
    } catch (const StorageError& e) {
      // A full disk is reported once by the storage health, not once per run.
      if (!s.storage_health->recordFailure(e))
        Poco::Logger::get("blueprint.http")
            .error("storing sync run %s failed: %s", final_record.job_id, std::string(e.what()));
    } catch (const std::exception& e) {
      Poco::Logger::get("blueprint.http")
          .error("storing sync run %s failed: %s", final_record.job_id, std::string(e.what()));
    }
  } else if (s.recorder != nullptr) {
    // Written behind the run, in a batch, for the other hosts sharing the storage.
    s.recorder->record(std::move(final_record), payload, result.deferred_trace, live->allEvents());
  }
  s.registry->retire(live);
  s.metrics->countRun(0, status_index,
                      std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::steady_clock::now() - started)
                          .count(),
                      agent->agent_id);
}

}  // namespace

void handleTrigger(RequestContext& ctx) {
  requireAgentAccess(ctx, ctx.params[0]);
  auto body = std::make_shared<const Json>(readJsonBody(ctx, false));
  checkTriggerBody(*body);
  auto agent = ctx.services.agents->deployed(ctx.params[0]);
  const CompiledBlueprint& bp = triggerable(*agent, ctx.params[1]);
  const std::optional<RunAdmission::Slot> slot = admitSyncRun(ctx, agent->agent_id);
  streamRun(ctx, std::move(agent), bp, std::move(body));
}

void handleTestRun(RequestContext& ctx) {
  requireAgentAccess(ctx, ctx.params[0]);
  // The editor's Test button: no body (or `{}`, what it used to send) is the empty payload, so
  // the trigger answers with its Default result; any other body is a trigger body, checked as
  // the trigger checks it, and the draft runs with those inputs.
  Json body = readJsonBody(ctx, true);
  if (body.is_null()) body = Json::object();
  if (!body.is_object() || !body.empty()) checkTriggerBody(body);
  auto agent = ctx.services.agents->draft(ctx.params[0]);
  const CompiledBlueprint& bp = triggerable(*agent, ctx.params[1]);
  const std::optional<RunAdmission::Slot> slot = admitSyncRun(ctx, agent->agent_id);
  streamRun(ctx, std::move(agent), bp, std::make_shared<const Json>(std::move(body)));
}

void handleCreateJob(RequestContext& ctx) {
  HostServices& s = ctx.services;
  requireAgentAccess(ctx, ctx.params[0]);
  Json body = readJsonBody(ctx, false);
  checkTriggerBody(body);
  auto agent = s.agents->deployed(ctx.params[0]);
  const CompiledBlueprint& bp = triggerable(*agent, ctx.params[1]);
  const std::string key = ctx.request.get("Idempotency-Key", "");
  if (key.size() > 255)
    throw ApiError(400, "invalid_request", "Idempotency-Key is longer than 255 characters");
  if (s.queue_depth->approximate() >= s.config->job_queue_limit) {
    ctx.response.set("Retry-After", "1");
    throw ApiError(429, "queue_full",
                   "the job queue holds its limit of " + std::to_string(s.config->job_queue_limit) +
                       " queued jobs; retry later");
  }
  JobRecord job;
  job.job_id = newJobId();
  job.agent_id = agent->agent_id;
  job.blueprint_id = bp.id;
  job.agent_version = agent->version;
  job.status = job_status::kQueued;
  job.payload = std::move(body);
  job.created_at_ms = nowMs();
  job.created_by = ctx.principal.name;
  auto [stored, created] = s.storage->createJob(job, key);  // durable before the 202 (DESIGN §6)
  if (created) {
    s.metrics->countJobCreated();
    s.queue_depth->added();
    s.worker->notify();
  } else {
    ctx.response.set("Idempotent-Replayed", "true");
  }
  sendJson(ctx.response, 202,
           {{"job_id", stored.job_id},
            {"status", stored.status},
            {"created_at", isoTime(stored.created_at_ms)}});
}

}  // namespace blueprint::host
