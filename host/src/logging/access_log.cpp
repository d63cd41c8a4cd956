// SPDX-License-Identifier: Apache-2.0
#include "logging/access_log.hpp"

#include "logging/log_fields.hpp"

namespace blueprint::host {

void AccessLog::record(std::string_view method, std::string_view route, int status,
                       std::uint64_t bytes, std::int64_t duration_us,
                       const std::string& key_name) const {
  if (!enabled_) return;
  static Poco::Logger& logger = Poco::Logger::get("blueprint.access");
  std::string text;
  text.reserve(64);
  text.append(method).append(" ").append(route).append(" ").append(std::to_string(status));
  logEvent(logger, Poco::Message::PRIO_INFORMATION, std::move(text),
           {{"method", std::string(method)},
            {"route", std::string(route)},
            {"status", std::to_string(status)},
            {"bytes", std::to_string(bytes)},
            {"duration_us", std::to_string(duration_us)},
            {"key", key_name}});
}

}  // namespace blueprint::host
