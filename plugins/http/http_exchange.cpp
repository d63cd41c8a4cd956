// SPDX-License-Identifier: Apache-2.0
#include "http_exchange.hpp"

#include <Poco/Exception.h>

#include <algorithm>
#include <cctype>
#include <iomanip>
#include <sstream>

namespace blueprint::http {

namespace {

constexpr int kMaxRedirects = 5;
constexpr const char* kUserAgent = "blueprint-host http_request/1.0";

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::string formatSeconds(double seconds) {
  std::ostringstream out;
  out << std::setprecision(6) << seconds << " s";
  return out.str();
}

std::string formatLimit(std::size_t bytes) {
  return bytes % (1u << 20) == 0 ? std::to_string(bytes >> 20) + " MiB"
                                 : std::to_string(bytes) + " bytes";
}

/// The URL for messages: scheme, authority and path, without the query (it may hold secrets).
/// Poco decodes the path (`%FF` is the byte 0xFF), so the text is made UTF-8 here: it goes into
/// the block's error, which is JSON (issue 11, H2).
std::string displayUrl(const Poco::URI& uri) {
  const bool ipv6 = uri.getHost().find(':') != std::string::npos;
  std::string text = uri.getScheme() + "://" + (ipv6 ? "[" + uri.getHost() + "]" : uri.getHost());
  const std::string scheme = lower(uri.getScheme());
  if (!((scheme == "http" && uri.getPort() == 80) || (scheme == "https" && uri.getPort() == 443)))
    text += ":" + std::to_string(uri.getPort());
  return toValidUtf8(text + (uri.getPath().empty() ? "/" : uri.getPath()));
}

std::string bracketed(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

std::string hostHeader(const Poco::URI& uri) {
  const std::string scheme = lower(uri.getScheme());
  const bool default_port =
      (scheme == "http" && uri.getPort() == 80) || (scheme == "https" && uri.getPort() == 443);
  return default_port ? bracketed(uri.getHost())
                      : bracketed(uri.getHost()) + ":" + std::to_string(uri.getPort());
}

bool isJsonMediaType(const std::string& content_type) {
  std::string media = lower(content_type.substr(0, content_type.find(';')));
  media.erase(0, media.find_first_not_of(" \t"));
  media.erase(media.find_last_not_of(" \t") + 1);
  if (media == "application/json" || media == "text/json") return true;
  return media.size() > 5 && media.compare(media.size() - 5, 5, "+json") == 0 &&
         media.rfind("application/", 0) == 0;
}

bool isRedirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

}  // namespace

Exchange::Exchange(HttpClient& client, ExchangePlan plan, Done done)
    : client_(client), plan_(std::move(plan)), done_(std::move(done)) {}

std::shared_ptr<Exchange> Exchange::start(HttpClient& client, ExchangePlan plan, Done done) {
  auto exchange = std::make_shared<Exchange>(client, std::move(plan), std::move(done));
  try {
    exchange->uri_ = Poco::URI(exchange->plan_.url);
  } catch (const Poco::Exception& e) {
    exchange->finish(
        Result::failure("connection_error", "url is not a valid URL: " + e.displayText()));
    return exchange;
  }
  exchange->startHop();
  return exchange;
}

void Exchange::cancel() {
  HttpClient::Handle handle = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (cancelled_ || finished_) return;
    cancelled_ = true;
    handle = handle_;
  }
  if (handle != 0) client_.cancel(handle);
}

void Exchange::startHop() {
  int hop = 0;
  bool cancelled = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (finished_) return;
    hop = hop_;
    cancelled = cancelled_;
  }
  if (cancelled) return finish(Result::cancelled());
  const std::string scheme = lower(uri_.getScheme());
  if ((scheme != "http" && scheme != "https") || uri_.getHost().empty())
    return finish(Result::failure("connection_error",
                                  "url '" + toValidUtf8(hop == 0 ? plan_.url : uri_.toString()) +
                                      "' is not an http or https URL with a host"));
  if (Clock::now() >= plan_.deadline)
    return finish(Result::failure(
        "connection_error", plan_.method + " " + displayUrl(uri_) + ": timed out after " +
                                formatSeconds(plan_.timeout_s) + " waiting for " + uri_.getHost() +
                                " port " + std::to_string(uri_.getPort())));

