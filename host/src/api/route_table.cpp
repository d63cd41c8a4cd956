// SPDX-License-Identifier: Apache-2.0
#include "api/route_table.hpp"

#include <array>
#include <cstdint>
#include <cstring>

#include "http/console_handler.hpp"
#include "http/handlers.hpp"

namespace blueprint::host {

namespace {

constexpr Scope kNone = Scope::None;
constexpr Scope kInvoke = Scope::Invoke;
constexpr Scope kAdmin = Scope::Admin;

// clang-format off
constexpr RouteSpec kTable[] = {
  // route                   name                 method    pattern                                                 scope    writes rest   inline handler
  {Route::Trigger,         "trigger",           "POST",   "/v1/agents/:agent_id/blueprints/:blueprint_id",      kInvoke, false, false, true,  handleTrigger},
  {Route::CreateJob,       "create_job",        "POST",   "/v1/agents/:agent_id/blueprints/:blueprint_id/jobs", kInvoke, true,  false, false, handleCreateJob},
  {Route::TestRun,         "test_run",          "POST",   "/v1/agents/:agent_id/blueprints/:blueprint_id/test", kAdmin,  false, false, false, handleTestRun},
  {Route::GetJob,          "get_job",           "GET",    "/v1/agents/jobs/:job_id",                            kInvoke, false, false, false, handleGetJob},
  {Route::JobEvents,       "job_events",        "GET",    "/v1/agents/jobs/:job_id/events",                     kInvoke, false, false, false, handleJobEvents},
  {Route::CancelJob,       "cancel_job",        "POST",   "/v1/agents/jobs/:job_id/cancel",                     kInvoke, true,  false, false, handleCancelJob},
  {Route::RetryJob,        "retry_job",         "POST",   "/v1/agents/jobs/:job_id/retry",                      kInvoke, true,  false, false, handleRetryJob},
  {Route::ListJobs,        "list_jobs",         "GET",    "/v1/agents/:agent_id/jobs",                          kInvoke, false, false, false, handleListJobs},
  {Route::ListAgents,      "list_agents",       "GET",    "/v1/agents",                                         kAdmin,  false, false, false, handleListAgents},
  {Route::PutAgent,        "put_agent",         "PUT",    "/v1/agents/:agent_id",                               kAdmin,  true,  false, false, handlePutAgent},
  {Route::GetAgent,        "get_agent",         "GET",    "/v1/agents/:agent_id",                               kAdmin,  false, false, false, handleGetAgent},
  {Route::DeleteAgent,     "delete_agent",      "DELETE", "/v1/agents/:agent_id",                               kAdmin,  true,  false, false, handleDeleteAgent},
  {Route::Deploy,          "deploy",            "POST",   "/v1/agents/:agent_id/deploy",                        kAdmin,  true,  false, false, handleDeploy},
  {Route::Undeploy,        "undeploy",          "POST",   "/v1/agents/:agent_id/undeploy",                      kAdmin,  true,  false, false, handleUndeploy},
  {Route::Blocks,          "blocks",            "GET",    "/v1/blocks",                                         kAdmin,  false, false, false, handleBlocks},
  {Route::ReloadPlugins,   "reload_plugins",    "POST",   "/v1/plugins/reload",                                 kAdmin,  false, false, false, handleReloadPlugins},
  {Route::Healthz,         "healthz",           "GET",    "/healthz",                                           kNone,   false, false, true,  handleHealthz},
  {Route::Readyz,          "readyz",            "GET",    "/readyz",                                            kNone,   false, false, true,  handleReadyz},
  {Route::Metrics,         "metrics",           "GET",    "/metrics",                                           kNone,   false, false, false, handleMetrics},
  {Route::OpenApi,         "openapi",           "GET",    "/openapi.json",                                      kNone,   false, false, false, handleOpenApi},
  {Route::ConsoleRedirect, "console_redirect",  "GET",    "/",                                                  kNone,   false, false, false, handleConsoleRedirect},
  {Route::ConsoleAsset,    "console_asset",     "GET",    "/console/:file",                                     kNone,   false, true,  false, handleConsoleAsset},
  {Route::GetAgentVersion, "get_agent_version", "GET",    "/v1/agents/:agent_id/versions/:version",             kAdmin,  false, false, false, handleGetAgentVersion},
  {Route::NotFound,        "not_found",         "any",    "unmatched",                                          kNone,   false, false, false, nullptr},
};
// clang-format on

constexpr std::size_t kRoutes = static_cast<std::size_t>(Route::kCount);
static_assert(std::size(kTable) == kRoutes, "one row per route");

constexpr bool rowsInEnumOrder() {
  for (std::size_t i = 0; i < kRoutes; ++i)
    if (static_cast<std::size_t>(kTable[i].route) != i) return false;
  return true;
}
static_assert(rowsInEnumOrder(), "kTable's rows follow enum Route");

/// The non-empty segments of a path.
std::vector<std::string_view> splitPath(std::string_view path) {
  std::vector<std::string_view> parts;
  std::size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    std::size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) parts.push_back(path.substr(i, j - i));
    i = j;
  }
  return parts;
}

