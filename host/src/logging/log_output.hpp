// SPDX-License-Identifier: Apache-2.0
// log_output.hpp: where finished log lines go: standard error, one write(2) per line under a
// process-wide mutex, so lines from many threads never interleave (a collector reading the
// journal or a pipe gets whole lines).
#pragma once

#include <string_view>

namespace blueprint::host {

/// Writes `line` (which ends with '\n') to standard error. Never throws; a failed write is
/// dropped (there is nowhere left to report it).
void writeLogLine(std::string_view line) noexcept;

}  // namespace blueprint::host
