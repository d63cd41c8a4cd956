// SPDX-License-Identifier: Apache-2.0
// handlers.hpp: the API's handler functions, one file per area (trigger, jobs, agents, ops).
// request_router.cpp matches the route, checks the key's scope and calls one of these; an
// ApiError thrown here becomes the JSON error response.
#pragma once

#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>

#include <string>
#include <vector>

#include "app/host_services.hpp"
#include "auth/api_keys.hpp"

namespace blueprint::host {

struct RequestContext {
  HostServices& services;
  Poco::Net::HTTPServerRequest& request;
  Poco::Net::HTTPServerResponse& response;
  /// Path parameters in route order (agent id, blueprint id, job id).
  std::vector<std::string> params;
  /// The query string's parameters.
  std::vector<std::pair<std::string, std::string>> query;
  Principal principal;

  /// The first value of query parameter `name`, or empty.
  std::string queryValue(const std::string& name) const;
};

/// Reads the body as JSON within the configured limit (413 past it, without reading the rest).
/// An empty body is `null` when `allow_empty`, else 400.
Json readJsonBody(RequestContext& ctx, bool allow_empty);
/// Checks a trigger body: a JSON object with an `inputs` object (400 invalid_request otherwise).
void checkTriggerBody(const Json& body);
/// A job as the API shows it.
Json jobToJson(const JobRecord& job);
/// ISO 8601 UTC with milliseconds, e.g. 2026-11-28T17:42:06.123Z.
std::string isoTime(std::int64_t ms);
/// Throws the 404 an unknown agent gets (agent_not_found, worded alike) unless the request's key
/// may use `agent_id` (its agents allow-list): every handler of a route naming an agent calls it
/// before anything else, so a key learns nothing about agents outside its list.
void requireAgentAccess(const RequestContext& ctx, const std::string& agent_id);

// trigger_handler.cpp
void handleTrigger(RequestContext& ctx);
void handleTestRun(RequestContext& ctx);
void handleCreateJob(RequestContext& ctx);

// jobs_handler.cpp
void handleGetJob(RequestContext& ctx);
void handleJobEvents(RequestContext& ctx);
void handleCancelJob(RequestContext& ctx);
void handleRetryJob(RequestContext& ctx);
void handleListJobs(RequestContext& ctx);

// agents_handler.cpp
void handleListAgents(RequestContext& ctx);
void handlePutAgent(RequestContext& ctx);
void handleGetAgent(RequestContext& ctx);
void handleDeleteAgent(RequestContext& ctx);
void handleDeploy(RequestContext& ctx);
void handleUndeploy(RequestContext& ctx);
void handleGetAgentVersion(RequestContext& ctx);

// ops_handler.cpp
void handleBlocks(RequestContext& ctx);
void handleReloadPlugins(RequestContext& ctx);
void handleHealthz(RequestContext& ctx);
void handleReadyz(RequestContext& ctx);
void handleMetrics(RequestContext& ctx);
void handleOpenApi(RequestContext& ctx);

}  // namespace blueprint::host
