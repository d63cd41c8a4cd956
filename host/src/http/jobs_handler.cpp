// SPDX-License-Identifier: Apache-2.0
// The job endpoints (DESIGN §2): poll, follow events, cancel, retry, list. What a key may see
// and do is the run service's to decide (runs/run_service.hpp); these parse and answer.
#include <limits>

#include "http/handlers.hpp"
#include "http/http_error.hpp"
#include "http/sse_run_stream.hpp"

namespace blueprint::host {

void handleGetJob(RequestContext& ctx) {
  JobView view = ctx.services.runs->find(ctx.principal, ctx.params[0]);
  Json body = jobToJson(view.record);
  body["inputs"] = std::move(view.inputs);
  sendJson(ctx.response, 200, std::move(body));
}

void handleJobEvents(RequestContext& ctx) {
  SseStreamOpener stream(ctx.response, *ctx.services.heartbeat);
  ctx.services.runs->follow(ctx.principal, ctx.params[0], stream);
}

void handleCancelJob(RequestContext& ctx) {
  RunService::Cancel cancel = ctx.services.runs->cancel(ctx.principal, ctx.params[0]);
  sendJson(ctx.response, cancel.finished ? 200 : 202, jobToJson(cancel.job));
}

void handleRetryJob(RequestContext& ctx) {
  sendJson(ctx.response, 202, jobToJson(ctx.services.runs->retry(ctx.principal, ctx.params[0])));
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
