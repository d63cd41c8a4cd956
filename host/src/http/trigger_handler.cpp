// SPDX-License-Identifier: Apache-2.0
// The run endpoints: sync trigger (SSE), the editor's test run (SSE, draft), and async job
// creation (stored before the 202). DESIGN §2, §9.
#include <blueprint/json_limits.hpp>

#include <cstdio>
#include <ctime>

#include "http/handlers.hpp"
#include "http/http_error.hpp"
#include "http/sse_run_stream.hpp"

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

}  // namespace

void handleTrigger(RequestContext& ctx) {
  requireAgentAccess(ctx, ctx.params[0]);
  auto body = std::make_shared<const Json>(readJsonBody(ctx, false));
  checkTriggerBody(*body);
  auto agent = ctx.services.agents->deployed(ctx.params[0]);
  const CompiledBlueprint& bp = triggerable(*agent, ctx.params[1]);
  std::optional<RunAdmission::Slot> slot = ctx.services.runs->admitSync(agent->agent_id);
  SseStreamOpener stream(ctx.response, *ctx.services.heartbeat);
  ctx.services.runs->runSync(ctx.principal, std::move(agent), bp, std::move(body), std::move(slot),
                             stream);
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
  std::optional<RunAdmission::Slot> slot = ctx.services.runs->admitSync(agent->agent_id);
  SseStreamOpener stream(ctx.response, *ctx.services.heartbeat);
  ctx.services.runs->runSync(ctx.principal, std::move(agent), bp,
                             std::make_shared<const Json>(std::move(body)), std::move(slot),
                             stream);
}

void handleCreateJob(RequestContext& ctx) {
  HostServices& s = ctx.services;
  requireAgentAccess(ctx, ctx.params[0]);
  Json body = readJsonBody(ctx, false);
  checkTriggerBody(body);
  auto agent = s.agents->deployed(ctx.params[0]);
  const CompiledBlueprint& bp = triggerable(*agent, ctx.params[1]);
  RunService::Submitted submitted = s.runs->submit(ctx.principal, *agent, bp, std::move(body),
                                                   ctx.request.get("Idempotency-Key", ""));
  if (!submitted.created) ctx.response.set("Idempotent-Replayed", "true");
  sendJson(ctx.response, 202,
           {{"job_id", submitted.job.job_id},
            {"status", submitted.job.status},
            {"created_at", isoTime(submitted.job.created_at_ms)}});
}

}  // namespace blueprint::host
