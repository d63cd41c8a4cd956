// SPDX-License-Identifier: Apache-2.0
// log_fields.hpp: structured fields on host log lines (issue 15). A log line is a Poco::Message
// whose named parameters carry the fields; the channels (text_log_channel, json_log_channel)
// write the ones listed in kLogFields, in that order. Start with logEvent().
#pragma once

#include <Poco/Logger.h>
#include <Poco/Message.h>

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace blueprint::host {

/// One field a log line may carry; `numeric` fields are written as JSON numbers.
struct LogFieldSpec {
  const char* name;
  bool numeric;
};

/// Every field the channels write, in the order they write them. A run's id is its `job_id`:
/// every run is a job (DESIGN §2), sync runs included. Fields set on a message but
/// not listed here are not written (a log line's shape is fixed by this list).
inline constexpr LogFieldSpec kLogFields[] = {
    {"job_id", false},  {"agent", false},      {"agent_version", true}, {"blueprint", false},
    {"block", false},   {"block_type", false}, {"generation", true},    {"address", false},
    {"storage", false}, {"block_types", true}, {"method", false},       {"route", false},
    {"status", true},   {"bytes", true},       {"duration_us", true},   {"key", false},
    {"error", false},   {"state", false},      {"failures", true},
};

using LogField = std::pair<const char*, std::string>;

/// Logs `text` at `priority` on `logger` with `fields` (names from kLogFields); a field with an
/// empty value does not apply and is left out. Nothing is built when the logger's level drops
/// the priority.
void logEvent(Poco::Logger& logger, Poco::Message::Priority priority, std::string text,
              std::initializer_list<LogField> fields);

/// The level name a log line shows for a Poco priority ("info", "warning", "error", …).
std::string_view levelName(Poco::Message::Priority priority);

}  // namespace blueprint::host
