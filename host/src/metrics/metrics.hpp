// SPDX-License-Identifier: Apache-2.0
// metrics.hpp: counters and histograms for GET /metrics (Prometheus text format; every metric
// is listed in docs/metrics.md). Lock-free on the hot path: fixed arrays of relaxed atomics
// indexed by route and status class, one request-duration histogram per route (precomputed
// labels), and capped per-agent and per-block-type histograms (capped_histograms.hpp).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "metrics/capped_histograms.hpp"
#include "metrics/histogram.hpp"

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
/// The route's path pattern, e.g. `/v1/agents/:agent_id` ("unmatched" for NotFound): the
/// `route` label of the duration histogram and of access log lines. Parameters are written
/// `:name`, not `{name}`: a brace inside a label value is valid Prometheus text, but common
/// line-oriented parsers (the web console's among them) stop a label set at the first `}`.
const char* routePattern(Route r);
/// The method the route answers (GET also answers HEAD); "any" for NotFound.
const char* routeMethod(Route r);

class Metrics {
 public:
  /// At most `max_agents` agents and `max_block_types` block types get series of their own in
  /// the run and block duration histograms; the rest are counted under "other".
  Metrics(std::size_t max_agents = 100, std::size_t max_block_types = 100);

  /// One answered request: its status class and its duration (from routing to the end of the
  /// answer, a streamed run included).
  void countRequest(Route route, int status, std::int64_t duration_us);
  /// kind: 0 sync, 1 async. status: 0 completed, 1 error, 2 cancelled.
  void countRun(int kind, int status, std::int64_t duration_us, std::string_view agent_id);
  /// The per-block-type duration histogram, observed by the engine after each block call
  /// (RunOptions::block_durations).
  CappedHistograms& blockDurations() { return block_durations_; }
  void countJobCreated() { jobs_created_.fetch_add(1, std::memory_order_relaxed); }

  /// Prometheus text; `gauges` is appended as is (values only the caller knows).
  std::string render(const std::string& gauges) const;

 private:
  static constexpr int kRoutes = static_cast<int>(Route::kCount);
  std::array<std::array<std::atomic<std::uint64_t>, 6>, kRoutes> requests_{};
  std::array<std::array<std::atomic<std::uint64_t>, 3>, 2> runs_{};
  std::array<std::atomic<std::uint64_t>, 2> run_duration_us_{};
  std::atomic<std::uint64_t> jobs_created_{0};
  std::array<DurationHistogram, kRoutes> request_durations_{};
  /// Run durations per agent, for percentiles (the web console's p50/p99, Prometheus'
  /// histogram_quantile).
  CappedHistograms run_durations_;
  CappedHistograms block_durations_;
};

}  // namespace blueprint::host
