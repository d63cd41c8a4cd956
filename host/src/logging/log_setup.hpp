// SPDX-License-Identifier: Apache-2.0
// log_setup.hpp: installs the configured log format (`log_format`: "text", the default, or
// "json") on every host logger, once at start-up before any thread logs.
#pragma once

#include <string>

namespace blueprint::host {

/// The accepted values of `log_format`.
inline constexpr const char* kLogFormatText = "text";
inline constexpr const char* kLogFormatJson = "json";

/// True when `format` is "text" or "json".
bool isLogFormat(const std::string& format);

/// Sends every logger's lines through the channel for `format` (isLogFormat must hold).
void configureLogging(const std::string& format);

}  // namespace blueprint::host
