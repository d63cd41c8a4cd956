// SPDX-License-Identifier: Apache-2.0
#include "http/http_error.hpp"

namespace blueprint::host {

void sendJson(Poco::Net::HTTPServerResponse& response, int status, const nlohmann::json& body) {
  const std::string text = body.dump();
  response.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
  response.setContentType("application/json");
  response.setContentLength(static_cast<std::streamsize>(text.size()));
  response.sendBuffer(text.data(), text.size());
}

void sendError(Poco::Net::HTTPServerResponse& response, int status, const std::string& code,
               const std::string& message, const nlohmann::json& details) {
  nlohmann::json err = {{"code", code}, {"message", message}};
  if (!details.is_null()) err["details"] = details;
  sendJson(response, status, {{"error", std::move(err)}});
}

}  // namespace blueprint::host