  ClientRequest request;
  request.method = plan_.method;
  std::string path = uri_.getPathAndQuery();
  if (path.empty()) path = "/";
  request.url =
      scheme + "://" + bracketed(uri_.getHost()) + ":" + std::to_string(uri_.getPort()) + path;
  bool has_host = false, has_agent = false, has_type = false;
  for (const auto& [name, value] : plan_.headers) {
    const std::string key = lower(name);
    has_host |= key == "host";
    has_agent |= key == "user-agent";
    has_type |= key == "content-type";
    request.headers.emplace_back(name, value);
  }
  if (!has_host) request.headers.emplace_back("Host", hostHeader(uri_));
  if (!has_agent) request.headers.emplace_back("User-Agent", kUserAgent);
  if (plan_.has_body && !has_type)
    request.headers.emplace_back(
        "Content-Type", plan_.json_body ? "application/json" : "text/plain; charset=utf-8");
  const std::string& method = plan_.method;
  request.send_body = plan_.has_body || method == "POST" || method == "PUT" || method == "PATCH";
  if (plan_.has_body) request.body = plan_.body;
  request.deadline = plan_.deadline;
  request.max_body_bytes = plan_.max_body_bytes;
  request.stop_at_redirect = method == "GET" || method == "HEAD";
  request.policy = plan_.policy;

  auto self = shared_from_this();
  const HttpClient::Handle handle = client_.start(
      std::move(request), [self](ClientOutcome outcome) { self->onHop(std::move(outcome)); });
  bool cancel_now = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    // The hop may have completed (and the next begun) on the loop thread already.
    if (hop == hop_ && !finished_) {
      handle_ = handle;
      cancel_now = cancelled_;
    }
  }
  if (cancel_now) client_.cancel(handle);
}

