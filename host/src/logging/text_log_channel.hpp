// SPDX-License-Identifier: Apache-2.0
// text_log_channel.hpp: the default log format: the message as it always was, on standard
// error, followed by ` name=value` for each field of kLogFields the line carries. Control
// characters in the message and the values are written as \xNN, so a block's message cannot
// start a forged line.
#pragma once

#include <Poco/Channel.h>
#include <Poco/Message.h>

#include <string>

namespace blueprint::host {

class TextLogChannel final : public Poco::Channel {
 public:
  void log(const Poco::Message& message) override;

  /// The line log() writes for `message` (with its trailing newline).
  static std::string format(const Poco::Message& message);
};

}  // namespace blueprint::host
