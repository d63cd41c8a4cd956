// SPDX-License-Identifier: Apache-2.0
// request_router.hpp: the first stop of every request (DESIGN §9): match the route, check the
// bearer key's scope, call the handler, turn ApiError into the JSON error shape, count metrics.
// The routes themselves are rows of api/route_table.cpp.
#pragma once

#include <Poco/Net/HTTPRequestHandlerFactory.h>

#include <string>
#include <string_view>
#include <vector>

#include "api/route_table.hpp"
#include "app/host_services.hpp"

namespace blueprint::host {

class RequestRouter final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit RequestRouter(HostServices& services) : services_(services) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest& request) override;

  /// Whether a request may be served on the transport's own thread: its route's handler never
  /// waits (RouteSpec::serves_inline: a sync run, the health probes). Targets that need
  /// decoding (a query, percent-escapes) go the usual way.
  static bool servesInline(std::string_view method, std::string_view target);

 private:
  HostServices& services_;
};

}  // namespace blueprint::host
