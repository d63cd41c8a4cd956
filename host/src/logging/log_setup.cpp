// SPDX-License-Identifier: Apache-2.0
#include "logging/log_setup.hpp"

#include <Poco/AutoPtr.h>
#include <Poco/Logger.h>

#include "logging/json_log_channel.hpp"
#include "logging/text_log_channel.hpp"

namespace blueprint::host {

bool isLogFormat(const std::string& format) {
  return format == kLogFormatText || format == kLogFormatJson;
}

void configureLogging(const std::string& format) {
  Poco::AutoPtr<Poco::Channel> channel;
  if (format == kLogFormatJson)
    channel = new JsonLogChannel;
  else
    channel = new TextLogChannel;
  // "" is the root: the channel goes to it and to every logger created so far; later ones
  // inherit it from the root.
  Poco::Logger::setChannel("", channel);
}

}  // namespace blueprint::host
