// SPDX-License-Identifier: Apache-2.0
#include "http/server_request.hpp"

#include <Poco/Net/HTTPChunkedStream.h>
#include <Poco/Net/HTTPFixedLengthStream.h>
#include <Poco/Net/HTTPHeaderStream.h>
#include <Poco/Net/HTTPStream.h>

namespace blueprint::host {

ServerRequest::ServerRequest(Poco::Net::HTTPServerResponse& response,
                             Poco::Net::HTTPServerSession& session,
                             const Poco::Net::HTTPServerParams& params,
                             const Poco::Net::SocketAddress& client,
                             const Poco::Net::SocketAddress& server)
    : response_(response), params_(params), client_(client), server_(server) {
  {
    Poco::Net::HTTPHeaderInputStream header(session);
    read(header);
  }
  // The body framing rules of Poco's HTTPServerRequestImpl.
  if (getChunkedTransferEncoding())
    body_ = std::make_unique<Poco::Net::HTTPChunkedInputStream>(session);
  else if (hasContentLength())
    body_ = std::make_unique<Poco::Net::HTTPFixedLengthInputStream>(session, getContentLength64());
  else if (getMethod() == HTTP_GET || getMethod() == HTTP_HEAD)
    body_ = std::make_unique<Poco::Net::HTTPFixedLengthInputStream>(session, 0);
  else
    body_ = std::make_unique<Poco::Net::HTTPInputStream>(session);
}

ServerRequest::~ServerRequest() = default;

}  // namespace blueprint::host
