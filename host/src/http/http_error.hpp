// SPDX-License-Identifier: Apache-2.0
// http_error.hpp: JSON responses and the one error shape of DESIGN §2:
// {"error":{"code":"<snake_case>","message":"<sentence>"}}. Every JSON answer is made here, and
// making one never throws on the text it carries: bytes that are not UTF-8 (from a path, a
// header or a body) go out as U+FFFD (issue 11, M5).
#pragma once

#include <Poco/Net/HTTPServerResponse.h>

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace blueprint::host {

/// Sends `body` as application/json with `status`.
void sendJson(Poco::Net::HTTPServerResponse& response, int status, const nlohmann::json& body);
/// Sends the error shape; `details` (if not null) goes in error.details.
void sendError(Poco::Net::HTTPServerResponse& response, int status, const std::string& code,
               const std::string& message, const nlohmann::json& details = nullptr);

/// A short random id for one internal error: a 500 answer names it and the log line that
/// holds the details carries it, so the two can be matched without the answer revealing them.
std::string newIncidentId();

/// `text` made safe for a log line: printable ASCII stays, `\` and every other byte (control
/// characters such as ESC, DEL, non-ASCII) become `\xNN`, and past `max_bytes` the rest is cut
/// with a note of its size. Request bytes are logged only through this (issue 11, L2).
std::string printableForLog(std::string_view text, std::size_t max_bytes = 256);

}  // namespace blueprint::host
