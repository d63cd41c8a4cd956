// SPDX-License-Identifier: Apache-2.0
// run_events.hpp: the SSE event payloads of DESIGN §2, in one place so the sync stream, the
// stored job events and the CLI print the same bytes.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "engine/runner.hpp"

namespace blueprint::host::run_events {

using Json = nlohmann::json;

/// `text` as a JSON string literal. Never throws: bytes that are not UTF-8 become U+FFFD. Text
/// is made valid where it is made (block errors, remote replies); this is the last guard, since
/// an event that cannot be written would leave its run without an end (issue 11, H2).
inline std::string jsonString(std::string_view text) {
  return Json(std::string(text)).dump(-1, ' ', false, Json::error_handler_t::replace);
}

inline std::string inProgress() { return R"({"status":"in progress","message":null})"; }
/// `{"status":S,"message":M}` with the keys in the documented order (nlohmann sorts keys).
inline std::string statusEvent(const char* status, const std::string& message) {
  return std::string(R"({"status":")") + status + R"(","message":)" + jsonString(message) + "}";
}
inline std::string executing(const std::string& blueprint_id) {
  return statusEvent("executing", "Executing blueprint " + blueprint_id + "...");
}
inline std::string delta(std::string_view text) {
  // One key: written around the escaped string rather than built as a JSON object.
  std::string out = R"({"delta":)";
  out += jsonString(text);
  out += '}';
  return out;
}
/// The Return Value as the API shows it: a string as is, other JSON serialised.
inline std::string artifactText(const Json& value) {
  return value.is_string() ? value.get<std::string>()
                           : value.dump(-1, ' ', false, Json::error_handler_t::replace);
}
inline std::string error(const std::string& message) { return statusEvent("error", message); }
inline std::string cancelled(const std::string& message) {
  return statusEvent("cancelled", message);
}
inline const char* done() { return "[DONE]"; }

/// The closing events of a finished run: the Return Value delta, or an error/cancel status.
inline void appendClosing(const RunResult& r, std::vector<std::string>& out) {
  switch (r.status) {
    case RunResult::Status::Completed:
      if (r.return_value) out.push_back(delta(artifactText(*r.return_value)));
      break;
    case RunResult::Status::Error:
      out.push_back(error(r.error));
      break;
    case RunResult::Status::Cancelled:
      out.push_back(cancelled(r.error));
      break;
  }
  out.push_back(done());
}

}  // namespace blueprint::host::run_events
