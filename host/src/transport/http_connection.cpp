// SPDX-License-Identifier: Apache-2.0
#include "transport/http_connection.hpp"

#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/Logger.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPServerSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Timestamp.h>

#include <ctime>
#include <memory>
#include <string>

#include "transport/connection_input.hpp"
#include "http/http_error.hpp"
#include "transport/one_write_response.hpp"
#include "transport/request_body.hpp"
#include "transport/server_request.hpp"

namespace blueprint::host {

namespace {

using Clock = std::chrono::steady_clock;

/// The Date header, formatted once per second per thread rather than once per request.
const std::string& httpDate() {
  thread_local std::time_t formatted_for = 0;
  thread_local std::string text;
  const std::time_t now = std::time(nullptr);
  if (now != formatted_for) {
    text = Poco::DateTimeFormatter::format(Poco::Timestamp::fromEpochTime(now),
                                           Poco::DateTimeFormat::HTTP_FORMAT);
    formatted_for = now;
  }
  return text;
}

/// Answers with the error shape and `Connection: close`, before (or instead of) any handler.
void refuse(Poco::Net::HTTPServerSession& session, int status, const std::string& code,
            const std::string& message) {
  OneWriteResponse response(session);
  response.setVersion(Poco::Net::HTTPMessage::HTTP_1_1);
  response.set("Date", httpDate());
  response.setKeepAlive(false);
  try {
    sendError(response, status, code, message);
  } catch (...) {
    // The peer is gone; nothing to tell it.
  }
}

}  // namespace

class HttpConnection final : public Poco::Net::TCPServerConnection {
 public:
  HttpConnection(const Poco::Net::StreamSocket& socket, HttpConnectionFactory& factory)
      : Poco::Net::TCPServerConnection(socket),
        factory_(factory),
        limits_(factory.limits_),
        started_(Clock::now()) {}

  void run() override {
    factory_.enter(this);
    try {
      serve();
    } catch (...) {
      factory_.leave(this);
      throw;  // TCPServerConnection::start logs it, as for Poco's own connections
    }
    factory_.leave(this);
  }

  /// Called by the factory at shutdown.
  void stop(bool abort_current) {
    stopped_ = true;
    std::unique_lock<std::mutex> wait_for_request(request_mutex_, std::defer_lock);
    if (!abort_current) wait_for_request.lock();
    try {
      socket().shutdown();
    } catch (...) {
      // Already closed by the peer: nothing left to end.
    }
  }

 private:
  enum class Wait { Ready, TimedOut, Busy, Stopped };

  /// Waits for input until `deadline`. While other connections wait for a thread, gives this
  /// one up once it has waited busy_timeout since `since` (issue 11, H4: idle or slow peers
  /// must not keep a full pool from serving newcomers such as /healthz).
  Wait awaitInput(const ConnectionInput& input, Clock::time_point deadline,
                  Clock::time_point since) const {
    for (;;) {
      if (stopped_) return Wait::Stopped;
      // Checked before each wait, not only after one that timed out: a peer that sends a byte
      // now and then must not escape it.
      const Clock::time_point now = Clock::now();
      if (now >= deadline) return Wait::TimedOut;
      if (now - since >= limits_.busy_timeout && factory_.othersWaiting()) return Wait::Busy;
      if (input.waitReadable(deadline, limits_.busy_timeout)) return Wait::Ready;
    }
  }

  void serve() {
    const Poco::Net::HTTPServerParams& params = *factory_.params_;
    const int max_requests = params.getMaxKeepAliveRequests();  // 0: unlimited
    Poco::Net::HTTPServerSession session(socket(), factory_.params_);
    Poco::Net::SocketAddress client, server;
    try {
      client = socket().peerAddress();
      server = socket().address();
      socket().setSendTimeout(Poco::Timespan(
          static_cast<Poco::Timespan::TimeDiff>(limits_.send_timeout.count()) * 1000));
    } catch (const Poco::Exception&) {
      return;  // the peer left before its first request
    }
    ConnectionInput input(socket().impl()->sockfd(), limits_.framing.max_header_bytes + 1);
    const auto keep_alive_timeout =
        std::chrono::milliseconds(params.getKeepAliveTimeout().totalMilliseconds());
    int served = 0;
    for (;;) {
      // A new connection's wait for its first byte counts against its head deadline.
      const Clock::time_point wait_start = served == 0 ? started_ : Clock::now();
      bool readable = false;
      if (input.buffered().empty()) {
        const Clock::time_point idle_deadline =
            wait_start + (served == 0 ? limits_.header_timeout : keep_alive_timeout);
        if (awaitInput(input, idle_deadline, wait_start) != Wait::Ready) return;
        readable = true;
      }
      const Clock::time_point head_deadline =
          served == 0 ? started_ + limits_.header_timeout : Clock::now() + limits_.header_timeout;
      RequestHeadScanner scanner(limits_.framing);
      RequestHeadScanner::Result scanned = scanner.scan(input.buffered());
      while (scanned == RequestHeadScanner::Result::NeedMore) {
        // Right after a wait that found input, read without polling again: one poll(2) and one
        // recv(2) per request on the usual path.
        if (!readable) {
          const Wait wait = awaitInput(input, head_deadline, wait_start);
          if (wait != Wait::Ready) {
            if (wait != Wait::Stopped && !input.buffered().empty())
              refuse(session, 408, "request_timeout",
                     "the request head did not arrive within " +
                         std::to_string(limits_.header_timeout.count()) + " ms");
            return;
          }
        }
        readable = false;
        if (input.fill() != ConnectionInput::Fill::Data) return;  // gone before a whole head
        scanned = scanner.scan(input.buffered());
      }
      if (scanned == RequestHeadScanner::Result::Invalid) {
        const FramingError& error = scanner.error();
        refuse(session, error.status, error.code, error.message);
        input.discardUntilClosed(limits_.drain_timeout, limits_.drain_limit_bytes);
        return;
      }

      std::lock_guard<std::mutex> one_request(request_mutex_);
      if (stopped_) return;
      ++served;
      RequestBody body(input, scanner.body(), limits_.framing);
      bool keep_alive = false;
      bool answered = true;  // false: the answer could not be written whole
      {
        OneWriteResponse response(session);
        try {
          ServerRequest request(response, input.buffered().substr(0, scanner.headLength()), body,
                                limits_.framing, params, client, server);
          input.consume(scanner.headLength());
          response.setHeadRequest(request.getMethod() == Poco::Net::HTTPRequest::HTTP_HEAD);
          response.setVersion(request.getVersion());
          response.set("Date", httpDate());
          response.setKeepAlive(params.getKeepAlive() && request.getKeepAlive() &&
                                (max_requests <= 0 || served < max_requests) &&
                                !factory_.othersWaiting());
          handle(request, response);
          keep_alive = params.getKeepAlive() && response.getKeepAlive();
          answered = !response.broken();
        } catch (const Poco::Net::MessageException& e) {
          // The scanner accepted what Poco's parser refuses: refuse it too.
          refuse(session, 400, "invalid_request",
                 std::string("malformed request head: ") + e.message());
          input.discardUntilClosed(limits_.drain_timeout, limits_.drain_limit_bytes);
          return;
        }
      }  // a streamed answer ends here (its last chunk goes out), before the body is drained
      answered = answered && session.networkException() == nullptr;
      // The body the handler left unread is drained (up to a bound) before the next request
      // is read, or the connection closes: never is it parsed as a request (issue 11, C1).
      const bool body_read = body.finish(keep_alive && answered ? limits_.drain_limit_bytes : 0,
                                         Clock::now() + limits_.drain_timeout);
      if (keep_alive && answered && body_read) continue;
      if (answered && (!body_read || !input.buffered().empty()))
        input.discardUntilClosed(limits_.drain_timeout, limits_.drain_limit_bytes);
      return;
    }
  }

