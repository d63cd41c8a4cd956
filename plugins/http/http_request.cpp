// SPDX-License-Identifier: Apache-2.0
// http_request (DESIGN §8). One request, following up to 5 redirects for GET and HEAD.
//
// The request runs on the plugin's HttpClient (libcurl's multi interface on one loop thread per
// load of the library, decision 017); Exchange turns it into hops, redirects and the block's
// Result. What it guarantees:
// - Server-side request forgery: every address a socket is about to connect to, on every hop and
//   for every address a name resolves to, passes addressRestriction (loopback, private,
//   link-local, unspecified, multicast and reserved addresses, IPv4 and IPv6, IPv4 embedded in
//   IPv6 checked as IPv4) and is refused unless the operator sets
//   `block_settings.http_request.allow_private_networks: true`. The check is on the connecting
//   socket's own address, so DNS rebinding cannot slip a second answer past it; connections are
//   never reused across requests and no proxy is taken from the environment.
// - TLS: peer and host name verification against the system CAs.
// - Time: `timeout_s` bounds the whole exchange, name resolution and every hop included.
// - Size: a response body over 10 MiB ends the transfer as it arrives.
// - Cancellation: the waiting run() checks Context::cancelled every 50 ms and cancels the
//   request, which the loop drops on its next turn; a deferred call cancels it from onCancel.
//
// Two ways to wait (the switch below): on the run's thread (runWaiting, any host), or not at all
// (runDeferred, ABI 1.3: run() defers and the client's completion completes the pending call).
#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <iomanip>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "address_policy.hpp"
#include "http_blocks.hpp"
#include "http_client.hpp"
#include "http_exchange.hpp"

/// 1 (the default): run() defers (ABI 1.3) when the host can, so no thread waits for the
/// response; 0 builds a variant that waits on the run's thread, as hosts before 1.3 make it.
#ifndef BLUEPRINT_HTTP_REQUEST_DEFER
#define BLUEPRINT_HTTP_REQUEST_DEFER 1
#endif

