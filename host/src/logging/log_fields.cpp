// SPDX-License-Identifier: Apache-2.0
#include "logging/log_fields.hpp"

namespace blueprint::host {

void logEvent(Poco::Logger& logger, Poco::Message::Priority priority, std::string text,
              std::initializer_list<LogField> fields) {
  if (!logger.is(priority)) return;
  Poco::Message message(logger.name(), std::move(text), priority);
  for (const auto& [name, value] : fields)
    if (!value.empty()) message.set(name, value);  // a field that does not apply is left out
  logger.log(message);
}

std::string_view levelName(Poco::Message::Priority priority) {
  switch (priority) {
    case Poco::Message::PRIO_FATAL:
      return "fatal";
    case Poco::Message::PRIO_CRITICAL:
      return "critical";
    case Poco::Message::PRIO_ERROR:
      return "error";
    case Poco::Message::PRIO_WARNING:
      return "warning";
    case Poco::Message::PRIO_NOTICE:
      return "notice";
    case Poco::Message::PRIO_INFORMATION:
      return "info";
    case Poco::Message::PRIO_DEBUG:
      return "debug";
    case Poco::Message::PRIO_TRACE:
      return "trace";
  }
  return "info";
}

}  // namespace blueprint::host
