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
      const RouteSpec& spec = routeSpec(route);
      const Scope scope = spec.scope;
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
      spec.handler(ctx);
    } catch (const ApiError& e) {
      if (e.retryAfterSeconds() > 0)
        response.set("Retry-After", std::to_string(e.retryAfterSeconds()));
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
    if (status < 300 && !services_.storage_health->writable() && routeSpec(route).writes_storage)
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

  HostServices& services_;
};

}  // namespace

bool RequestRouter::servesInline(std::string_view method, std::string_view target) {
  if (target.empty() || target[0] != '/' || target.find_first_of("%?#") != std::string_view::npos)
    return false;
  return routeSpec(matchRoute(method, target).route).serves_inline;
}

Poco::Net::HTTPRequestHandler* RequestRouter::createRequestHandler(
    const Poco::Net::HTTPServerRequest&) {
  return new ApiRequestHandler(services_);
}

}  // namespace blueprint::host
