// SPDX-License-Identifier: Apache-2.0
// A non-blocking HTTP(S) client (decision 017): one thread runs libcurl's multi interface for
// every request of this load of the plugin, so a thousand requests waiting on slow servers cost a
// thousand sockets, not a thousand threads.
//
// One start() is one exchange with one server: no redirects are followed here (the caller decides
// about each hop), no connection is reused (each request's address policy is checked on a socket
// of its own), no proxy from the environment, http and https only, TLS peer and host name
// verified against the system CAs. The request's ConnectPolicy sees every address a socket is
// about to connect to and may refuse it; the deadline bounds everything from name resolution to
// the last body byte; the body is cut off past its size limit.
//
// Threading: start() and cancel() may be called from any thread, the loop thread included (a
// completion may start the next hop). Each request's completion runs exactly once, on the loop
// thread, after the request's last callback, so it may free whatever the request used.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

namespace blueprint::http {

using Clock = std::chrono::steady_clock;

/// Why a socket must not connect to `address` (empty: it may). Called on the loop thread.
using ConnectPolicy = std::function<std::string(const sockaddr& address)>;

struct ClientRequest {
  std::string method = "GET";
  std::string url;  ///< absolute http:// or https:// URL, sent as given (no path normalising)
  /// Sent as given and in order; they replace libcurl's own of the same name. Accept, Expect and
  /// (for a body) Content-Type are not sent unless listed here.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool send_body = false;  ///< send `body` with a Content-Length, even when it is empty
  Clock::time_point deadline = Clock::now() + std::chrono::seconds(30);
  std::size_t max_body_bytes = 10u << 20;
  /// A 3xx response with a Location header ends once its head is read (the body is not wanted).
  bool stop_at_redirect = false;
  ConnectPolicy policy;  ///< unset: every address is allowed
};

enum class ClientError {
  None,       ///< a response: `response` holds it (maybe only its head, see stop_at_redirect)
  Cancelled,  ///< cancel() reached it first
  Stopped,    ///< the client shut down with the request in flight
  TimedOut,   ///< the deadline passed
  Refused,    ///< the policy refused every address tried (refused_address, detail)
  Resolve,    ///< the host name did not resolve
  Tls,        ///< the TLS handshake or the certificate check failed
  Connect,    ///< no connection, or it failed before a whole response head
  Read,       ///< the connection failed after the response head
  DeclaredTooLarge,  ///< the response's Content-Length is over max_body_bytes (head in response)
  BodyTooLarge,      ///< the body grew past max_body_bytes (head in response)
  BadRequest,        ///< libcurl refused the URL or the request
};

struct ClientResponse {
  int status = 0;
  std::string reason;  ///< the status line's reason phrase, as sent (any bytes)
  std::vector<std::pair<std::string, std::string>> headers;  ///< as sent, in order
  std::string content_type;                                  ///< empty if none
  std::optional<std::uint64_t> content_length;
  std::string body;
};

struct ClientOutcome {
  ClientError error = ClientError::None;
  std::string detail;   ///< libcurl's or the system's words for the error; the policy's reason
  std::string address;  ///< the address the last socket connected to, "" if none
  std::string refused_address;  ///< the first address the policy refused, "" if none
  bool head_complete = false;   ///< response.status, reason and headers are set
  ClientResponse response;
};

class HttpClient {
 public:
  using Handle = std::uint64_t;
  using Completion = std::function<void(ClientOutcome)>;

  /// Starts the loop thread. Throws std::runtime_error when libcurl cannot set up (call
  /// curl_global_init before).
  HttpClient();
  /// Stops the loop: requests still in flight complete with ClientError::Stopped; joins the
  /// thread. Not from the loop thread.
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  /// Queues `request`; `done` gets its outcome on the loop thread. After the client stopped,
  /// `done` gets ClientError::Stopped at once, on the caller's thread.
  Handle start(ClientRequest request, Completion done);
  /// Ends the request with ClientError::Cancelled soon (the loop removes it on its next turn).
  /// A request that already completed, or an unknown handle, is left alone.
  void cancel(Handle handle);

  /// Requests started and not yet completed.
  std::size_t inFlight() const;

 private:
  struct Transfer;
  void loop();
  void addTransfer(std::unique_ptr<Transfer> transfer);
  void finish(Transfer& transfer, int curl_code);
  void complete(std::unique_ptr<Transfer> transfer, ClientOutcome outcome);

  void* multi_ = nullptr;  ///< CURLM*, touched by the loop thread (and wakeup from any)
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Transfer>> starting_;                ///< guarded by mutex_
  std::vector<Handle> cancelling_;                                 ///< guarded by mutex_
  bool stopping_ = false;                                          ///< guarded by mutex_
  Handle next_handle_ = 1;                                         ///< guarded by mutex_
  std::size_t in_flight_ = 0;                                      ///< guarded by mutex_
  std::unordered_map<Handle, std::unique_ptr<Transfer>> running_;  ///< loop thread only
  std::thread thread_;
};

}  // namespace blueprint::http
