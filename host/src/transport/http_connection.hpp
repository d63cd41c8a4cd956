// SPDX-License-Identifier: Apache-2.0
// http_connection.hpp: the HTTP/1.1 keep-alive loop of one TCP connection. Request heads are
// found and checked by request_framing.hpp, bodies are framed by it (request_body.hpp), Poco
// parses the accepted head's fields and formats responses. It replaces Poco's
// HTTPServerConnection, whose wait for the next request creates and closes an epoll instance
// per request in Poco 1.11 (docs/decisions/007-http-connection-loop.md), and holds the framing
// and time limits of docs/decisions/011-request-framing-and-limits.md.
#pragma once

#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/TCPServer.h>
#include <Poco/Net/TCPServerConnectionFactory.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <mutex>
#include <unordered_set>

#include "transport/request_framing.hpp"

namespace blueprint::host {

class HttpConnection;

/// The limits a connection holds its peer to, besides Poco's HTTPServerParams (keep-alive).
struct ConnectionLimits {
  FramingLimits framing;
  /// From a connection's start (or a request's first byte) to the end of its head; past it:
  /// 408 and close. Also bounds the wait for a new connection's first byte.
  std::chrono::milliseconds header_timeout{10000};
  /// While accepted connections wait for a thread: a connection that has waited this long for
  /// its next request, or for the rest of a head, gives its thread up (408 when it sent part of
  /// a head, else a silent close).
  std::chrono::milliseconds busy_timeout{1000};
  /// A body the handler left unread is read and discarded up to this many bytes, so the
  /// connection can carry another request; a longer one closes the connection.
  std::size_t drain_limit_bytes = 1 << 20;
  /// How long that draining, and the discarding of input before a close, may take.
  std::chrono::milliseconds drain_timeout{2000};
  /// One send(2) that makes no progress for this long (a client that stopped reading) fails
  /// the answer and closes the connection.
  std::chrono::milliseconds send_timeout{30000};
};

/// Makes one HttpConnection per accepted socket and knows the live ones, so that shutdown can
/// end idle keep-alive connections at once and busy ones after their current request.
class HttpConnectionFactory final : public Poco::Net::TCPServerConnectionFactory {
 public:
  HttpConnectionFactory(Poco::Net::HTTPServerParams::Ptr params,
                        Poco::Net::HTTPRequestHandlerFactory::Ptr handlers,
                        const ConnectionLimits& limits);

  Poco::Net::TCPServerConnection* createConnection(const Poco::Net::StreamSocket& socket) override;

  /// The server whose queue connections consult: while accepted connections wait for a
  /// thread, a keep-alive connection closes after its current request instead of holding its
  /// thread, and an idle or slow one gives it up after ConnectionLimits::busy_timeout, so a
  /// full pool serves newcomers rather than starving them.
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
  ConnectionLimits limits_;
  std::atomic<const Poco::Net::TCPServer*> server_{nullptr};
  std::mutex mutex_;
  std::unordered_set<HttpConnection*> live_;
  bool stopped_ = false;
};

}  // namespace blueprint::host
