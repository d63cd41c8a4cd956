// SPDX-License-Identifier: Apache-2.0
// response_writer.hpp: a deferred response. A handler that must wait for something (a run that
// waits on a slow service) detaches its response instead of holding its handler thread: it
// sets the status and header fields, calls detachResponse(), returns, and later writes the body
// and finishes from whatever thread the result arrives on. The connection serves its next
// request (keep-alive, pipelining) once finish() is called; a client that leaves meanwhile is
// reported to the holder, so a waiting run can go on as a job
// (docs/decisions/016-event-loop-connections.md).
#pragma once

#include <Poco/Net/HTTPServerResponse.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string_view>

namespace blueprint::host {

class OneWriteResponse;

/// What a ResponseWriter needs from its connection.
class ResponseOwner {
 public:
  virtual ~ResponseOwner() = default;
  /// The answer is complete; the connection may carry another request when `keep_alive`.
  virtual void responseFinished(bool keep_alive) = 0;
  /// Whether the client closed its side or the connection failed.
  virtual bool clientGone() = 0;
  /// `callback` runs once (on the connection's reactor thread, or at once when the client is
  /// already gone) when the client leaves before finish().
  virtual void setClientGoneCallback(std::function<void()> callback) = 0;
};

/// Thread-safe: any thread may write and finish; finish is idempotent. Destroying an unfinished
/// writer finishes it without keep-alive, so a forgotten handle never holds a connection.
class ResponseWriter {
 public:
  ResponseWriter(std::shared_ptr<ResponseOwner> owner, OneWriteResponse& response);
  ~ResponseWriter();
  ResponseWriter(const ResponseWriter&) = delete;
  ResponseWriter& operator=(const ResponseWriter&) = delete;

  /// Body bytes, sent now (the header goes out first, on the first write). Set chunked
  /// transfer encoding or a Content-Length on the response before detaching; with neither the
  /// body ends with the connection. False once the client is gone or the answer broke; blocks
  /// while the connection's output is at its cap (back-pressure).
  bool write(std::string_view bytes);
  /// Ends the answer (an answer with no body written goes out whole, with Content-Length 0).
  /// `keep_alive` false closes the connection after it.
  void finish(bool keep_alive);

  bool clientGone();
  /// Writes never wait for a client that stopped reading: one that would pass the output cap
  /// breaks the answer instead (for writers on the engine's threads, which must never block).
  void neverBlock();
  /// See ResponseOwner::setClientGoneCallback.
  void onClientGone(std::function<void()> callback);

 private:
  std::shared_ptr<ResponseOwner> owner_;
  std::mutex mutex_;
  OneWriteResponse* response_;  // the connection's, alive until responseFinished
  bool finished_ = false;
};

/// Detaches `response` (the one a handler was given by the host's transport) and returns its
/// writer; null when the response cannot be detached (another transport, or detached before).
std::shared_ptr<ResponseWriter> detachResponse(Poco::Net::HTTPServerResponse& response);

}  // namespace blueprint::host
