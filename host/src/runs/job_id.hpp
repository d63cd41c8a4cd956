// SPDX-License-Identifier: Apache-2.0
// job_id.hpp: job ids (every sync run and every async job has one). An id is the only thing a
// client needs to poll, follow, cancel or retry a job, so ids must be unguessable (issue 11):
// they come from the kernel's CSPRNG, read in batches so the hot path stays cheap.
#pragma once

#include <string>

namespace blueprint::host {

/// A fresh job id: a random UUID v4 (`xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`, lower-case hex)
/// whose 122 random bits come from getrandom(2). Thread-safe. Throws std::runtime_error only
/// when the kernel refuses randomness (never on a supported kernel).
std::string newJobId();

}  // namespace blueprint::host
