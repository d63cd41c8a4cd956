// SPDX-License-Identifier: Apache-2.0
#include "http/request_router.hpp"

#include <Poco/Logger.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/URI.h>

#include <chrono>
#include <cstring>
#include <optional>

#include "http/console_handler.hpp"
#include "http/handlers.hpp"
#include "http/http_error.hpp"
#include "transport/one_write_response.hpp"
#include "transport/request_body.hpp"

namespace blueprint::host {

namespace {

std::vector<std::string> splitPath(const std::string& path) {
  std::vector<std::string> parts;
  std::size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    std::size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) parts.push_back(path.substr(i, j - i));
    i = j;
  }
  return parts;
}

enum class Scope { None, Invoke, Admin };

Scope scopeOf(Route r) {
  switch (r) {
    case Route::Trigger:
    case Route::CreateJob:
    case Route::GetJob:
    case Route::JobEvents:
    case Route::CancelJob:
    case Route::RetryJob:
    case Route::ListJobs:
      return Scope::Invoke;
    case Route::Healthz:
    case Route::Readyz:
    case Route::Metrics:
    case Route::OpenApi:
    case Route::ConsoleRedirect:
    case Route::ConsoleAsset:
    case Route::NotFound:
      return Scope::None;
    default:
      return Scope::Admin;
  }
}

/// Routes whose success means storage took a write (the storage health recovers on one).
bool writesStorage(Route r) {
  switch (r) {
    case Route::CreateJob:
    case Route::CancelJob:
    case Route::RetryJob:
    case Route::PutAgent:
    case Route::DeleteAgent:
    case Route::Deploy:
    case Route::Undeploy:
      return true;
    default:
      return false;
  }
}

}  // namespace

RouteMatch matchRoute(const std::string& method, const std::string& path) {
  RouteMatch m;
  const std::vector<std::string> p = splitPath(path);
  auto is = [&](std::size_t n) { return p.size() == n; };
  // HEAD is answered wherever GET is, with GET's head and no body (RFC 9110 §9.3.2).
  const bool head = method == "HEAD";
  auto on = [&](const char* want, Route r, std::vector<std::string> params) {
    if (method == want || (head && std::strcmp(want, "GET") == 0)) {
      m.route = r;
      m.params = std::move(params);
      return true;
    }
    m.allowed_methods += m.allowed_methods.empty() ? want : std::string(", ") + want;
    if (std::strcmp(want, "GET") == 0) m.allowed_methods += ", HEAD";
    return false;
  };
  if (is(1) && p[0] == "healthz")
    on("GET", Route::Healthz, {});
  else if (is(1) && p[0] == "readyz")
    on("GET", Route::Readyz, {});
  else if (is(1) && p[0] == "metrics")
    on("GET", Route::Metrics, {});
  else if (is(1) && p[0] == "openapi.json")
    on("GET", Route::OpenApi, {});
  else if (is(0))
    on("GET", Route::ConsoleRedirect, {});
  else if (p[0] == "console") {
    std::string file;  // the rest of the path; the handler serves only files it embeds
    for (std::size_t i = 1; i < p.size(); ++i) file += (i > 1 ? "/" : "") + p[i];
    on("GET", Route::ConsoleAsset, {std::move(file)});
  } else if (p.size() >= 2 && p[0] == "v1") {
    if (p[1] == "blocks" && is(2))
      on("GET", Route::Blocks, {});
    else if (p[1] == "plugins" && is(3) && p[2] == "reload")
      on("POST", Route::ReloadPlugins, {});
    else if (p[1] == "agents") {
      if (is(2))
        on("GET", Route::ListAgents, {});
      else if (p[2] == "jobs" && is(4))
        on("GET", Route::GetJob, {p[3]});
      else if (p[2] == "jobs" && is(5) && p[4] == "events")
        on("GET", Route::JobEvents, {p[3]});
      else if (p[2] == "jobs" && is(5) && p[4] == "cancel")
        on("POST", Route::CancelJob, {p[3]});
      else if (p[2] == "jobs" && is(5) && p[4] == "retry")
        on("POST", Route::RetryJob, {p[3]});
      else if (is(3)) {
        on("GET", Route::GetAgent, {p[2]}) || on("PUT", Route::PutAgent, {p[2]}) ||
            on("DELETE", Route::DeleteAgent, {p[2]});
      } else if (is(4) && p[3] == "deploy")
        on("POST", Route::Deploy, {p[2]});
      else if (is(4) && p[3] == "undeploy")
        on("POST", Route::Undeploy, {p[2]});
      else if (is(4) && p[3] == "jobs")
        on("GET", Route::ListJobs, {p[2]});
      else if (is(5) && p[3] == "versions")
        on("GET", Route::GetAgentVersion, {p[2], p[4]});
      else if (is(5) && p[3] == "blueprints")
        on("POST", Route::Trigger, {p[2], p[4]});
      else if (is(6) && p[3] == "blueprints" && p[5] == "jobs")
        on("POST", Route::CreateJob, {p[2], p[4]});
      else if (is(6) && p[3] == "blueprints" && p[5] == "test")
        on("POST", Route::TestRun, {p[2], p[4]});
    }
  }
  if (m.route != Route::NotFound) m.allowed_methods.clear();
  return m;
}

