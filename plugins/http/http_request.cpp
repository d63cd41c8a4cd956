// SPDX-License-Identifier: Apache-2.0
// http_request (DESIGN §8). One request, following up to 5 redirects for GET and HEAD.
//
// Server-side request forgery: every hop resolves its host first and refuses loopback, private,
// link-local, unspecified, multicast and reserved addresses (IPv4 and IPv6, with IPv4 embedded
// in IPv6 checked as IPv4) unless the operator sets
// `block_settings.http_request.allow_private_networks: true`. The socket then connects to the
// address that was checked, never to a second DNS answer, so DNS rebinding cannot slip past.
//
// Time: `timeout_s` bounds the whole exchange (every hop, every body chunk): the socket's
// connect/send/receive timeouts are set to what is left, and a watchdog thread shuts the socket
// down when the deadline passes or the run is cancelled, so a blocked call returns within about
// 50 ms of either (a Return Value on another branch does not wait for a slow server). DNS
// resolution is the one wait it cannot cut short.
//
// The block uses Poco::Net::HTTPClientSession over a socket it connected itself (plain, or
// wrapped by SecureStreamSocket::attach for https) rather than HTTPSClientSession: Poco's
// sessions resolve the host name again when they connect, which would undo the address check.
#include <sys/socket.h>

#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/DNS.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HostEntry.h>
#include <Poco/Net/IPAddress.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/NetSSL.h>
#include <Poco/Net/SSLException.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Timespan.h>
#include <Poco/URI.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <iomanip>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "http_blocks.hpp"

