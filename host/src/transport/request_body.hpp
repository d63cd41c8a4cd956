// SPDX-License-Identifier: Apache-2.0
// request_body.hpp: the body of one request as the std::istream handlers read
// (HTTPServerRequest::stream()), delimited exactly as request_framing decided: a
// Content-Length, chunked, or nothing. It reads from the connection's input, never past the
// body's end, and after the handler it drains what the handler left unread (within a bound)
// so that the next request on the connection starts where this body ends (issue 11, C1).
#pragma once

#include <chrono>
#include <cstdint>
#include <istream>
#include <stdexcept>
#include <streambuf>
#include <string>

#include "transport/connection_input.hpp"
#include "transport/request_framing.hpp"

namespace blueprint::host {

/// A body that cannot be read as framed: malformed chunking (400), the peer closing before its
/// end (400), or no byte within the body's idle timeout (408). Thrown out of the body
/// stream's reads (the stream's exception mask includes badbit, so it reaches the handler's
/// caller, which answers `status`); the connection then closes.
class RequestBodyError : public std::runtime_error {
 public:
  RequestBodyError(int status, const char* code, const std::string& message)
      : std::runtime_error(message), status_(status), code_(code) {}
  int status() const { return status_; }
  const char* code() const { return code_; }

 private:
  int status_;
  const char* code_;
};

class RequestBody final : public std::istream {
 public:
  /// `idle_timeout`: the longest wait for the next byte of the body (Poco's server timeout).
  RequestBody(ConnectionInput& input, const BodyFraming& framing, const FramingLimits& limits,
              std::chrono::milliseconds idle_timeout);

  /// Reads what the handler left of the body and discards it: at most `max_bytes` and only
  /// until `deadline`. True when the body was read to its end, so the connection can carry
  /// another request; false when it was too long to drain, arrived too slowly or was malformed.
  bool finish(std::size_t max_bytes, std::chrono::steady_clock::time_point deadline);

 private:
  class Buffer final : public std::streambuf {
   public:
    Buffer(ConnectionInput& input, const BodyFraming& framing, const FramingLimits& limits,
           std::chrono::milliseconds idle_timeout);

    /// Gives the bytes of the get area back to the input as consumed.
    void commit();
    /// RequestBody::finish.
    bool drain(std::size_t max_bytes, std::chrono::steady_clock::time_point deadline);

   protected:
    int_type underflow() override;

   private:
    /// Commits the get area, then puts the next run of buffered body bytes in it, without
    /// reading the socket. False when none is buffered or the body ended.
    bool nextBuffered();
    /// Waits for and reads more body bytes; throws RequestBodyError when none can come.
    void receive();

    ConnectionInput& input_;
    bool chunked_;
    std::uint64_t remaining_;  // of a Content-Length body, not yet handed out
    ChunkedDecoder decoder_;
    bool ended_;
    std::chrono::milliseconds idle_timeout_;
  };

  Buffer buffer_;
};

}  // namespace blueprint::host