namespace {

class ApiRequestHandler final : public Poco::Net::HTTPRequestHandler {
 public:
  explicit ApiRequestHandler(HostServices& services) : services_(services) {}

  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    const auto started = std::chrono::steady_clock::now();
    Route route = Route::NotFound;
    std::string key_name;  // for the access log: the key's name, never the key
    try {
      // Most request targets are a plain path: no percent-escapes, query or fragment, not
      // starting with "//" (an authority to Poco::URI). For those the path is the target as
      // is, and parsing it as a URI is skipped; every other target goes through Poco::URI.
      const std::string& target = request.getURI();
      const bool plain = !target.empty() && target[0] == '/' &&
                         (target.size() == 1 || target[1] != '/') &&
                         target.find_first_of("%?#") == std::string::npos;
      std::optional<Poco::URI> uri;
      if (!plain) uri.emplace(target);
      const std::string& path = plain ? target : uri->getPath();
      RouteMatch match = matchRoute(request.getMethod(), path);
      route = match.route;
      if (route == Route::NotFound) {
        if (!match.allowed_methods.empty()) {
          response.set("Allow", match.allowed_methods);
          throw ApiError(405, "method_not_allowed",
                         request.getMethod() + " is not allowed on " + path +
                             " (allowed: " + match.allowed_methods + ")");
        }
        throw ApiError(404, "not_found",
                       "no API route matches " + request.getMethod() + " " + path);
      }
      RequestContext ctx{services_, request, response, std::move(match.params), {}, {}};
      const Scope scope = scopeOf(route);
      if (scope != Scope::None) {
        std::optional<Principal> who =
            services_.keys->authenticate(request.get("Authorization", ""));
        if (!who) {
          response.set("WWW-Authenticate", "Bearer");
          throw ApiError(401, "unauthorized",
                         "missing or invalid API key; send Authorization: Bearer <key>");
        }
        if ((scope == Scope::Admin && !who->admin) || (scope == Scope::Invoke && !who->invoke))
          throw ApiError(403, "forbidden",
                         "API key '" + who->name + "' lacks the " +
                             (scope == Scope::Admin ? "admin" : "invoke") + " scope for this call");
        ctx.principal = *who;
        if (services_.access_log->enabled()) key_name = who->name;
      }
      if (uri && !uri->getRawQuery().empty()) ctx.query = uri->getQueryParameters();
      dispatch(route, ctx);
    } catch (const ApiError& e) {
      respondError(response, e.status(), e.code(), e.what(), e.details());
    } catch (const RequestBodyError& e) {
      // The body is malformed or cut short: answer, and let the connection close.
      response.setKeepAlive(false);
      respondError(response, e.status(), e.code(), e.what(), nullptr);
    } catch (const Poco::SyntaxException& e) {
      respondError(response, 400, "invalid_request", "malformed request URI: " + e.displayText(),
                   nullptr);
    } catch (const StorageError& e) {
      if (services_.storage_health->recordFailure(e)) {
        // The database cannot take this now (full disk, I/O, connection): say so, and when to
        // try again, instead of an incident (issue 15). Logged once per state change.
        response.set("Retry-After", std::to_string(StorageHealth::kRetryAfterSeconds));
        respondError(response, 503, "storage_unavailable",
                     "storage cannot take writes right now (disk full, I/O error or database "
                     "unreachable); nothing was stored, retry later",
                     nullptr);
      } else {
        respondInternalError(request, response, e.what());
      }
    } catch (const std::exception& e) {
      respondInternalError(request, response, e.what());
    }
    const int status = static_cast<int>(response.getStatus());
    if (status < 300 && !services_.storage_health->writable() && writesStorage(route))
      services_.storage_health->recordSuccess();
    const std::int64_t duration_us = std::chrono::duration_cast<std::chrono::microseconds>(
                                         std::chrono::steady_clock::now() - started)
                                         .count();
    services_.metrics->countRequest(route, status, duration_us);
    if (services_.access_log->enabled()) {
      const auto* whole = dynamic_cast<const OneWriteResponse*>(&response);
      services_.access_log->record(request.getMethod(), routePattern(route), status,
                                   whole != nullptr ? whole->bodyBytes() : 0, duration_us,
                                   key_name);
    }
  }

