// SPDX-License-Identifier: Apache-2.0
// request_router.hpp: the first stop of every request (DESIGN §9): match the route, check the
// bearer key's scope, call the handler, turn ApiError into the JSON error shape, count metrics.
#pragma once

#include <Poco/Net/HTTPRequestHandlerFactory.h>

#include <string>
#include <vector>

#include "app/host_services.hpp"
#include "metrics/metrics.hpp"

namespace blueprint::host {

/// A matched route: which one, its path parameters, the scope it needs.
struct RouteMatch {
  Route route = Route::NotFound;
  std::vector<std::string> params;
  /// Set when the path exists but not for this method (405).
  std::string allowed_methods;
};

/// Matches `method` and a decoded `path` against the API's routes. Pure, for tests.
RouteMatch matchRoute(const std::string& method, const std::string& path);

class RequestRouter final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit RequestRouter(HostServices& services) : services_(services) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest& request) override;

 private:
  HostServices& services_;
};

}  // namespace blueprint::host
