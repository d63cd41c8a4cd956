// SPDX-License-Identifier: Apache-2.0
#include "logging/text_log_channel.hpp"

#include "logging/log_fields.hpp"
#include "logging/log_output.hpp"

namespace blueprint::host {

namespace {

/// Appends `text` with control characters (and DEL) as \xNN; other bytes, UTF-8 included, as
/// they are.
void appendPrintable(std::string& out, const std::string& text) {
  static const char kHex[] = "0123456789abcdef";
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7F) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    } else {
      out += ch;
    }
  }
}

}  // namespace

std::string TextLogChannel::format(const Poco::Message& message) {
  std::string line;
  line.reserve(64 + message.getText().size());
  appendPrintable(line, message.getText());
  for (const LogFieldSpec& field : kLogFields) {
    if (!message.has(field.name)) continue;
    line += ' ';
    line += field.name;
    line += '=';
    appendPrintable(line, message.get(field.name));
  }
  line += '\n';
  return line;
}

void TextLogChannel::log(const Poco::Message& message) {
  try {
    writeLogLine(format(message));
  } catch (...) {
    // Out of memory while formatting: the line is lost, the thread that logged goes on.
  }
}

}  // namespace blueprint::host
