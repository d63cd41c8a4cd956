// SPDX-License-Identifier: Apache-2.0
// json_log_channel.hpp: `log_format: "json"`: every log line is one JSON object on standard
// error, {"ts","level","logger","msg",<fields of kLogFields>…}, for collectors that parse logs.
// Strings that are not valid UTF-8 are repaired (U+FFFD), control characters escaped, so a
// hostile block message or request byte can neither break the object nor forge another line.
#pragma once

#include <Poco/Channel.h>
#include <Poco/Message.h>

#include <string>

namespace blueprint::host {

class JsonLogChannel final : public Poco::Channel {
 public:
  void log(const Poco::Message& message) override;

  /// The line log() writes for `message` (with its trailing newline).
  static std::string format(const Poco::Message& message);
};

/// RFC 3339 UTC with milliseconds, e.g. 2026-12-03T13:04:05.123Z.
std::string rfc3339Millis(const Poco::Timestamp& time);

}  // namespace blueprint::host
