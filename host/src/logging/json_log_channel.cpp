// SPDX-License-Identifier: Apache-2.0
#include "logging/json_log_channel.hpp"

#include <Poco/Timestamp.h>

#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "logging/log_fields.hpp"
#include "logging/log_output.hpp"

namespace blueprint::host {

namespace {

/// `text` as a JSON string literal; invalid UTF-8 becomes U+FFFD instead of an exception.
void appendJsonString(std::string& out, const std::string& text) {
  out += nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

/// True when `text` is an integer as JSON writes it, of at most 18 digits so that every reader
/// takes it as a 64-bit integer (a numeric field that is not one is written as a string rather
/// than as broken JSON or a number readers would round; log_line_fuzzer found 20 digits).
bool isJsonInteger(const std::string& text) {
  std::size_t i = text.size() > 1 && text[0] == '-' ? 1 : 0;
  if (i >= text.size() || text.size() - i > 18) return false;
  if (text[i] == '0' && text.size() > i + 1) return false;
  for (; i < text.size(); ++i)
    if (text[i] < '0' || text[i] > '9') return false;
  return true;
}

}  // namespace

std::string rfc3339Millis(const Poco::Timestamp& time) {
  const Poco::Timestamp::TimeVal us = time.epochMicroseconds();
  const std::time_t seconds = static_cast<std::time_t>(us / 1000000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[64];  // room for any int the compiler assumes the fields may hold
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>((us / 1000) % 1000));
  return text;
}

std::string JsonLogChannel::format(const Poco::Message& message) {
  std::string line;
  line.reserve(128 + message.getText().size());
  line += "{\"ts\":\"";
  line += rfc3339Millis(message.getTime());
  line += "\",\"level\":\"";
  line += levelName(message.getPriority());
  line += "\",\"logger\":";
  appendJsonString(line, message.getSource());
  line += ",\"msg\":";
  appendJsonString(line, message.getText());
  for (const LogFieldSpec& field : kLogFields) {
    if (!message.has(field.name)) continue;
    const std::string& value = message.get(field.name);
    line += ",\"";
    line += field.name;
    line += "\":";
    if (field.numeric && isJsonInteger(value))
      line += value;
    else
      appendJsonString(line, value);
  }
  line += "}\n";
  return line;
}

void JsonLogChannel::log(const Poco::Message& message) {
  try {
    writeLogLine(format(message));
  } catch (...) {
    // Out of memory while formatting: the line is lost, the thread that logged goes on.
  }
}

}  // namespace blueprint::host
