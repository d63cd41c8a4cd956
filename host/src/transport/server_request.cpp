// SPDX-License-Identifier: Apache-2.0
#include "transport/server_request.hpp"

#include <Poco/MemoryStream.h>

namespace blueprint::host {

ServerRequest::ServerRequest(Poco::Net::HTTPServerResponse& response, std::string_view head,
                             RequestBody& body, const FramingLimits& limits,
                             const Poco::Net::HTTPServerParams& params,
                             const Poco::Net::SocketAddress& client,
                             const Poco::Net::SocketAddress& server)
    : response_(response), params_(params), client_(client), server_(server), body_(body) {
  setFieldLimit(static_cast<int>(limits.max_header_fields));
  Poco::MemoryInputStream bytes(head.data(), head.size());
  read(bytes);
}

ServerRequest::~ServerRequest() = default;

}  // namespace blueprint::host
