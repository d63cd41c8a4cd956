// SPDX-License-Identifier: Apache-2.0
// run_limits.hpp: the per-run limits of DESIGN §3, configurable in the host config.
#pragma once

#include <blueprint/json_limits.hpp>
#include <cstddef>
#include <cstdint>

namespace blueprint::host {

/// Limits that bound every run; a run past one ends in an error naming it.
struct RunLimits {
  /// Blocks executed in one run, sub-runs and loop iterations included.
  std::int64_t max_steps = 10000;
  /// Nesting of run_blueprint and for_each branches.
  int max_depth = 32;
  /// Wall-clock time of the whole run.
  std::int64_t timeout_ms = 600000;
  /// Size of one block's output, and of all streamed deltas together, as JSON text.
  std::size_t max_output_bytes = 10u << 20;
  /// Nesting of any JSON value a run takes in or builds: block results, JSON-mode fields, state
  /// (path segments included). The host config's `json_max_depth`, which bounds request bodies too.
  std::size_t json_max_depth = kDefaultJsonMaxDepth;
  /// No longer used (issue 12): runs start no threads of their own; the engine's fixed pools
  /// (`run_workers`, `blocking_workers`) bound them. Kept so configs that set the keys
  /// `limits.max_lane_threads_per_run/_per_host` still load.
  int max_lane_threads_per_run = 32;
  int max_lane_threads_per_host = 256;
};

}  // namespace blueprint::host
