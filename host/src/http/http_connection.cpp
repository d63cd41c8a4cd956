// SPDX-License-Identifier: Apache-2.0
#include "http/http_connection.hpp"

#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPServerSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Timestamp.h>
#include <poll.h>

#include <cerrno>
#include <ctime>
#include <memory>
#include <string>

#include "http/one_write_response.hpp"
#include "http/server_request.hpp"

namespace blueprint::host {

namespace {

/// Poco's session with a wait for the next request that costs one poll(2) instead of
/// epoll_create + epoll_ctl + epoll_wait + close.
class KeepAliveSession final : public Poco::Net::HTTPServerSession {
 public:
  KeepAliveSession(const Poco::Net::StreamSocket& socket, Poco::Net::HTTPServerParams::Ptr params)
      : Poco::Net::HTTPServerSession(socket, params) {}

  /// True when request bytes are buffered or arrive (or the peer closes: the read that follows
  /// then ends the loop) within `timeout`.
  bool waitForRequest(const Poco::Timespan& timeout) {
    if (buffered() > 0) return true;
    pollfd pfd{};
    pfd.fd = socket().impl()->sockfd();
    pfd.events = POLLIN;
    const auto budget_ms = static_cast<int>(timeout.totalMilliseconds());
    for (;;) {
      const int ready = ::poll(&pfd, 1, budget_ms);
      if (ready > 0) return true;
      if (ready == 0) return false;
      if (errno != EINTR) return false;
    }
  }
};

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

void sendBareError(Poco::Net::HTTPServerSession& session,
                   Poco::Net::HTTPResponse::HTTPStatus status) {
  OneWriteResponse response(session);
  response.setVersion(Poco::Net::HTTPMessage::HTTP_1_1);
  response.setStatusAndReason(status);
  response.setKeepAlive(false);
  response.sendBuffer(nullptr, 0);
  session.setKeepAlive(false);
}

}  // namespace

class HttpConnection final : public Poco::Net::TCPServerConnection {
 public:
  HttpConnection(const Poco::Net::StreamSocket& socket, HttpConnectionFactory& factory)
      : Poco::Net::TCPServerConnection(socket), factory_(factory) {}

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
  void serve() {
    const Poco::Net::HTTPServerParams& params = *factory_.params_;
    const int max_requests = params.getMaxKeepAliveRequests();  // 0: unlimited
    KeepAliveSession session(socket(), factory_.params_);
    Poco::Net::SocketAddress client, server;
    try {
      client = socket().peerAddress();
      server = socket().address();
    } catch (const Poco::Exception&) {
      return;  // the peer left before its first request
    }
    int served = 0;
    for (;;) {
      const Poco::Timespan& wait = served == 0 ? params.getTimeout() : params.getKeepAliveTimeout();
      if (stopped_ || !session.waitForRequest(wait)) return;
      std::lock_guard<std::mutex> one_request(request_mutex_);
      if (stopped_) return;
      ++served;
      bool keep_alive = false;
      try {
        OneWriteResponse response(session);
        ServerRequest request(response, session, params, client, server);
        // Poco takes any third word of the request line as the version; only HTTP/1.x is
        // spoken here, and answering anything else in kind would echo garbage.
        if (request.getVersion() != Poco::Net::HTTPMessage::HTTP_1_1 &&
            request.getVersion() != Poco::Net::HTTPMessage::HTTP_1_0)
          throw Poco::Net::MessageException("unsupported HTTP version");
        response.setHeadRequest(request.getMethod() == Poco::Net::HTTPRequest::HTTP_HEAD);
        response.setVersion(request.getVersion());
        response.set("Date", httpDate());
        response.setKeepAlive(params.getKeepAlive() && request.getKeepAlive() &&
                              (max_requests <= 0 || served < max_requests) &&
                              !factory_.othersWaiting());
        try {
          std::unique_ptr<Poco::Net::HTTPRequestHandler> handler(
              factory_.handlers_->createRequestHandler(request));
          if (!handler) {
            sendBareError(session, Poco::Net::HTTPResponse::HTTP_NOT_IMPLEMENTED);
            return;
          }
          if (request.getExpectContinue() &&
              response.getStatus() == Poco::Net::HTTPResponse::HTTP_OK)
            response.sendContinue();
          handler->handleRequest(request, response);
          keep_alive = params.getKeepAlive() && response.getKeepAlive();
        } catch (const Poco::Exception&) {
          if (!response.sent()) {
            try {
              sendBareError(session, Poco::Net::HTTPResponse::HTTP_INTERNAL_SERVER_ERROR);
            } catch (...) {
              // The peer is gone; nothing to tell it.
            }
          }
          throw;
        }
      } catch (const Poco::Net::NoMessageException&) {
        return;  // the peer closed between requests
      } catch (const Poco::Net::MessageException&) {
        sendBareError(session, Poco::Net::HTTPResponse::HTTP_BAD_REQUEST);
        return;
      }
      session.setKeepAlive(keep_alive);
      if (!keep_alive) return;
    }
  }

  HttpConnectionFactory& factory_;
  std::atomic<bool> stopped_{false};
  std::mutex request_mutex_;
};

HttpConnectionFactory::HttpConnectionFactory(Poco::Net::HTTPServerParams::Ptr params,
                                             Poco::Net::HTTPRequestHandlerFactory::Ptr handlers)
    : params_(std::move(params)), handlers_(std::move(handlers)) {}

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