namespace blueprint::http {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxBodyBytes = 10u << 20;  // 10 MiB, the host's default max output size
constexpr int kMaxRedirects = 5;
constexpr double kMaxTimeoutS = 3600;
constexpr const char* kCaLocation = "/etc/ssl/certs";
constexpr const char* kUserAgent = "blueprint-host http_request/1.0";
constexpr const char* kAllowSetting = "block_settings.http_request.allow_private_networks";

/// The TLS client context of this load of the library: written by initTls/deinitTls only (no
/// run is in flight then), read concurrently by runs.
struct TlsState {
  Poco::Net::Context::Ptr context;
  std::string error;  ///< why there is no context, if there is none
  bool ssl_initialised = false;
};
TlsState g_tls;

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

// ---- address policy ----

/// Why an IPv4 address (4 bytes, network order) must not be reached by default; empty if it may.
std::string ipv4Restriction(const unsigned char* a) {
  if (a[0] == 0) return "an unspecified address";
  if (a[0] == 127) return "a loopback address";
  if (a[0] == 10 || (a[0] == 172 && (a[1] & 0xF0) == 16) || (a[0] == 192 && a[1] == 168))
    return "a private address";
  if (a[0] == 169 && a[1] == 254) return "a link-local address";
  if (a[0] == 100 && (a[1] & 0xC0) == 64) return "a shared (carrier-grade NAT) address";
  if (a[0] == 192 && a[1] == 0 && a[2] == 0) return "a reserved address";
  if (a[0] == 198 && (a[1] & 0xFE) == 18) return "a reserved address";
  if (a[0] >= 224) return a[0] < 240 ? "a multicast address" : "a reserved address";
  return {};
}

/// Why an IPv6 address (16 bytes) must not be reached by default; empty if it may.
std::string ipv6Restriction(const unsigned char* a) {
  static const unsigned char kZero[16] = {};
  if (std::equal(a, a + 16, kZero)) return "an unspecified address";
  if (std::equal(a, a + 15, kZero) && a[15] == 1) return "a loopback address";
  if (a[0] == 0xFE && (a[1] & 0xC0) == 0x80) return "a link-local address";
  if (a[0] == 0xFE && (a[1] & 0xC0) == 0xC0) return "a site-local address";
  if ((a[0] & 0xFE) == 0xFC) return "a unique local (private) address";
  if (a[0] == 0xFF) return "a multicast address";
  // IPv4 inside IPv6 reaches the IPv4 network: check the embedded address.
  static const unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
  static const unsigned char kNat64[12] = {0, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0};
  if (std::equal(a, a + 12, kMapped) || std::equal(a, a + 12, kNat64) ||
      std::equal(a, a + 12, kZero))  // IPv4-compatible (deprecated)
    return ipv4Restriction(a + 12);
  if (a[0] == 0x20 && a[1] == 0x02) return ipv4Restriction(a + 2);  // 6to4
  return {};
}

std::string addressRestriction(const Poco::Net::IPAddress& ip) {
  const auto* bytes = static_cast<const unsigned char*>(ip.addr());
  return ip.family() == Poco::Net::IPAddress::IPv4 ? ipv4Restriction(bytes)
                                                   : ipv6Restriction(bytes);
}

// ---- one request ----

/// What one hop needs to know about its target.
struct Target {
  std::string scheme;  ///< http or https
  std::string host;    ///< as written in the URL (no brackets)
  std::uint16_t port = 0;
  Poco::Net::IPAddress address;  ///< the checked address the socket connects to
};

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

std::string hostHeader(const Target& t) {
  std::string host = t.host.find(':') != std::string::npos ? "[" + t.host + "]" : t.host;
  const bool default_port =
      (t.scheme == "http" && t.port == 80) || (t.scheme == "https" && t.port == 443);
  return default_port ? host : host + ":" + std::to_string(t.port);
}

/// A failure with its end state; the result (if any) goes along.
struct Failure {
  std::string state;
  std::string message;
  Json result;
};

/// Resolves the (http or https) URL's host and applies the address policy. Empty state: `target`
/// is set.
Failure resolveTarget(const Poco::URI& uri, bool allow_private, Target& target) {
  target.scheme = lower(uri.getScheme());
  target.host = uri.getHost();
  target.port = uri.getPort();
  std::vector<Poco::Net::IPAddress> addresses;
  Poco::Net::IPAddress literal;
  if (Poco::Net::IPAddress::tryParse(target.host, literal)) {
    addresses.push_back(literal);
  } else {
    try {
      std::string name = target.host;
      if (Poco::Net::DNS::isIDN(name)) name = Poco::Net::DNS::encodeIDN(name);
      // No AI_ADDRCONFIG: every address the name has is checked, not only those of the families
      // this machine has configured.
      addresses = Poco::Net::DNS::hostByName(name, 0).addresses();
    } catch (const Poco::Exception& e) {
      return {"connection_error", "cannot resolve host '" + target.host + "': " + e.displayText(),
              nullptr};
    }
    if (addresses.empty())
      return {"connection_error", "host '" + target.host + "' has no address", nullptr};
  }
  if (!allow_private) {
    for (const auto& ip : addresses) {
      const std::string why = addressRestriction(ip);
      if (!why.empty())
        return {"connection_error",
                "refused to connect to " + ip.toString() + " (" + why +
                    (target.host == ip.toString() ? "" : " of host '" + target.host + "'") +
                    "): requests to private networks are off; set " + kAllowSetting +
                    " to true in the host config to allow them",
                nullptr};
    }
  }
  // Like Poco's SocketAddress: the first IPv4 address, else the first address.
  auto v4 = std::find_if(addresses.begin(), addresses.end(), [](const Poco::Net::IPAddress& ip) {
    return ip.family() == Poco::Net::IPAddress::IPv4;
  });
  target.address = v4 != addresses.end() ? *v4 : addresses.front();
  return {};
}

bool isJsonMediaType(const std::string& content_type) {
  std::string media = lower(content_type.substr(0, content_type.find(';')));
  media.erase(0, media.find_first_not_of(" \t"));
  media.erase(media.find_last_not_of(" \t") + 1);
  if (media == "application/json" || media == "text/json") return true;
  return media.size() > 5 && media.compare(media.size() - 5, 5, "+json") == 0 &&
         media.rfind("application/", 0) == 0;
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

bool isRedirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

/// Why the watchdog cut a socket short.
enum class Stop { None, Cancelled, TimedOut };

/// Cuts a blocked socket call short from a second thread: while armed with a socket, it shuts
/// the socket down (which wakes a blocked connect, recv or TLS handshake) once the run is
/// cancelled or the request's deadline passes. Poco's socket timeouts stay as the backstop.
/// The shutdown happens under the same lock disarm() takes, so once disarm() returns the
/// watchdog never touches that descriptor again and the socket may close.
class Watchdog {
 public:
  Watchdog(const Context& ctx, Clock::time_point deadline) : ctx_(ctx), deadline_(deadline) {}
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  /// Watches `fd` until disarm(); starts the thread on first use.
  void arm(int fd) {
    std::lock_guard<std::mutex> lock(mutex_);
    fd_ = fd;
    if (stop_ != Stop::None) ::shutdown(fd_, SHUT_RDWR);
    if (!thread_.joinable()) thread_ = std::thread([this] { loop(); });
  }
  void disarm() {
    std::lock_guard<std::mutex> lock(mutex_);
    fd_ = -1;
  }
  /// Whether (and why) the watchdog fired.
  Stop fired() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return stop_;
  }

 private:
  void loop() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopping_ && stop_ == Stop::None) {
      cv_.wait_for(lock, std::chrono::milliseconds(50));
      if (stopping_) break;
      lock.unlock();
      // Context::cancelled() may be called from a thread the block joins before run() returns.
      const Stop stop = ctx_.cancelled()            ? Stop::Cancelled
                        : Clock::now() >= deadline_ ? Stop::TimedOut
                                                    : Stop::None;
      lock.lock();
      if (stop != Stop::None) {
        stop_ = stop;
        if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
      }
    }
  }

  const Context& ctx_;
  const Clock::time_point deadline_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::thread thread_;
  int fd_ = -1;
  bool stopping_ = false;
  Stop stop_ = Stop::None;
};

