// SPDX-License-Identifier: Apache-2.0
// server_request.hpp: one request read from a keep-alive connection, parsed by Poco exactly as
// Poco's HTTPServerRequestImpl does, except that the peer and local addresses come from the
// connection (they cannot change while it lives) instead of two system calls per request.
#pragma once

#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/HTTPServerSession.h>
#include <Poco/Net/SocketAddress.h>

#include <istream>
#include <memory>

namespace blueprint::host {

class ServerRequest final : public Poco::Net::HTTPServerRequest {
 public:
  /// Reads the request line and headers from `session` (throws Poco's NoMessageException when
  /// the peer closed, MessageException when they are malformed) and prepares the body stream.
  ServerRequest(Poco::Net::HTTPServerResponse& response, Poco::Net::HTTPServerSession& session,
                const Poco::Net::HTTPServerParams& params, const Poco::Net::SocketAddress& client,
                const Poco::Net::SocketAddress& server);
  ~ServerRequest() override;

  std::istream& stream() override { return *body_; }
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
  std::unique_ptr<std::istream> body_;
};

}  // namespace blueprint::host