 private:
  static void respondError(Poco::Net::HTTPServerResponse& response, int status,
                           const std::string& code, const std::string& message,
                           const Json& details) {
    if (response.sent()) return;  // a stream already started: it carries its own error event
    sendError(response, status, code, message, details);
  }

  /// A 500 that names an incident id and nothing else: the exception's text (which may quote
  /// internals or request bytes) goes only to the log, escaped (issue 11, L2 and L3).
  static void respondInternalError(Poco::Net::HTTPServerRequest& request,
                                   Poco::Net::HTTPServerResponse& response, const char* what) {
    const auto* whole = dynamic_cast<const OneWriteResponse*>(&response);
    if (whole != nullptr && whole->broken()) return;  // the client left or stopped reading
    const std::string incident = newIncidentId();
    Poco::Logger::get("blueprint.http")
        .error("incident %s: %s %s failed: %s", incident, printableForLog(request.getMethod()),
               printableForLog(request.getURI()), printableForLog(what, 1024));
    respondError(response, 500, "internal_error",
                 "internal error (incident " + incident + "; the host log has the details)",
                 nullptr);
  }

  static void dispatch(Route route, RequestContext& ctx) {
    switch (route) {
      case Route::Trigger:
        return handleTrigger(ctx);
      case Route::CreateJob:
        return handleCreateJob(ctx);
      case Route::TestRun:
        return handleTestRun(ctx);
      case Route::GetJob:
        return handleGetJob(ctx);
      case Route::JobEvents:
        return handleJobEvents(ctx);
      case Route::CancelJob:
        return handleCancelJob(ctx);
      case Route::RetryJob:
        return handleRetryJob(ctx);
      case Route::ListJobs:
        return handleListJobs(ctx);
      case Route::ListAgents:
        return handleListAgents(ctx);
      case Route::PutAgent:
        return handlePutAgent(ctx);
      case Route::GetAgent:
        return handleGetAgent(ctx);
      case Route::DeleteAgent:
        return handleDeleteAgent(ctx);
      case Route::Deploy:
        return handleDeploy(ctx);
      case Route::Undeploy:
        return handleUndeploy(ctx);
      case Route::GetAgentVersion:
        return handleGetAgentVersion(ctx);
      case Route::Blocks:
        return handleBlocks(ctx);
      case Route::ReloadPlugins:
        return handleReloadPlugins(ctx);
      case Route::Healthz:
        return handleHealthz(ctx);
      case Route::Readyz:
        return handleReadyz(ctx);
      case Route::Metrics:
        return handleMetrics(ctx);
      case Route::OpenApi:
        return handleOpenApi(ctx);
      case Route::ConsoleRedirect:
        return handleConsoleRedirect(ctx);
      case Route::ConsoleAsset:
        return handleConsoleAsset(ctx);
      default:
        throw ApiError(404, "not_found", "no such route");
    }
  }

  HostServices& services_;
};

}  // namespace

Poco::Net::HTTPRequestHandler* RequestRouter::createRequestHandler(
    const Poco::Net::HTTPServerRequest&) {
  return new ApiRequestHandler(services_);
}

}  // namespace blueprint::host
