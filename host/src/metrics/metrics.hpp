// SPDX-License-Identifier: Apache-2.0
// metrics.hpp: counters for GET /metrics (Prometheus text format). Lock-free on the hot path:
// fixed arrays of relaxed atomics indexed by route and status class.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

namespace blueprint::host {

/// The HTTP routes, for per-route counters.
enum class Route : int {
  Trigger,
  CreateJob,
  TestRun,
  GetJob,
  JobEvents,
  CancelJob,
  RetryJob,
  ListJobs,
  ListAgents,
  PutAgent,
  GetAgent,
  DeleteAgent,
  Deploy,
  Undeploy,
  Blocks,
  ReloadPlugins,
  Healthz,
  Readyz,
  Metrics,
  OpenApi,
  ConsoleRedirect,  ///< GET / → /console/ (the web console, not part of the API)
  ConsoleAsset,     ///< GET /console/<file>
  GetAgentVersion,  ///< GET /v1/agents/{id}/versions/{n}
  NotFound,
  kCount
};
const char* routeName(Route r);

class Metrics {
 public:
  void countRequest(Route route, int status);
  /// kind: 0 sync, 1 async. status: 0 completed, 1 error, 2 cancelled.
  void countRun(int kind, int status, std::int64_t duration_us);
  void countJobCreated() { jobs_created_.fetch_add(1, std::memory_order_relaxed); }

  /// Prometheus text; `gauges` is appended as is (values only the caller knows).
  std::string render(const std::string& gauges) const;

 private:
  static constexpr int kRoutes = static_cast<int>(Route::kCount);
  std::array<std::array<std::atomic<std::uint64_t>, 6>, kRoutes> requests_{};
  std::array<std::array<std::atomic<std::uint64_t>, 3>, 2> runs_{};
  std::array<std::atomic<std::uint64_t>, 2> run_duration_us_{};
  std::atomic<std::uint64_t> jobs_created_{0};
  /// Run durations per kind, one counter per bucket of kRunDurationBoundsUs (metrics.cpp; the last:
  /// +Inf), for percentiles (the web console's p50/p99, Prometheus' histogram_quantile).
  static constexpr std::size_t kDurationBuckets = 16;
  std::array<std::array<std::atomic<std::uint64_t>, kDurationBuckets>, 2> run_duration_buckets_{};
};

}  // namespace blueprint::host
