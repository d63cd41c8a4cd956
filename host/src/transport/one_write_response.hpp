// SPDX-License-Identifier: Apache-2.0
// one_write_response.hpp: the server response handlers write, over a non-blocking connection's
// output (connection_output.hpp) instead of a socket. A response sent whole (sendBuffer: every
// JSON answer, and every SSE run that ends before it waits) leaves in one send(2) with its
// header; a streamed one (send()) is chunked, fixed-length or ends with the connection, as
// Poco's; an answer to HEAD carries no body, also when it is streamed; a write that failed (the
// peer left, or stopped reading past the send timeout) is remembered, so the connection closes
// instead of serving another request after a truncated answer. A handler may also detach the
// response (detach()) and finish it later from any thread. See docs/decisions/007, 011 and 016.
#pragma once

#include <Poco/Net/HTTPServerResponse.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "transport/connection_output.hpp"

namespace blueprint::host {

class ResponseWriter;

class OneWriteResponse final : public Poco::Net::HTTPServerResponse {
 public:
  /// `detacher` makes the ResponseWriter that takes this response over (null: cannot detach).
  OneWriteResponse(ConnectionOutput& output,
                   std::function<std::shared_ptr<ResponseWriter>()> detacher);
  ~OneWriteResponse() override;

  /// Set by the connection once the request line is read: a HEAD answer carries no body.
  void setHeadRequest(bool head) { head_request_ = head; }

  void sendContinue() override;
  /// Header and body in one buffer, one write. Sets Content-Length, like Poco's. Throws
  /// Poco::IOException when the write fails (broken() is then true).
  void sendBuffer(const void* buffer, std::size_t length) override;
  /// The header now, and a stream for the body: chunked when chunked transfer encoding is set,
  /// else of Content-Length bytes, else until the connection closes (keep-alive is then off).
  /// For HEAD only the header goes out, and the stream returned is already failed, so that a
  /// streaming handler stops at its first write.
  std::ostream& send() override;
  void sendFile(const std::string& path, const std::string& media_type) override;
  void redirect(const std::string& uri, HTTPStatus status = HTTP_FOUND) override;
  void requireAuthentication(const std::string& realm) override;
  bool sent() const override;

  /// Ends the answer: what a streamed body buffered goes out, with the last chunk if chunked.
  /// Called by the connection once the handler returned, or by the ResponseWriter's finish.
  void complete();

  /// Hands the response over to a ResponseWriter; the handler may then return while the
  /// answer stays open. Null when this response cannot be detached or already was.
  std::shared_ptr<ResponseWriter> detach();
  bool detached() const { return detached_; }

  /// True when a write of this answer failed: the connection must close.
  bool broken() const { return broken_ || output_.failed(); }
  /// See ConnectionOutput::failWhenFull.
  void failWhenFull() { output_.failWhenFull(); }

  /// Body bytes handed to the connection so far (the access log's `bytes`): the buffer of
  /// sendBuffer(), or what went through the stream of send().
  std::uint64_t bodyBytes() const { return body_bytes_; }

 private:
  /// Status line and header fields as HTTPResponse::write formats them.
  void appendHead(std::string& out) const;
  /// Writes all of `out`; marks the answer broken and throws Poco::IOException on failure.
  void sendAll(const std::string& out);

  ConnectionOutput& output_;
  std::function<std::shared_ptr<ResponseWriter>()> detacher_;
  bool head_request_ = false;
  bool sent_whole_ = false;
  bool broken_ = false;
  bool detached_ = false;
  std::uint64_t body_bytes_ = 0;
  /// send()'s stream and its buffer (chunked, fixed-length or plain; failed for HEAD).
  std::unique_ptr<std::streambuf> body_buffer_;
  std::unique_ptr<std::ostream> body_stream_;
};

}  // namespace blueprint::host
