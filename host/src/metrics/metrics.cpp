// SPDX-License-Identifier: Apache-2.0
#include "metrics/metrics.hpp"

#include <iterator>
#include <sstream>

namespace blueprint::host {

Metrics::Metrics(std::size_t max_agents, std::size_t max_block_types)
    : run_durations_(max_agents), block_durations_(max_block_types) {}

void Metrics::countRequest(Route route, int status, std::int64_t duration_us) {
  int cls = status / 100;
  if (cls < 0 || cls > 5) cls = 0;
  requests_[static_cast<std::size_t>(route)][static_cast<std::size_t>(cls)].fetch_add(
      1, std::memory_order_relaxed);
  request_durations_[static_cast<std::size_t>(route)].observe(duration_us);
}

void Metrics::countRun(RunKind kind, RunOutcome outcome, std::int64_t duration_us,
                       std::string_view agent_id) {
  run_durations_.observe(agent_id, duration_us);
  runs_[static_cast<std::size_t>(kind)][static_cast<std::size_t>(outcome)].fetch_add(
      1, std::memory_order_relaxed);
  run_duration_us_[static_cast<std::size_t>(kind)].fetch_add(
      static_cast<std::uint64_t>(duration_us < 0 ? 0 : duration_us), std::memory_order_relaxed);
}

std::string Metrics::render(const std::string& gauges) const {
  std::ostringstream out;
  out << "# HELP blueprint_http_requests_total HTTP requests by route and status class.\n"
         "# TYPE blueprint_http_requests_total counter\n";
  for (int r = 0; r < kRoutes; ++r)
    for (int c = 1; c < 6; ++c) {
      auto v = requests_[static_cast<std::size_t>(r)][static_cast<std::size_t>(c)].load(
          std::memory_order_relaxed);
      if (v == 0) continue;
      out << "blueprint_http_requests_total{route=\"" << routeName(static_cast<Route>(r))
          << "\",code=\"" << c << "xx\"} " << v << "\n";
    }
  out << "# HELP blueprint_runs_total Finished runs by kind and status.\n"
         "# TYPE blueprint_runs_total counter\n";
  for (std::size_t k = 0; k < kKinds; ++k)
    for (std::size_t s = 0; s < kOutcomes; ++s)
      out << "blueprint_runs_total{kind=\"" << metricLabelOf(static_cast<RunKind>(k))
          << "\",status=\"" << metricLabelOf(static_cast<RunOutcome>(s)) << "\"} "
          << runs_[k][s].load(std::memory_order_relaxed) << "\n";
  out << "# HELP blueprint_run_duration_seconds_total Time spent in finished runs.\n"
         "# TYPE blueprint_run_duration_seconds_total counter\n";
  for (std::size_t k = 0; k < kKinds; ++k)
    out << "blueprint_run_duration_seconds_total{kind=\"" << metricLabelOf(static_cast<RunKind>(k))
        << "\"} " << static_cast<double>(run_duration_us_[k].load(std::memory_order_relaxed)) / 1e6
        << "\n";
  std::string histograms;
  histograms +=
      "# HELP blueprint_http_request_duration_seconds Time from routing a request to the end of "
      "its answer (a streamed run included), by route pattern.\n"
      "# TYPE blueprint_http_request_duration_seconds histogram\n";
  for (int r = 0; r < kRoutes; ++r) {
    const Route route = static_cast<Route>(r);
    const std::string labels =
        std::string("method=\"") + routeMethod(route) + "\",route=\"" + routePattern(route) + "\"";
    request_durations_[static_cast<std::size_t>(r)].render(
        histograms, "blueprint_http_request_duration_seconds", labels);
  }
  histograms +=
      "# HELP blueprint_run_duration_seconds Duration of finished runs (sync and async) by "
      "agent; agents past metrics_max_agents are counted under agent=\"other\".\n"
      "# TYPE blueprint_run_duration_seconds histogram\n";
  run_durations_.render(histograms, "blueprint_run_duration_seconds", "agent");
  histograms +=
      "# HELP blueprint_block_duration_seconds Duration of block calls by block type; types "
      "past metrics_max_block_types are counted under block_type=\"other\".\n"
      "# TYPE blueprint_block_duration_seconds histogram\n";
  block_durations_.render(histograms, "blueprint_block_duration_seconds", "block_type");
  out << histograms;
  out << "# HELP blueprint_jobs_created_total Async jobs accepted.\n"
         "# TYPE blueprint_jobs_created_total counter\n"
      << "blueprint_jobs_created_total " << jobs_created_.load(std::memory_order_relaxed) << "\n";
  out << gauges;
  return out.str();
}

}  // namespace blueprint::host