void Exchange::onHop(ClientOutcome outcome) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (finished_) return;
    handle_ = 0;
  }
  const std::string where = plan_.method + " " + displayUrl(uri_);
  const std::string host = uri_.getHost();
  const std::string port = std::to_string(uri_.getPort());
  const std::string& address = outcome.address;
  const std::string peer = address.empty()   ? host + " port " + port
                           : host == address ? address + " port " + port
                                             : host + " (" + address + " port " + port + ")";
  bool cancelled = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    cancelled = cancelled_;
  }
  if (cancelled || outcome.error == ClientError::Cancelled || outcome.error == ClientError::Stopped)
    return finish(Result::cancelled());
  auto connectionError = [&](const std::string& text) {
    return finish(Result::failure("connection_error", where + ": " + toValidUtf8(text)));
  };
  switch (outcome.error) {
    case ClientError::TimedOut:
      return connectionError("timed out after " + formatSeconds(plan_.timeout_s) + " waiting for " +
                             peer);
    case ClientError::Refused: {
      const std::string& refused = outcome.refused_address;
      return connectionError("refused to connect to " + refused + " (" + outcome.detail +
                             (host == refused ? "" : " of host '" + host + "'") + ")" +
                             plan_.refusal_advice);
    }
    case ClientError::Resolve:
      return connectionError("cannot resolve host '" + host + "': " + outcome.detail);
    case ClientError::Tls:
      return connectionError("TLS with " + peer + " failed: " + outcome.detail);
    case ClientError::Connect:
      return connectionError("connection to " + peer + " failed: " + outcome.detail);
    case ClientError::Read:
      return connectionError("reading the response from " + peer + " failed: " + outcome.detail);
    case ClientError::BadRequest:
      return connectionError(outcome.detail);
    default:
      break;
  }

  // A response head, at least.
  const ClientResponse& response = outcome.response;
  const int status = response.status;
  Json response_headers = Json::object();
  std::string location;
  for (const auto& [name, value] : response.headers) {
    const std::string key = toValidUtf8(lower(name));
    const std::string text = toValidUtf8(value);
    if (key == "location" && location.empty()) location = value;
    auto it = response_headers.find(key);
    if (it == response_headers.end())
      response_headers[key] = text;
    else
      *it = it->get<std::string>() + ", " + text;
  }
  Json result = {
      {"status_code", status}, {"headers", std::move(response_headers)}, {"body", nullptr}};
  const std::string limit = formatLimit(plan_.max_body_bytes);
  if (outcome.error == ClientError::DeclaredTooLarge)
    return finish(Result::failure("response_error",
                                  where + ": the response body of " +
                                      std::to_string(response.content_length.value_or(0)) +
                                      " bytes exceeds the limit of " + limit,
                                  std::move(result)));
  if (outcome.error == ClientError::BodyTooLarge)
    return finish(Result::failure("response_error",
                                  where + ": the response body exceeds the limit of " + limit,
                                  std::move(result)));

  const bool follow =
      isRedirect(status) && !location.empty() && (plan_.method == "GET" || plan_.method == "HEAD");
  if (!follow) {
    const std::string& text = response.body;
    const std::string& content_type = response.content_type;
    if (isJsonMediaType(content_type) && text.find_first_not_of(" \t\r\n") != std::string::npos) {
      JsonParse parsed = parseJsonLimited(text, plan_.max_json_depth);
      if (!parsed.ok()) {
        result["body"] = toValidUtf8(text);
        return finish(
            Result::failure("response_error",
                            where + " answered " + std::to_string(status) + " with Content-Type '" +
                                toValidUtf8(content_type) + "' but a body that " +
                                (parsed.status == JsonParse::Status::TooDeep
                                     ? "nests objects and lists deeper than the limit of " +
                                           std::to_string(plan_.max_json_depth) + " levels"
                                     : std::string("is not valid JSON")),
                            std::move(result)));
      }
      result["body"] = std::move(parsed.value);
    } else {
      result["body"] = toValidUtf8(text);
    }
    if (status >= 200 && status < 300) return finish(Result::success(std::move(result)));
    return finish(Result::failure(
        "response_error",
        where + " answered " + std::to_string(status) + " " + toValidUtf8(response.reason),
        std::move(result)));
  }

  // A redirect of a GET or HEAD.
  if (hop_ >= kMaxRedirects)
    return finish(Result::failure("response_error",
                                  where + " redirected more than " + std::to_string(kMaxRedirects) +
                                      " times; stopped at status " + std::to_string(status),
                                  std::move(result)));
  Poco::URI next(uri_);
  try {
    next.resolve(location);
  } catch (const Poco::Exception& e) {
    return finish(Result::failure(
        "response_error",
        where + " redirected to an invalid location: " + toValidUtf8(e.displayText()),
        std::move(result)));
  }
  const bool same_origin = lower(next.getScheme()) == lower(uri_.getScheme()) &&
                           next.getHost() == uri_.getHost() && next.getPort() == uri_.getPort();
  if (!same_origin) {
    // Credentials meant for one origin never follow a redirect to another (as curl does).
    auto& headers = plan_.headers;
    headers.erase(std::remove_if(headers.begin(), headers.end(),
                                 [](const auto& h) {
                                   const std::string key = lower(h.first);
                                   return key == "authorization" || key == "cookie" ||
                                          key == "proxy-authorization" || key == "host";
                                 }),
                  headers.end());
  }
  if (status != 307 && status != 308) {
    plan_.has_body = false;  // 301/302/303 turn into a plain GET (or HEAD)
    plan_.body.clear();
  }
  debug_lines_.push_back(where + " redirected (" + std::to_string(status) + ") to " +
                         displayUrl(next));
  {
    std::lock_guard<std::mutex> lock(mutex_);
    uri_ = std::move(next);
    ++hop_;
  }
  startHop();
}

void Exchange::finish(Result result) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (finished_) return;
    finished_ = true;
  }
  done_(std::move(result), std::move(debug_lines_));
}

}  // namespace blueprint::http
