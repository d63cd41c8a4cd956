// SPDX-License-Identifier: Apache-2.0
#include "metrics/histogram.hpp"

#include <cstdio>

namespace blueprint::host {

namespace {

/// Bucket bounds as Prometheus shows them (seconds), in the order of kBoundsUs.
constexpr const char* kBoundLabels[] = {"0.0001", "0.0005", "0.001", "0.005", "0.01",
                                        "0.025",  "0.05",   "0.1",   "0.25",  "0.5",
                                        "1",      "2.5",    "10",    "60",    "300"};
static_assert(std::size(kBoundLabels) == DurationHistogram::kBoundsUs.size(),
              "one label per bucket bound");

}  // namespace

void DurationHistogram::observe(std::int64_t duration_us) {
  if (duration_us < 0) duration_us = 0;
  std::size_t bucket = 0;
  while (bucket < kBoundsUs.size() && duration_us > kBoundsUs[bucket]) ++bucket;
  buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_us_.fetch_add(static_cast<std::uint64_t>(duration_us), std::memory_order_relaxed);
}

void DurationHistogram::render(std::string& out, std::string_view name,
                               std::string_view labels) const {
  const std::string separator = labels.empty() ? "" : ",";
  std::uint64_t cumulative = 0;
  for (std::size_t b = 0; b < kBuckets; ++b) {
    cumulative += buckets_[b].load(std::memory_order_relaxed);
    out.append(name).append("_bucket{").append(labels).append(separator).append("le=\"");
    out.append(b < kBoundsUs.size() ? kBoundLabels[b] : "+Inf");
    out.append("\"} ").append(std::to_string(cumulative)).append("\n");
  }
  char sum[64];
  std::snprintf(sum, sizeof sum, "%.6f",
                static_cast<double>(sum_us_.load(std::memory_order_relaxed)) / 1e6);
  const std::string braces = labels.empty() ? "" : "{" + std::string(labels) + "}";
  out.append(name).append("_sum").append(braces).append(" ").append(sum).append("\n");
  out.append(name)
      .append("_count")
      .append(braces)
      .append(" ")
      .append(std::to_string(cumulative))
      .append("\n");
}

std::string escapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

}  // namespace blueprint::host