/// A pattern split once: its segments and which of them are literal (bit 31 - i for segment
/// i, so comparing two masks as numbers prefers the pattern whose first literal comes first).
struct CompiledPattern {
  std::vector<std::string_view> segments;
  std::uint32_t literal_mask = 0;
};

const std::array<CompiledPattern, kRoutes>& compiledPatterns() {
  static const std::array<CompiledPattern, kRoutes> patterns = [] {
    std::array<CompiledPattern, kRoutes> out;
    for (std::size_t r = 0; r < kRoutes; ++r) {
      if (kTable[r].route == Route::NotFound) continue;
      out[r].segments = splitPath(kTable[r].pattern);
      for (std::size_t i = 0; i < out[r].segments.size(); ++i)
        if (out[r].segments[i].front() != ':') out[r].literal_mask |= 1u << (31 - i);
    }
    return out;
  }();
  return patterns;
}

bool patternMatches(const RouteSpec& spec, const CompiledPattern& pattern,
                    const std::vector<std::string_view>& path) {
  const std::size_t n = pattern.segments.size();
  if (spec.rest ? path.size() + 1 < n : path.size() != n) return false;
  for (std::size_t i = 0; i < n; ++i) {
    if (spec.rest && i + 1 == n) break;  // the rest parameter takes whatever is left
    if (pattern.segments[i].front() != ':' && pattern.segments[i] != path[i]) return false;
  }
  return true;
}

bool answers(const RouteSpec& spec, std::string_view method) {
  return method == spec.method || (method == "HEAD" && std::strcmp(spec.method, "GET") == 0);
}

}  // namespace

const RouteSpec& routeSpec(Route r) { return kTable[static_cast<std::size_t>(r)]; }

RouteMatch matchRoute(std::string_view method, std::string_view path) {
  RouteMatch m;
  const std::vector<std::string_view> parts = splitPath(path);
  const auto& patterns = compiledPatterns();
  // The best pattern first, whatever the method: a path that exists answers 405, not 404.
  std::uint32_t best_mask = 0;
  bool found = false;
  for (std::size_t r = 0; r < kRoutes; ++r) {
    if (kTable[r].handler == nullptr || !patternMatches(kTable[r], patterns[r], parts)) continue;
    if (!found || patterns[r].literal_mask > best_mask) best_mask = patterns[r].literal_mask;
    found = true;
  }
  if (!found) return m;
  std::string others;
  bool get = false;
  for (std::size_t r = 0; r < kRoutes; ++r) {
    const RouteSpec& spec = kTable[r];
    if (spec.handler == nullptr || patterns[r].literal_mask != best_mask ||
        !patternMatches(spec, patterns[r], parts))
      continue;
    if (answers(spec, method)) {
      m.route = spec.route;
      const CompiledPattern& pattern = patterns[r];
      for (std::size_t i = 0; i < pattern.segments.size(); ++i) {
        if (pattern.segments[i].front() != ':') continue;
        if (spec.rest && i + 1 == pattern.segments.size()) {
          std::string rest;
          for (std::size_t k = i; k < parts.size(); ++k) {
            if (k > i) rest += '/';
            rest.append(parts[k]);
          }
          m.params.push_back(std::move(rest));
        } else {
          m.params.emplace_back(parts[i]);
        }
      }
      return m;
    }
    if (std::strcmp(spec.method, "GET") == 0)
      get = true;
    else
      others += std::string(others.empty() ? "" : ", ") + spec.method;
  }
  m.allowed_methods = get ? (others.empty() ? "GET, HEAD" : "GET, HEAD, " + others) : others;
  return m;
}

}  // namespace blueprint::host
