// SPDX-License-Identifier: Apache-2.0
#include "http/http_error.hpp"

#include <random>

namespace blueprint::host {

void sendJson(Poco::Net::HTTPServerResponse& response, int status, const nlohmann::json& body) {
  const std::string text = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
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

std::string newIncidentId() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  static const char kHex[] = "0123456789abcdef";
  std::uint64_t bits = rng();
  std::string id(12, '0');
  for (char& c : id) {
    c = kHex[bits & 0xF];
    bits >>= 4;
  }
  return id;
}

std::string printableForLog(std::string_view text, std::size_t max_bytes) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  const std::size_t shown = text.size() < max_bytes ? text.size() : max_bytes;
  out.reserve(shown + 16);
  for (std::size_t i = 0; i < shown; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7F && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  if (shown < text.size()) out += "…(" + std::to_string(text.size()) + " bytes)";
  return out;
}

}  // namespace blueprint::host
