// SPDX-License-Identifier: Apache-2.0
// one_write_response.hpp: Poco's server response, except that a response sent whole
// (sendBuffer: every JSON answer, and every SSE run that ends before it waits) leaves in one
// send(2) with its header, instead of Poco's two; an answer to HEAD carries no body, also when
// it is streamed; and a write that failed (the peer left, or stopped reading past the send
// timeout) is remembered, so the connection closes instead of serving another request after a
// truncated answer. See docs/decisions/007-http-connection-loop.md and 011.
#pragma once

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>

#include <Poco/Net/HTTPServerResponseImpl.h>
#include <Poco/Net/HTTPServerSession.h>

namespace blueprint::host {

class OneWriteResponse final : public Poco::Net::HTTPServerResponseImpl {
 public:
  explicit OneWriteResponse(Poco::Net::HTTPServerSession& session);
  ~OneWriteResponse() override;

  /// Set by the connection once the request line is read: a HEAD answer carries no body.
  void setHeadRequest(bool head) { head_request_ = head; }

  /// Header and body in one buffer, one send loop. Sets Content-Length, like Poco's. Throws
  /// Poco's exception when the write fails (broken() is then true).
  void sendBuffer(const void* buffer, std::size_t length) override;
  /// Poco's streamed answer; for HEAD only the header goes out, and the stream returned is
  /// already failed, so that a streaming handler stops at its first write.
  std::ostream& send() override;
  bool sent() const override;

  /// True when a write of this answer failed: the connection must close.
  bool broken() const { return broken_ || session_.networkException() != nullptr; }

  /// Body bytes handed to the connection so far (the access log's `bytes`): the buffer of
  /// sendBuffer(), or what went through the stream of send().
  std::uint64_t bodyBytes() const { return body_bytes_; }

 private:
  /// Status line and header fields as HTTPResponse::write formats them.
  void appendHead(std::string& out) const;
  /// Sends all of `out` on the socket; marks the answer broken and rethrows on failure.
  void sendAll(const std::string& out);

  Poco::Net::HTTPServerSession& session_;
  bool head_request_ = false;
  bool sent_whole_ = false;
  bool broken_ = false;
  std::unique_ptr<std::ostream> head_only_;
  std::uint64_t body_bytes_ = 0;
  /// send()'s stream: Poco's, with every byte counted into body_bytes_.
  std::unique_ptr<std::streambuf> counting_buffer_;
  std::unique_ptr<std::ostream> counting_stream_;
};

}  // namespace blueprint::host
