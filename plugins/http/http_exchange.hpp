// SPDX-License-Identifier: Apache-2.0
// One http_request call as a chain of hops on the HttpClient (DESIGN §8): the first request, then
// up to 5 redirects for GET and HEAD, each hop's address checked by the policy on the socket that
// connects, credentials dropped when a redirect changes origin, one `timeout_s` over the whole
// chain; the last hop's response (or the failure) becomes the block's Result with the messages
// the block has always given.
//
// Threading: the chain advances on the client's loop thread (a hop's completion starts the next);
// `done` runs exactly once, on the caller's thread when start() fails before any I/O, else on the
// loop thread. cancel() may be called from any thread, any number of times.
#pragma once

#include <Poco/URI.h>

#include <blueprint/sdk.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "http_client.hpp"

namespace blueprint::http {

/// Everything a call needs, checked and rendered on the run's thread beforehand.
struct ExchangePlan {
  std::string method;
  std::string url;  ///< as the block's field gave it (for messages)
  std::vector<std::pair<std::string, std::string>> headers;
  bool has_body = false;
  bool json_body = false;
  std::string body;
  double timeout_s = 30;
  Clock::time_point deadline;
  std::size_t max_json_depth = 127;  ///< for the response body (one level below the result)
  std::size_t max_body_bytes = 10u << 20;
  ConnectPolicy policy;
  /// Finishes the refusal message after "refused to connect to <address> (<why>[ of host 'h'])".
  std::string refusal_advice;
};

class Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  /// The Result, and the debug lines (one per redirect) for the run's log.
  using Done = std::function<void(Result result, std::vector<std::string> debug_lines)>;

  /// Starts the chain on `client`, which must outlive it.
  static std::shared_ptr<Exchange> start(HttpClient& client, ExchangePlan plan, Done done);
  /// Stops the chain soon; it then ends with Result::cancelled().
  void cancel();

  Exchange(HttpClient& client, ExchangePlan plan, Done done);

 private:
  /// Starts the hop for uri_ (under mutex_), or finishes when it cannot.
  void startHop();
  void onHop(ClientOutcome outcome);
  void finish(Result result);

  HttpClient& client_;
  ExchangePlan plan_;
  Done done_;
  std::vector<std::string> debug_lines_;
  Poco::URI uri_;
  int hop_ = 0;
  std::mutex mutex_;
  HttpClient::Handle handle_ = 0;  ///< guarded by mutex_
  bool cancelled_ = false;         ///< guarded by mutex_
  bool finished_ = false;          ///< guarded by mutex_
};

}  // namespace blueprint::http
