// SPDX-License-Identifier: Apache-2.0
// route_table.hpp: every route of the API in one table (route_table.cpp): its method, path
// pattern, the key scope it needs, whether it writes storage, its handler and its metric name.
// A new route is one row there (and its handler); the router, the metrics and the access log
// all read it from the table.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace blueprint::host {

struct RequestContext;

/// The routes, in table order (route_table.cpp pins each row to its value).
enum class Route : int {
  Trigger,
  CreateJob,
  TestRun,
  GetJob,
  JobEvents,
  CancelJob,
  RetryJob,
  ListJobs,
  ListAgents,
  PutAgent,
  GetAgent,
  DeleteAgent,
  Deploy,
  Undeploy,
  Blocks,
  ReloadPlugins,
  Healthz,
  Readyz,
  Metrics,
  OpenApi,
  ConsoleRedirect,  ///< GET / → /console/ (the web console, not part of the API)
  ConsoleAsset,     ///< GET /console/<file>
  GetAgentVersion,  ///< GET /v1/agents/{id}/versions/{n}
  NotFound,
  kCount
};

/// The API key scope a route needs (DESIGN §9).
enum class Scope { None, Invoke, Admin };

using RouteHandler = void (*)(RequestContext&);

struct RouteSpec {
  Route route;
  /// snake_case, the `route` label of blueprint_http_requests_total.
  const char* name;
  /// The method it answers; a GET route also answers HEAD (RFC 9110 §9.3.2).
  const char* method;
  /// The path pattern, parameters written `:name`, e.g. `/v1/agents/:agent_id`: the `route`
  /// label of the duration histogram and of access log lines (a brace inside a label value is
  /// valid Prometheus text, but common line-oriented parsers stop a label set at the first `}`).
  /// "unmatched" for NotFound.
  const char* pattern;
  Scope scope;
  /// Its success means storage took a write (the storage health recovers on one).
  bool writes_storage;
  /// Its last parameter takes the rest of the path, slashes included (console files).
  bool rest;
  /// Its handler never waits (no storage, no body beyond what arrived with the head): the
  /// transport may run it on its reactor thread instead of handing it to the handler pool.
  /// A sync run qualifies: an instant blueprint runs at once, any other is started on the
  /// engine and its answer detached. So do the health probes, which then answer even when
  /// every handler thread is busy.
  bool serves_inline;
  RouteHandler handler;
};

/// The row of `r` (NotFound has one too, with no handler).
const RouteSpec& routeSpec(Route r);
inline const char* routeName(Route r) { return routeSpec(r).name; }
inline const char* routePattern(Route r) { return routeSpec(r).pattern; }
/// The method the route answers; "any" for NotFound.
inline const char* routeMethod(Route r) { return routeSpec(r).method; }

/// A matched route: which one and its path parameters in pattern order.
struct RouteMatch {
  Route route = Route::NotFound;
  std::vector<std::string> params;
  /// Set when the path exists but not for this method (405): the methods it answers.
  std::string allowed_methods;
};

/// Matches `method` and a decoded `path` against the table. Empty segments (`//`) are skipped.
/// Where patterns overlap, the one with a literal segment first, reading left to right, wins
/// (`/v1/agents/jobs/:job_id` over `/v1/agents/:agent_id/deploy` for `/v1/agents/jobs/deploy`).
RouteMatch matchRoute(std::string_view method, std::string_view path);

}  // namespace blueprint::host
