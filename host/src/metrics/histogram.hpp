// SPDX-License-Identifier: Apache-2.0
// histogram.hpp: a Prometheus histogram of durations with fixed buckets. observe() is a few
// relaxed atomic adds (no lock, no allocation), so it can sit on every request and every block
// call; render() writes the cumulative `_bucket` lines, `_sum` and `_count` of one series.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace blueprint::host {

class DurationHistogram {
 public:
  /// Upper bounds of the buckets in microseconds (the last bucket, +Inf, takes the rest).
  static constexpr std::array<std::int64_t, 15> kBoundsUs = {
      100,    500,    1000,    5000,    10000,    25000,    50000,    100000,
      250000, 500000, 1000000, 2500000, 10000000, 60000000, 300000000};
  static constexpr std::size_t kBuckets = kBoundsUs.size() + 1;

  void observe(std::int64_t duration_us);

  /// Appends `<name>_bucket{<labels>,le="…"} n` for every bucket, then `_sum` (seconds) and
  /// `_count`; `labels` is `key="value",…` (already escaped) or empty. `_count` equals the +Inf
  /// bucket by construction.
  void render(std::string& out, std::string_view name, std::string_view labels) const;

 private:
  std::array<std::atomic<std::uint64_t>, kBuckets> buckets_{};
  std::atomic<std::uint64_t> sum_us_{0};
};

/// `value` escaped for a Prometheus label value (backslash, double quote, newline).
std::string escapeLabelValue(std::string_view value);

}  // namespace blueprint::host
