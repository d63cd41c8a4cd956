// SPDX-License-Identifier: Apache-2.0
#include "metrics/metrics.hpp"

#include <iterator>
#include <sstream>

namespace blueprint::host {

const char* routeName(Route r) {
  static const char* kNames[] = {"trigger",        "create_job",        "test_run",
                                 "get_job",        "job_events",        "cancel_job",
                                 "retry_job",      "list_jobs",         "list_agents",
                                 "put_agent",      "get_agent",         "delete_agent",
                                 "deploy",         "undeploy",          "blocks",
                                 "reload_plugins", "healthz",           "readyz",
                                 "metrics",        "openapi",           "console_redirect",
                                 "console_asset",  "get_agent_version", "not_found"};
  return kNames[static_cast<int>(r)];
}

void Metrics::countRequest(Route route, int status) {
  int cls = status / 100;
  if (cls < 0 || cls > 5) cls = 0;
  requests_[static_cast<std::size_t>(route)][static_cast<std::size_t>(cls)].fetch_add(
      1, std::memory_order_relaxed);
}

namespace {
/// Upper bounds of the run duration buckets in microseconds; a last bucket takes the rest.
constexpr std::int64_t kRunDurationBoundsUs[] = {1000,    5000,     10000,    25000,    50000,
                                                 100000,  250000,   500000,   1000000,  2500000,
                                                 5000000, 10000000, 30000000, 60000000, 300000000};
constexpr const char* kRunDurationBoundLabels[] = {"0.001", "0.005", "0.01", "0.025", "0.05",
                                                   "0.1",   "0.25",  "0.5",  "1",     "2.5",
                                                   "5",     "10",    "30",   "60",    "300"};
static_assert(std::size(kRunDurationBoundsUs) + 1 == 16, "one bucket per bound, plus +Inf");
}  // namespace

void Metrics::countRun(int kind, int status, std::int64_t duration_us) {
  std::size_t bucket = 0;
  while (bucket < std::size(kRunDurationBoundsUs) && duration_us > kRunDurationBoundsUs[bucket])
    ++bucket;
  run_duration_buckets_[static_cast<std::size_t>(kind)][bucket].fetch_add(
      1, std::memory_order_relaxed);
  runs_[static_cast<std::size_t>(kind)][static_cast<std::size_t>(status)].fetch_add(
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
  static const char* kKinds[] = {"sync", "async"};
  static const char* kStatus[] = {"completed", "error", "cancelled"};
  out << "# HELP blueprint_runs_total Finished runs by kind and status.\n"
         "# TYPE blueprint_runs_total counter\n";
  for (int k = 0; k < 2; ++k)
    for (int s = 0; s < 3; ++s)
      out << "blueprint_runs_total{kind=\"" << kKinds[k] << "\",status=\"" << kStatus[s] << "\"} "
          << runs_[static_cast<std::size_t>(k)][static_cast<std::size_t>(s)].load(
                 std::memory_order_relaxed)
          << "\n";
  out << "# HELP blueprint_run_duration_seconds_total Time spent in finished runs.\n"
         "# TYPE blueprint_run_duration_seconds_total counter\n";
  for (int k = 0; k < 2; ++k)
    out << "blueprint_run_duration_seconds_total{kind=\"" << kKinds[k] << "\"} "
        << static_cast<double>(
               run_duration_us_[static_cast<std::size_t>(k)].load(std::memory_order_relaxed)) /
               1e6
        << "\n";
  out << "# HELP blueprint_run_duration_seconds Duration of finished runs.\n"
         "# TYPE blueprint_run_duration_seconds histogram\n";
  for (int k = 0; k < 2; ++k) {
    const auto& buckets = run_duration_buckets_[static_cast<std::size_t>(k)];
    std::uint64_t cumulative = 0;
    for (std::size_t b = 0; b < kDurationBuckets; ++b) {
      cumulative += buckets[b].load(std::memory_order_relaxed);
      out << "blueprint_run_duration_seconds_bucket{kind=\"" << kKinds[k] << "\",le=\""
          << (b < std::size(kRunDurationBoundLabels) ? kRunDurationBoundLabels[b] : "+Inf")
          << "\"} " << cumulative << "\n";
    }
    out << "blueprint_run_duration_seconds_sum{kind=\"" << kKinds[k] << "\"} "
        << static_cast<double>(
               run_duration_us_[static_cast<std::size_t>(k)].load(std::memory_order_relaxed)) /
               1e6
        << "\n"
        << "blueprint_run_duration_seconds_count{kind=\"" << kKinds[k] << "\"} " << cumulative
        << "\n";
  }
  out << "# HELP blueprint_jobs_created_total Async jobs accepted.\n"
         "# TYPE blueprint_jobs_created_total counter\n"
      << "blueprint_jobs_created_total " << jobs_created_.load(std::memory_order_relaxed) << "\n";
  out << gauges;
  return out.str();
}

}  // namespace blueprint::host
