// SPDX-License-Identifier: Apache-2.0
// api_error.hpp: the one error type of the API. Services (agents, runs) throw it; the request
// router turns it into the JSON error shape `{"error":{"code","message"}}` with its status.
#pragma once

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>

namespace blueprint::host {

/// An API error: HTTP status, snake_case code, sentence, optional details, and for the answers
/// that mean "not now" (429, 503) the seconds after which to retry (`Retry-After`).
class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string code, const std::string& message,
           nlohmann::json details = nullptr)
      : std::runtime_error(message),
        status_(status),
        code_(std::move(code)),
        details_(std::move(details)) {}

  /// The same error, answered with `Retry-After: seconds`.
  ApiError&& retryAfter(int seconds) && {
    retry_after_s_ = seconds;
    return std::move(*this);
  }

  int status() const { return status_; }
  const std::string& code() const { return code_; }
  const nlohmann::json& details() const { return details_; }
  /// 0: no Retry-After.
  int retryAfterSeconds() const { return retry_after_s_; }

 private:
  int status_;
  std::string code_;
  nlohmann::json details_;
  int retry_after_s_ = 0;
};

}  // namespace blueprint::host
