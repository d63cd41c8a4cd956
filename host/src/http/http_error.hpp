// SPDX-License-Identifier: Apache-2.0
// http_error.hpp: JSON responses and the one error shape of DESIGN §2:
// {"error":{"code":"<snake_case>","message":"<sentence>"}}.
#pragma once

#include <Poco/Net/HTTPServerResponse.h>

#include <nlohmann/json.hpp>
#include <string>

namespace blueprint::host {

/// Sends `body` as application/json with `status`.
void sendJson(Poco::Net::HTTPServerResponse& response, int status, const nlohmann::json& body);
/// Sends the error shape; `details` (if not null) goes in error.details.
void sendError(Poco::Net::HTTPServerResponse& response, int status, const std::string& code,
               const std::string& message, const nlohmann::json& details = nullptr);

}  // namespace blueprint::host
