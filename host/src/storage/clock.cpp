// SPDX-License-Identifier: Apache-2.0
// clock.cpp: the wall clock every backend stamps jobs with (its own file: the PostgreSQL module
// needs it without openStorage and the backends openStorage pulls in).
#include <chrono>

#include "storage/storage.hpp"

namespace blueprint::host {

std::int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace blueprint::host
