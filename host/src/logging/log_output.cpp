// SPDX-License-Identifier: Apache-2.0
#include "logging/log_output.hpp"

#include <unistd.h>

#include <cerrno>
#include <mutex>

namespace blueprint::host {

void writeLogLine(std::string_view line) noexcept {
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  const char* data = line.data();
  std::size_t left = line.size();
  while (left > 0) {
    const ssize_t n = ::write(STDERR_FILENO, data, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    data += n;
    left -= static_cast<std::size_t>(n);
  }
}

}  // namespace blueprint::host
