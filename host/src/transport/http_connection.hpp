// SPDX-License-Identifier: Apache-2.0
// http_connection.hpp: one HTTP/1.1 connection on an event loop
// (docs/decisions/016-event-loop-connections.md). Its reactor thread reads request heads from
// the non-blocking socket into the connection's buffer and checks them with request_framing.hpp
// (every limit and refusal of docs/decisions/011-request-framing-and-limits.md); a complete
// request goes to the handler pool, where Poco's handler runs with this transport's request
// and response (the body is read by Content-Length or chunked, the answer goes into the
// connection's capped output). The next request is read once the answer is complete: pipelined
// requests are answered in order. Idle, a connection is a socket, this object and no thread.
#pragma once

#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/SocketAddress.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>

#include "transport/connection_input.hpp"
#include "transport/connection_output.hpp"
#include "transport/one_write_response.hpp"
#include "transport/request_body.hpp"
#include "transport/request_framing.hpp"
#include "transport/response_writer.hpp"

namespace blueprint::host {

class ConnectionLimit;
class HandlerPool;
class Reactor;
class ServerRequest;

/// The limits a connection holds its peer to, besides Poco's HTTPServerParams (keep-alive,
/// max_keep_alive_requests, and the timeout that bounds the wait for each byte of a body).
struct ConnectionLimits {
  FramingLimits framing;
  /// From a connection's start (or a request's first byte) to the end of its head; past it:
  /// 408 and close. Also bounds the wait for a new connection's first byte.
  std::chrono::milliseconds header_timeout{10000};
  /// A body the handler left unread is read and discarded up to this many bytes, so the
  /// connection can carry another request; a longer one closes the connection.
  std::size_t drain_limit_bytes = 1 << 20;
  /// How long that draining, and the discarding of input before a close, may take.
  std::chrono::milliseconds drain_timeout{2000};
  /// Queued answer bytes that make no progress for this long (a client that stopped reading)
  /// fail the answer and close the connection.
  std::chrono::milliseconds send_timeout{30000};
  /// Answer bytes a connection queues beyond what its socket took; a handler writing past it
  /// waits for the client to read (back-pressure).
  std::size_t max_output_buffer_bytes = 256 * 1024;
};

/// What every connection of one server shares.
struct ConnectionContext {
  Poco::Net::HTTPServerParams::Ptr params;
  Poco::Net::HTTPRequestHandlerFactory::Ptr handlers;
  ConnectionLimits limits;
  HandlerPool* pool = nullptr;
  ConnectionLimit* limit = nullptr;
  /// Shutdown: no request starts any more; idle connections close.
  std::atomic<bool> stopping{false};
  /// Requests served on the reactor's thread, without the hand-off to the pool
  /// (TransportSettings::serve_inline): a handler that never waits costs no thread switch, and
  /// a burst of them starts no handler threads.
  std::function<bool(std::string_view method, std::string_view target)> serve_inline;
};

class HttpConnection final : public ResponseOwner,
                             public std::enable_shared_from_this<HttpConnection> {
 public:
  using Clock = std::chrono::steady_clock;

  /// `fd`: an accepted non-blocking socket, owned from now on.
  HttpConnection(int fd, Reactor& reactor, ConnectionContext& context);
  ~HttpConnection() override;

  int fd() const { return fd_; }

  // ---- the reactor thread ----
  /// epoll reported `events` for the socket.
  void onEvents(std::uint32_t events);
  /// Another thread handed the connection back (an answer completed).
  void onResume();
  /// Deadlines: the head, keep-alive idleness, a stalled answer, a lingering close.
  void onTick(Clock::time_point now);
  /// Shutdown past its grace: closes now, or (a request in progress) fails its answer.
  void abort();

  // ---- a handler pool thread ----
  /// Runs the dispatched request's handler and completes its answer (unless detached).
  void serve();

  // ---- ResponseOwner: any thread ----
  void responseFinished(bool keep_alive) override;
  bool clientGone() override;
  void setClientGoneCallback(std::function<void()> callback) override;

 private:
  enum class Phase {
    Reading,     // the reactor reads and scans the next request's head
    Dispatched,  // a handler (or a detached response) owns the request; the reactor writes
    Closing,     // the last answer drains, then (lingering) input is discarded until EOF
    Closed,
  };

  Phase phase();
  void readInput();
  void process();
  /// An error answer with `Connection: close`, before (or instead of) any handler.
  void refuse(int status, const std::string& code, const std::string& message);
  void startClosing(bool linger);
  void closingStep();
  void closeNow();
  void reportGone();
  void handle(ServerRequest& request, OneWriteResponse& response);
  void failed(ServerRequest& request, OneWriteResponse& response, const std::string& what);
  /// The answer is complete: next request, or close (lingering when unread input could reset
  /// the connection and destroy the answer before the client reads it).
  void afterRequest(bool keep_alive, bool answered, bool body_read);
  /// True when the request just framed is to be served on this reactor thread: its handler
  /// says it never waits, and its body is all here (nothing to wait for while reading it).
  bool servesInline() const;

  const int fd_;
  Reactor& reactor_;
  ConnectionContext& context_;
  const ConnectionLimits& limits_;
  Poco::Net::SocketAddress client_;
  Poco::Net::SocketAddress server_;
  ConnectionInput input_;
  ConnectionOutput output_;
  const Clock::time_point started_;

  // Reactor-owned while Reading or Closing, handler-owned while Dispatched (the phase change
  // under mutex_ hands them over).
  std::optional<RequestHeadScanner> scanner_;
  std::size_t head_length_ = 0;
  BodyFraming framing_;
  std::optional<RequestBody> body_;
  std::optional<OneWriteResponse> response_;
  bool detached_body_read_ = false;
  int served_ = 0;
  Clock::time_point request_started_;
  Clock::time_point idle_since_;
  bool eof_ = false;
  bool linger_ = false;
  bool shut_write_ = false;
  std::size_t discarded_ = 0;
  Clock::time_point linger_deadline_;

  std::mutex mutex_;
  Phase phase_ = Phase::Reading;
  bool read_pending_ = false;  // epoll said readable while Dispatched
  bool gone_ = false;
  bool aborted_ = false;
  bool fd_closed_ = false;
  /// A handler thread is in serve(); a detached answer finished meanwhile waits for it.
  bool serving_ = false;
  bool finish_requested_ = false;
  bool finish_keep_alive_ = false;
  bool finish_answered_ = false;
  std::function<void()> on_gone_;
};

}  // namespace blueprint::host
