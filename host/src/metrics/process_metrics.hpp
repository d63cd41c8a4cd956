// SPDX-License-Identifier: Apache-2.0
// process_metrics.hpp: the standard process_* metrics of Prometheus client libraries, read
// from /proc/self at scrape time (Linux): resident memory, open file descriptors, threads and
// the start time.
#pragma once

#include <string>

namespace blueprint::host {

/// Appends HELP, TYPE and the sample of process_resident_memory_bytes, process_open_fds,
/// process_threads and process_start_time_seconds. A value /proc cannot give is left out.
void renderProcessMetrics(std::string& out);

}  // namespace blueprint::host
