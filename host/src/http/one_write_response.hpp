// SPDX-License-Identifier: Apache-2.0
// one_write_response.hpp: Poco's server response, except that a response sent whole
// (sendBuffer: every JSON answer, and every SSE run that ends before it waits) leaves in one
// send(2) with its header, instead of Poco's two. See docs/decisions/007-http-connection-loop.md.
#pragma once

#include <string>

#include <Poco/Net/HTTPServerResponseImpl.h>
#include <Poco/Net/HTTPServerSession.h>

namespace blueprint::host {

class OneWriteResponse final : public Poco::Net::HTTPServerResponseImpl {
 public:
  explicit OneWriteResponse(Poco::Net::HTTPServerSession& session);

  /// Set by the connection once the request line is read: a HEAD answer carries no body.
  void setHeadRequest(bool head) { head_request_ = head; }

  /// Header and body in one buffer, one send loop. Sets Content-Length, like Poco's.
  void sendBuffer(const void* buffer, std::size_t length) override;
  bool sent() const override;

 private:
  /// Status line and header fields as HTTPResponse::write formats them.
  void appendHead(std::string& out) const;

  Poco::Net::HTTPServerSession& session_;
  bool head_request_ = false;
  bool sent_whole_ = false;
};

}  // namespace blueprint::host