  /// Runs the handler; whatever it throws becomes an answer (if none went out yet) and a
  /// closed connection, never an exception out of this thread.
  void handle(ServerRequest& request, OneWriteResponse& response) {
    try {
      std::unique_ptr<Poco::Net::HTTPRequestHandler> handler(
          factory_.handlers_->createRequestHandler(request));
      if (!handler) {
        response.setKeepAlive(false);
        sendError(response, 501, "not_implemented", "no handler serves this request");
        return;
      }
      if (request.getExpectContinue() && response.getStatus() == Poco::Net::HTTPResponse::HTTP_OK)
        response.sendContinue();
      handler->handleRequest(request, response);
    } catch (const RequestBodyError& e) {
      answerFailure(response, e.status(), e.code(), e.what());
    } catch (const std::exception& e) {
      failed(request, response, e.what());
    } catch (...) {
      failed(request, response, "an exception that is not a std::exception");
    }
  }

  static void answerFailure(OneWriteResponse& response, int status, const std::string& code,
                            const std::string& message) {
    const bool answered = response.sent();
    response.setKeepAlive(false);
    if (answered) return;
    try {
      sendError(response, status, code, message);
    } catch (...) {
      // The peer is gone.
    }
  }

  void failed(ServerRequest& request, OneWriteResponse& response, const std::string& what) {
    if (response.broken()) {
      response.setKeepAlive(false);
      return;  // a write to a peer that left or stopped reading: nothing went wrong here
    }
    const std::string incident = newIncidentId();
    Poco::Logger::get("blueprint.http")
        .error("incident %s: %s %s failed: %s", incident, printableForLog(request.getMethod()),
               printableForLog(request.getURI()), printableForLog(what, 1024));
    answerFailure(response, 500, "internal_error",
                  "internal error (incident " + incident + "; the host log has the details)");
  }

  HttpConnectionFactory& factory_;
  const ConnectionLimits& limits_;
  /// When a pool thread took the connection up (its time in the accept queue is not its own).
  const Clock::time_point started_;
  std::atomic<bool> stopped_{false};
  std::mutex request_mutex_;
};

HttpConnectionFactory::HttpConnectionFactory(Poco::Net::HTTPServerParams::Ptr params,
                                             Poco::Net::HTTPRequestHandlerFactory::Ptr handlers,
                                             const ConnectionLimits& limits)
    : params_(std::move(params)), handlers_(std::move(handlers)), limits_(limits) {}

Poco::Net::TCPServerConnection* HttpConnectionFactory::createConnection(
    const Poco::Net::StreamSocket& socket) {
  return new HttpConnection(socket, *this);
}

void HttpConnectionFactory::enter(HttpConnection* connection) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (stopped_) {
    connection->stop(true);  // accepted just before shutdown: do not start serving it
    return;
  }
  live_.insert(connection);
}

void HttpConnectionFactory::leave(HttpConnection* connection) {
  std::lock_guard<std::mutex> lock(mutex_);
  live_.erase(connection);
}

bool HttpConnectionFactory::othersWaiting() const {
  const Poco::Net::TCPServer* server = server_.load();
  return server != nullptr && server->queuedConnections() > 0;
}

void HttpConnectionFactory::stopAll(bool abort_current) {
  std::lock_guard<std::mutex> lock(mutex_);
  stopped_ = true;
  for (HttpConnection* connection : live_) connection->stop(abort_current);
}

}  // namespace blueprint::host
