// SPDX-License-Identifier: Apache-2.0
// access_log.hpp: the optional access log (`access_log: true`): one line per answered API
// request on the "blueprint.access" logger, with method, route pattern (never the raw path,
// which may carry ids or hostile bytes), status, body bytes, duration in µs and the *name* of
// the API key (never the key). Off by default: the request path then pays one branch.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace blueprint::host {

class AccessLog {
 public:
  explicit AccessLog(bool enabled) : enabled_(enabled) {}

  bool enabled() const { return enabled_; }

  /// Logs one request; `key_name` is empty for routes without authentication (or a request
  /// that presented no valid key).
  void record(std::string_view method, std::string_view route, int status, std::uint64_t bytes,
              std::int64_t duration_us, const std::string& key_name) const;

 private:
  const bool enabled_;
};

}  // namespace blueprint::host
