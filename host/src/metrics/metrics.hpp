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

#include "api/route_table.hpp"
#include "metrics/capped_histograms.hpp"
#include "metrics/histogram.hpp"
#include "runs/run_outcome.hpp"

namespace blueprint::host {

class Metrics {
 public:
  /// At most `max_agents` agents and `max_block_types` block types get series of their own in
  /// the run and block duration histograms; the rest are counted under "other".
  Metrics(std::size_t max_agents = 100, std::size_t max_block_types = 100);

  /// One answered request: its status class and its duration (from routing to the end of the
  /// answer, a streamed run included).
  void countRequest(Route route, int status, std::int64_t duration_us);
  /// One finished run: how it ended, how long it took, whose it was.
  void countRun(RunKind kind, RunOutcome outcome, std::int64_t duration_us,
                std::string_view agent_id);
  /// The per-block-type duration histogram, observed by the engine after each block call
  /// (RunOptions::block_durations).
  CappedHistograms& blockDurations() { return block_durations_; }
  void countJobCreated() { jobs_created_.fetch_add(1, std::memory_order_relaxed); }

  /// Prometheus text; `gauges` is appended as is (values only the caller knows).
  std::string render(const std::string& gauges) const;

 private:
  static constexpr int kRoutes = static_cast<int>(Route::kCount);
  std::array<std::array<std::atomic<std::uint64_t>, 6>, kRoutes> requests_{};
  static constexpr std::size_t kKinds = static_cast<std::size_t>(RunKind::kCount);
  static constexpr std::size_t kOutcomes = static_cast<std::size_t>(RunOutcome::kCount);
  std::array<std::array<std::atomic<std::uint64_t>, kOutcomes>, kKinds> runs_{};
  std::array<std::atomic<std::uint64_t>, kKinds> run_duration_us_{};
  std::atomic<std::uint64_t> jobs_created_{0};
  std::array<DurationHistogram, kRoutes> request_durations_{};
  /// Run durations per agent, for percentiles (the web console's p50/p99, Prometheus'
  /// histogram_quantile).
  CappedHistograms run_durations_;
  CappedHistograms block_durations_;
};

}  // namespace blueprint::host
