// SPDX-License-Identifier: Apache-2.0
// http_connection.hpp: the HTTP/1.1 keep-alive loop of one TCP connection, over Poco's own
// session, request and response classes (Poco still parses and formats all HTTP). It replaces
// Poco's HTTPServerConnection, whose wait for the next request creates and closes an epoll
// instance per request in Poco 1.11; see docs/decisions/007-http-connection-loop.md.
#pragma once

#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/TCPServer.h>
#include <Poco/Net/TCPServerConnectionFactory.h>

#include <atomic>
#include <mutex>
#include <unordered_set>

namespace blueprint::host {

class HttpConnection;

/// Makes one HttpConnection per accepted socket and knows the live ones, so that shutdown can
/// end idle keep-alive connections at once and busy ones after their current request.
class HttpConnectionFactory final : public Poco::Net::TCPServerConnectionFactory {
 public:
  HttpConnectionFactory(Poco::Net::HTTPServerParams::Ptr params,
                        Poco::Net::HTTPRequestHandlerFactory::Ptr handlers);

  Poco::Net::TCPServerConnection* createConnection(const Poco::Net::StreamSocket& socket) override;

  /// The server whose queue connections consult: while accepted connections wait for a
  /// thread, a keep-alive connection closes after its current request instead of holding its
  /// thread, so a full pool serves newcomers one request per connection rather than starving
  /// them.
  void attach(const Poco::Net::TCPServer* server) { server_.store(server); }

  /// Ends every connection. With `abort_current` false, a request in progress is answered
  /// first; idle connections close at once.
  void stopAll(bool abort_current);

 private:
  friend class HttpConnection;
  void enter(HttpConnection* connection);
  void leave(HttpConnection* connection);
  bool othersWaiting() const;

  Poco::Net::HTTPServerParams::Ptr params_;
  Poco::Net::HTTPRequestHandlerFactory::Ptr handlers_;
  std::atomic<const Poco::Net::TCPServer*> server_{nullptr};
  std::mutex mutex_;
  std::unordered_set<HttpConnection*> live_;
  bool stopped_ = false;
};

}  // namespace blueprint::host
