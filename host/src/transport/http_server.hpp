// SPDX-License-Identifier: Apache-2.0
// http_server.hpp: blueprint-host's HTTP/1.1 server (docs/decisions/016-event-loop-connections.md).
// One thread accepts; each connection is given to one of N reactor threads, which own many
// non-blocking connections each; complete requests run on a bounded handler pool with Poco's
// handler interface. Open connections past max_connections are answered 503 at once.
#pragma once

#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/ServerSocket.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <thread>
#include <vector>

#include "transport/connection_limit.hpp"
#include "transport/handler_pool.hpp"
#include "transport/http_connection.hpp"
#include "transport/reactor.hpp"

namespace blueprint::host {

struct TransportSettings {
  /// Event-loop threads (>= 1).
  std::size_t reactor_threads = 1;
  /// Handler threads at most (>= 1); started as requests need them.
  std::size_t handler_threads = 256;
  /// Open connections at most (>= 1).
  int max_connections = 10000;
  ConnectionLimits limits;
  /// Whether a request (method, target) is served on its reactor's thread instead of being
  /// handed to the handler pool, when its whole body has already arrived: for handlers that
  /// never wait (a sync run starts its run and returns; see ConnectionContext). Empty: none.
  std::function<bool(std::string_view method, std::string_view target)> serve_inline;
};

class HttpServer {
 public:
  /// `listener`: bound and listening. `params`: keep-alive, its timeout and request limit, and
  /// the wait for each byte of a body.
  HttpServer(Poco::Net::ServerSocket listener, Poco::Net::HTTPRequestHandlerFactory::Ptr handlers,
             Poco::Net::HTTPServerParams::Ptr params, const TransportSettings& settings);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  void start();
  /// No new connection is accepted (the listening socket stays bound until destruction).
  void stopAccepting();
  /// Graceful shutdown: stops accepting, closes idle connections at once, lets answers in
  /// progress finish for up to `grace`, then closes what is left and joins every thread.
  void stop(std::chrono::milliseconds grace);

  int openConnections() const { return limit_.open(); }
  std::uint64_t refusedConnections() const { return limit_.refused(); }

 private:
  void acceptLoop();

  Poco::Net::ServerSocket listener_;
  ConnectionLimit limit_;
  ConnectionContext context_;
  HandlerPool pool_;
  std::vector<std::unique_ptr<Reactor>> reactors_;
  std::thread acceptor_;
  std::atomic<bool> accepting_{false};
  std::size_t next_reactor_ = 0;
  bool stopped_ = false;
};

}  // namespace blueprint::host