/// Disarms the watchdog when the hop's socket is about to close (declared after the socket).
class Armed {
 public:
  Armed(Watchdog& watchdog, int fd) : watchdog_(watchdog) { watchdog_.arm(fd); }
  ~Armed() { watchdog_.disarm(); }
  Armed(const Armed&) = delete;
  Armed& operator=(const Armed&) = delete;

 private:
  Watchdog& watchdog_;
};

}  // namespace

void initTls() {
  Poco::Net::initializeSSL();
  g_tls.ssl_initialised = true;
  try {
    std::error_code ec;
    const bool have_dir = std::filesystem::is_directory(kCaLocation, ec);
    // Verification on (VERIFY_RELAXED is SSL_VERIFY_PEER for a client); Poco also checks the
    // certificate against the host name. Without the system CA directory, OpenSSL's defaults.
    g_tls.context =
        new Poco::Net::Context(Poco::Net::Context::CLIENT_USE, have_dir ? kCaLocation : "",
                               Poco::Net::Context::VERIFY_RELAXED, 9, !have_dir);
    g_tls.error.clear();
  } catch (const Poco::Exception& e) {
    g_tls.context = nullptr;
    g_tls.error = e.displayText();
  }
}

void deinitTls() {
  g_tls.context = nullptr;
  if (g_tls.ssl_initialised) Poco::Net::uninitializeSSL();
  g_tls.ssl_initialised = false;
}