namespace blueprint::http {

namespace {

constexpr bool kDeferWhenTheHostCan = BLUEPRINT_HTTP_REQUEST_DEFER != 0;

constexpr std::size_t kMaxBodyBytes = 10u << 20;  // 10 MiB, the host's default max output size
constexpr double kMaxTimeoutS = 3600;
constexpr const char* kAllowSetting = "block_settings.http_request.allow_private_networks";
constexpr auto kCancelPollInterval = std::chrono::milliseconds(50);

/// The client of this load of the library: made by initHttpClient, dropped by deinitHttpClient
/// (no run is in flight at either), used concurrently by runs.
std::unique_ptr<HttpClient> g_client;

std::string formatSeconds(double seconds) {
  std::ostringstream out;
  out << std::setprecision(6) << seconds << " s";
  return out.str();
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

/// An RFC 9110 token (header field names).
bool isToken(const std::string& name) {
  if (name.empty()) return false;
  for (unsigned char c : name) {
    if (std::isalnum(c) != 0) continue;
    if (std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) == std::string_view::npos)
      return false;
  }
  return true;
}

/// The block's fields checked and turned into `plan`; the block's Result when they are not
/// acceptable. Reads the run's settings, so it runs on the run's thread.
std::optional<Result> prepare(Context& ctx, const Json& fields, ExchangePlan& plan) {
  // ---- fields ----
  const std::string method = fields.value("method", "GET");
  static const std::array<const char*, 7> kMethods = {"GET",    "POST", "PUT",    "PATCH",
                                                      "DELETE", "HEAD", "OPTIONS"};
  if (std::find(kMethods.begin(), kMethods.end(), method) == kMethods.end())
    return Result::error("method '" + method +
                         "' is not one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS");
  const Json url_field = fields.value("url", Json());
  if (!url_field.is_string() || url_field.get_ref<const std::string&>().empty())
    return Result::failure("connection_error", "url is empty");
  const std::string url = url_field.get<std::string>();

  std::vector<std::pair<std::string, std::string>> headers;
  const Json header_field = fields.value("headers", Json::object());
  if (!header_field.is_null() && !header_field.is_object())
    return Result::error("headers must be a JSON object, got " +
                         std::string(header_field.type_name()));
  if (header_field.is_object()) {
    for (const auto& [name, value] : header_field.items()) {
      if (!isToken(name)) return Result::error("headers: '" + name + "' is not a header name");
      if (value.is_null()) continue;
      if (value.is_object() || value.is_array())
        return Result::error("headers: the value of '" + name + "' must be text, got " +
                             std::string(value.type_name()));
      std::string text = value.is_string() ? value.get<std::string>() : value.dump();
      if (text.find_first_of(std::string("\r\n\0", 3)) != std::string::npos)
        return Result::error("headers: the value of '" + name + "' contains a line break");
      const std::string key = lower(name);
      if (key == "content-length" || key == "transfer-encoding") continue;  // set from the body
      headers.emplace_back(name, std::move(text));
    }
  }
  const bool json_body = fields.value("body_type", "text") == "json";
  bool has_body = false;
  std::string body;
  if (fields.contains("body")) {
    const Json& b = fields.at("body");
    if (json_body) {
      has_body = true;
      body = b.dump();
    } else if (!b.is_null()) {
      body = b.is_string() ? b.get<std::string>() : b.dump();
      has_body = !body.empty();
    }
  }
  const Json timeout_field = fields.value("timeout_s", Json(30));
  const double timeout_s = timeout_field.is_number() ? timeout_field.get<double>() : NAN;
  if (!(timeout_s > 0) || timeout_s > kMaxTimeoutS)
    return Result::error("timeout_s must be a number of seconds above 0 and at most " +
                         formatSeconds(kMaxTimeoutS));
  const std::optional<Json> allow = ctx.setting("allow_private_networks");
  const bool allow_private = allow && ((allow->is_boolean() && allow->get<bool>()) ||
                                       (allow->is_string() && allow->get<std::string>() == "true"));

  plan.method = method;
  plan.url = url;
  plan.headers = std::move(headers);
  plan.has_body = has_body;
  plan.json_body = json_body;
  plan.body = std::move(body);
  plan.timeout_s = timeout_s;
  plan.deadline =
      Clock::now() + std::chrono::microseconds(static_cast<std::int64_t>(timeout_s * 1e6));
  // The body sits one level down in the result, which the host bounds as a whole.
  plan.max_json_depth = ctx.jsonMaxDepth() - 1;
  plan.max_body_bytes = kMaxBodyBytes;
  if (!allow_private)
    plan.policy = [](const sockaddr& address) { return addressRestriction(address); };
  plan.refusal_advice = std::string(": requests to private networks are off; set ") +
                        kAllowSetting + " to true in the host config to allow them";
  return std::nullopt;
}

}  // namespace

void initHttpClient() { g_client = std::make_unique<HttpClient>(); }

void deinitHttpClient() { g_client.reset(); }

BlockSpec HttpRequest::spec() {
  BlockSpec spec =
      BlockSpec(kType, "HTTP request")
          .description(
              "Makes an HTTP or HTTPS request. The result is `{status_code, headers, body}`: "
              "header "
              "names in lower case, the body parsed when the response's Content-Type is JSON, else "
              "text. A 2xx status ends in `success`; any other status, or a JSON response whose "
              "body does not parse, ends in `response_error` with the result still available as "
              "`@{result}`. Redirects (301, 302, 303, 307, 308) are followed up to 5 times for GET "
              "and HEAD only, dropping Authorization and Cookie headers when the origin changes; "
              "other methods return the 3xx as a `response_error`. `connection_error`: the URL is "
              "not http(s), the host does not resolve, the connection or TLS handshake fails, or "
              "`timeout_s` passes. Certificates are verified against the system CAs. Loopback, "
              "private, link-local and other non-public addresses are refused unless the operator "
              "sets `block_settings.http_request.allow_private_networks: true`. Response bodies "
              "over 10 MiB end in `response_error`.")
          .field(
              Field::select("method", {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
                  .defaultValue("GET")
                  .description("The HTTP method."))
          .field(Field::string("url").required().description("An http:// or https:// URL."))
          .field(Field::json("headers").defaultValue("{}").description(
              "Request headers as a JSON object of name → text."))
          .field(Field::select("body_type", {"text", "json"})
                     .defaultValue("text")
                     .description("`text` sends `body` as written (Content-Type text/plain unless "
                                  "set); `json` sends it as JSON (Content-Type application/json)."))
          .field(Field::any("body")
                     .jsonWhen("body_type", "json")
                     .description("The request body; with body_type json, JSON text (templates "
                                  "insert JSON values)."))
          .field(Field::number("timeout_s")
                     .defaultValue(30)
                     .description("Seconds the whole exchange may take, redirects included."))
          .endStates({"success", "response_error", "connection_error"})
          .example(R"({"method":"GET","url":"https://api.example.com/items/1"})",
                   R"({"status_code":200,"headers":{"content-type":"application/json"},)"
                   R"("body":{"id":1}})");
  // Deferring, it never blocks its thread: the host may run it on its run workers.
  if (kDeferWhenTheHostCan) spec.async();
  return spec;
}

namespace {

/// Waits on the run's thread for the exchange's end, waking every 50 ms to pass a cancellation
/// of the run on. Any host.
Result runWaiting(Context& ctx, ExchangePlan plan) {
  struct Outcome {
    std::mutex mutex;
    std::condition_variable cv;
    std::optional<Result> result;
    std::vector<std::string> debug_lines;
  };
  auto outcome = std::make_shared<Outcome>();
  std::shared_ptr<Exchange> exchange = Exchange::start(
      *g_client, std::move(plan), [outcome](Result result, std::vector<std::string> lines) {
        std::lock_guard<std::mutex> lock(outcome->mutex);
        outcome->result = std::move(result);
        outcome->debug_lines = std::move(lines);
        outcome->cv.notify_all();
      });
  bool cancel_sent = false;
  std::unique_lock<std::mutex> lock(outcome->mutex);
  while (!outcome->cv.wait_for(lock, kCancelPollInterval,
                               [&] { return outcome->result.has_value(); })) {
    if (cancel_sent) continue;
    lock.unlock();
    if (ctx.cancelled()) {
      exchange->cancel();
      cancel_sent = true;
    }
    lock.lock();
  }
  for (const std::string& line : outcome->debug_lines) ctx.log(LogLevel::Debug, line);
  return std::move(*outcome->result);
}

/// Defers the call (ABI 1.3) and returns at once: the exchange's end completes it from the
/// client's loop thread, and a cancelled run cancels the exchange. No thread waits.
Result runDeferred(Context& ctx, ExchangePlan plan) {
  Pending pending = ctx.defer();
  std::shared_ptr<Exchange> exchange = Exchange::start(
      *g_client, std::move(plan), [pending](Result result, std::vector<std::string> lines) mutable {
        for (const std::string& line : lines) pending.log(LogLevel::Debug, line);
        pending.complete(std::move(result));
      });
  // Called at once when the run was cancelled already; never after the call completed.
  pending.onCancel([exchange] { exchange->cancel(); });
  return Result::pending();
}

}  // namespace

Result HttpRequest::run(Context& ctx, const Json& fields) {
  ExchangePlan plan;
  if (std::optional<Result> refused = prepare(ctx, fields, plan)) return std::move(*refused);
  if (ctx.cancelled()) return Result::cancelled();
  if (!g_client) return Result::error("the HTTP client is not running (the plugin's init failed)");
  if (kDeferWhenTheHostCan && ctx.canDefer()) return runDeferred(ctx, std::move(plan));
  return runWaiting(ctx, std::move(plan));
}

}  // namespace blueprint::http
