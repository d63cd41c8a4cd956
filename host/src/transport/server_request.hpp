// SPDX-License-Identifier: Apache-2.0
// server_request.hpp: one request read from a keep-alive connection. Its head has already been
// found and checked by request_framing (RequestHeadScanner); Poco parses those bytes into the
// method, target and fields as usual, and the body is a RequestBody framed by the scanner's
// decision, never by Poco's (which reads a body without Content-Length until EOF, and trusts
// a negative one). The peer and local addresses come from the connection (they cannot change
// while it lives) instead of two system calls per request.
#pragma once

#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/SocketAddress.h>

#include <istream>
#include <string_view>

#include "transport/request_body.hpp"

namespace blueprint::host {

class ServerRequest final : public Poco::Net::HTTPServerRequest {
 public:
  /// Parses `head` (a whole request head accepted by RequestHeadScanner; throws Poco's
  /// MessageException should Poco still disagree) and reads the body from `body`.
  ServerRequest(Poco::Net::HTTPServerResponse& response, std::string_view head, RequestBody& body,
                const FramingLimits& limits, const Poco::Net::HTTPServerParams& params,
                const Poco::Net::SocketAddress& client, const Poco::Net::SocketAddress& server);
  ~ServerRequest() override;

  std::istream& stream() override { return body_; }
  const Poco::Net::SocketAddress& clientAddress() const override { return client_; }
  const Poco::Net::SocketAddress& serverAddress() const override { return server_; }
  const Poco::Net::HTTPServerParams& serverParams() const override { return params_; }
  Poco::Net::HTTPServerResponse& response() const override { return response_; }
  bool secure() const override { return false; }

 private:
  Poco::Net::HTTPServerResponse& response_;
  const Poco::Net::HTTPServerParams& params_;
  const Poco::Net::SocketAddress& client_;
  const Poco::Net::SocketAddress& server_;
  RequestBody& body_;
};

}  // namespace blueprint::host