BlockSpec HttpRequest::spec() {
  return BlockSpec(kType, "HTTP request")
      .description(
          "Makes an HTTP or HTTPS request. The result is `{status_code, headers, body}`: header "
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
      .field(Field::select("method", {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
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
}

Result HttpRequest::run(Context& ctx, const Json& fields) {
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

  const auto deadline =
      Clock::now() + std::chrono::microseconds(static_cast<std::int64_t>(timeout_s * 1e6));
  Poco::URI uri;
  try {
    uri = Poco::URI(url);
  } catch (const Poco::Exception& e) {
    return Result::failure("connection_error", "url is not a valid URL: " + e.displayText());
  }

  // ---- hops ----
  Watchdog watchdog(ctx, deadline);
  for (int hop = 0;; ++hop) {
    if (ctx.cancelled()) return Result::error("cancelled");
    const std::string scheme = lower(uri.getScheme());
    if ((scheme != "http" && scheme != "https") || uri.getHost().empty())
      return Result::failure("connection_error", "url '" + (hop == 0 ? url : uri.toString()) +
                                                     "' is not an http or https URL with a host");
    Target target;
    Failure refused = resolveTarget(uri, allow_private, target);
    const std::string where = method + " " + displayUrl(uri);
    if (!refused.state.empty())
      return Result::failure(refused.state, where + ": " + refused.message);
    const std::string address = target.address.toString();
    const std::string peer =
        target.host == address
            ? address + " port " + std::to_string(target.port)
            : target.host + " (" + address + " port " + std::to_string(target.port) + ")";
    auto timedOut = [&] {
      return Result::failure(
          "connection_error",
          where + ": timed out after " + formatSeconds(timeout_s) + " waiting for " + peer);
    };
    const auto left =
        std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now());
    if (left.count() <= 0) return timedOut();

    Json result;
    std::string content_type;
    int status = 0;
    std::string location;
    try {
      // The socket connects to the checked address itself (Poco's sessions would resolve the
      // name again), is watched for cancellation, and gets TLS on top for https: SNI and the
      // certificate's name check use the URL's host.
      if (target.scheme == "https" && g_tls.context.isNull())
        return Result::failure("connection_error",
                               where + ": TLS is unavailable in this host: " + g_tls.error);
      const Poco::Net::SocketAddress socket_address(target.address, target.port);
      Poco::Net::StreamSocket plain(socket_address.family());
      Poco::Net::StreamSocket socket;
      std::optional<Poco::Net::HTTPClientSession> session;
      // Declared after everything that closes the descriptor, so it is disarmed first.
      Armed armed(watchdog, static_cast<int>(plain.impl()->sockfd()));
      const Poco::Timespan span(static_cast<Poco::Timespan::TimeDiff>(left.count()));
      plain.connect(socket_address, span);
      plain.setReceiveTimeout(span);
      plain.setSendTimeout(span);
      plain.setNoDelay(true);
      socket = target.scheme == "https"
                   ? Poco::Net::SecureStreamSocket::attach(plain, target.host, g_tls.context)
                   : plain;
      // A session over a connected socket and without a host never reconnects on its own.
      session.emplace(socket);

      std::string path = uri.getPathAndQuery();
      if (path.empty()) path = "/";
      Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
      request.setKeepAlive(false);
      bool has_host = false, has_agent = false, has_type = false;
      for (const auto& [name, value] : headers) {
        const std::string key = lower(name);
        has_host |= key == "host";
        has_agent |= key == "user-agent";
        has_type |= key == "content-type";
        request.add(name, value);
      }
      if (!has_host) request.set("Host", hostHeader(target));
      if (!has_agent) request.set("User-Agent", kUserAgent);
      if (has_body && !has_type)
        request.setContentType(json_body ? "application/json" : "text/plain; charset=utf-8");
      if (has_body || method == "POST" || method == "PUT" || method == "PATCH")
        request.setContentLength(static_cast<std::streamsize>(body.size()));
      std::ostream& out = session->sendRequest(request);
      if (!body.empty()) out.write(body.data(), static_cast<std::streamsize>(body.size()));

      Poco::Net::HTTPResponse response;
      std::istream& in = session->receiveResponse(response);
      status = static_cast<int>(response.getStatus());
      Json response_headers = Json::object();
      for (const auto& [name, value] : response) {
        const std::string key = toValidUtf8(lower(name));
        const std::string text = toValidUtf8(value);
        auto it = response_headers.find(key);
        if (it == response_headers.end())
          response_headers[key] = text;
        else
          *it = it->get<std::string>() + ", " + text;
      }
      content_type = response.getContentType();
      if (isRedirect(status) && response.has("Location")) location = response.get("Location");
      result = {
          {"status_code", status}, {"headers", std::move(response_headers)}, {"body", nullptr}};

      const bool follow = !location.empty() && (method == "GET" || method == "HEAD");
      if (!follow) {
        if (method != "HEAD" && response.hasContentLength() &&
            static_cast<std::uint64_t>(response.getContentLength64()) > kMaxBodyBytes)
          return Result::failure("response_error",
                                 where + ": the response body of " +
                                     std::to_string(response.getContentLength64()) +
                                     " bytes exceeds the limit of 10 MiB",
                                 std::move(result));
        std::string text;
        std::array<char, 65536> buffer{};
        while (in) {
          in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
          const std::streamsize got = in.gcount();
          if (got <= 0) break;
          if (text.size() + static_cast<std::size_t>(got) > kMaxBodyBytes)
            return Result::failure("response_error",
                                   where + ": the response body exceeds the limit of 10 MiB",
                                   std::move(result));
          text.append(buffer.data(), static_cast<std::size_t>(got));
          if (ctx.cancelled()) return Result::error("cancelled");
          if (Clock::now() >= deadline) return timedOut();
        }
        if (const Stop stop = watchdog.fired(); stop != Stop::None)
          return stop == Stop::TimedOut ? timedOut() : Result::error("cancelled");
        if (in.bad()) {
          const Poco::Exception* cause = session->networkException();
          if (cause != nullptr && dynamic_cast<const Poco::TimeoutException*>(cause) != nullptr)
            return timedOut();
          return Result::failure("connection_error",
                                 where + ": reading the response from " + peer + " failed" +
                                     (cause != nullptr ? ": " + cause->displayText() : ""));
        }
        if (isJsonMediaType(content_type) &&
            text.find_first_not_of(" \t\r\n") != std::string::npos) {
          // The body sits one level down in the result, which the host bounds as a whole.
          const std::size_t max_depth = ctx.jsonMaxDepth() - 1;
          JsonParse parsed = parseJsonLimited(text, max_depth);
          if (!parsed.ok()) {
            result["body"] = toValidUtf8(text);
            return Result::failure("response_error",
                                   where + " answered " + std::to_string(status) +
                                       " with Content-Type '" + toValidUtf8(content_type) +
                                       "' but a body that " +
                                       (parsed.status == JsonParse::Status::TooDeep
                                            ? "nests objects and lists deeper than the limit of " +
                                                  std::to_string(max_depth) + " levels"
                                            : std::string("is not valid JSON")),
                                   std::move(result));
          }
          result["body"] = std::move(parsed.value);
        } else {
          result["body"] = toValidUtf8(text);
        }
        if (status >= 200 && status < 300) return Result::success(std::move(result));
        return Result::failure(
            "response_error",
            where + " answered " + std::to_string(status) + " " + toValidUtf8(response.getReason()),
            std::move(result));
      }
    } catch (const Poco::Exception& e) {
      // A socket the watchdog shut down fails with whatever the call in progress saw.
      if (const Stop stop = watchdog.fired(); stop != Stop::None)
        return stop == Stop::TimedOut ? timedOut() : Result::error("cancelled");
      if (dynamic_cast<const Poco::TimeoutException*>(&e) != nullptr) return timedOut();
      if (dynamic_cast<const Poco::Net::SSLException*>(&e) != nullptr)
        return Result::failure("connection_error",
                               where + ": TLS with " + peer + " failed: " + e.displayText());
      return Result::failure("connection_error",
                             where + ": connection to " + peer + " failed: " + e.displayText());
    }
    if (const Stop stop = watchdog.fired(); stop != Stop::None)
      return stop == Stop::TimedOut ? timedOut() : Result::error("cancelled");

    // A redirect of a GET or HEAD.
    if (hop >= kMaxRedirects)
      return Result::failure("response_error",
                             where + " redirected more than " + std::to_string(kMaxRedirects) +
                                 " times; stopped at status " + std::to_string(status),
                             std::move(result));
    Poco::URI next(uri);
    try {
      next.resolve(location);
    } catch (const Poco::Exception& e) {
      return Result::failure(
          "response_error",
          where + " redirected to an invalid location: " + toValidUtf8(e.displayText()),
          std::move(result));
    }
    const bool same_origin = lower(next.getScheme()) == target.scheme &&
                             next.getHost() == uri.getHost() && next.getPort() == uri.getPort();
    if (!same_origin) {
      // Credentials meant for one origin never follow a redirect to another (as curl does).
      headers.erase(std::remove_if(headers.begin(), headers.end(),
                                   [](const auto& h) {
                                     const std::string key = lower(h.first);
                                     return key == "authorization" || key == "cookie" ||
                                            key == "proxy-authorization" || key == "host";
                                   }),
                    headers.end());
    }
    if (status != 307 && status != 308) {
      has_body = false;  // 301/302/303 turn into a plain GET (or HEAD)
      body.clear();
    }
    ctx.log(LogLevel::Debug,
            where + " redirected (" + std::to_string(status) + ") to " + displayUrl(next));
    uri = std::move(next);
  }
}

}  // namespace blueprint::http
