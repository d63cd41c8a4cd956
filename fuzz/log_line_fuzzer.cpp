// SPDX-License-Identifier: Apache-2.0
// Fuzzes the log line formats (host/src/logging/: json_log_channel, text_log_channel): any
// bytes as a log message and as field values (a block's log_message text, a request's method,
// an error text). The JSON line must parse as one object holding the message (invalid UTF-8
// repaired) and end with its only newline; the text line must have no newline but its last and
// no control character. Anything else is a finding.
#include <Poco/Message.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "logging/json_log_channel.hpp"
#include "logging/text_log_channel.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  // The first third is the message, the rest split over a text and a numeric field.
  const std::string text = bytes.substr(0, size / 3);
  const std::string agent = bytes.substr(size / 3, size / 3);
  const std::string status = bytes.substr(2 * (size / 3));
  Poco::Message message("blueprint.fuzz", text, Poco::Message::PRIO_WARNING);
  if (!agent.empty()) message.set("agent", agent);
  if (!status.empty()) message.set("status", status);

  const std::string json_line = blueprint::host::JsonLogChannel::format(message);
  if (json_line.empty() || json_line.back() != '\n' || json_line.find('\n') != json_line.size() - 1)
    std::abort();
  const nlohmann::json parsed = nlohmann::json::parse(json_line, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object() || !parsed["msg"].is_string()) std::abort();
  if (nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) !=
      parsed["msg"].dump())
    std::abort();
  if (!agent.empty() && !parsed["agent"].is_string()) std::abort();
  if (!status.empty() && !parsed["status"].is_string() && !parsed["status"].is_number_integer())
    std::abort();

  const std::string text_line = blueprint::host::TextLogChannel::format(message);
  if (text_line.empty() || text_line.back() != '\n') std::abort();
  for (std::size_t i = 0; i + 1 < text_line.size(); ++i) {
    const auto c = static_cast<unsigned char>(text_line[i]);
    if (c < 0x20 || c == 0x7F) std::abort();
  }
  return 0;
}
