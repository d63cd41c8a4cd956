// SPDX-License-Identifier: Apache-2.0
// capped_histograms.hpp: one DurationHistogram per label value (agent id, block type), for at
// most `max_labels` values; later values share one series labelled "other", so a host with
// thousands of agents cannot grow /metrics (and its scrapers' memory) without bound.
//
// observe() takes no lock and allocates nothing once a value has its series: values live in an
// open-addressing table whose slots are published once (release) and never move or change, so
// a lookup is a hash and a few acquire loads. Only the first sighting of a new value takes the
// insert mutex.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/histogram.hpp"

namespace blueprint::host {

class CappedHistograms {
 public:
  /// The label value every value past the cap (and a value spelled "other") is counted under.
  static constexpr std::string_view kOther = "other";

  explicit CappedHistograms(std::size_t max_labels);
  CappedHistograms(const CappedHistograms&) = delete;
  CappedHistograms& operator=(const CappedHistograms&) = delete;

  void observe(std::string_view label, std::int64_t duration_us);

  /// Appends every series of histogram `name` with label `label_name`, sorted by value, the
  /// "other" series last (only when something was counted in it).
  void render(std::string& out, std::string_view name, std::string_view label_name) const;

  /// Values that have a series of their own.
  std::size_t labelCount() const { return used_.load(std::memory_order_relaxed); }

 private:
  struct Slot {
    std::atomic<const std::string*> label{nullptr};
    DurationHistogram histogram;
  };

  /// The slot holding `label`, or nullptr when it has none (yet).
  Slot* find(std::string_view label, std::size_t hash) const;
  /// find(), or a new slot when below the cap (insert_mutex_ taken), or nullptr at the cap.
  Slot* findOrInsert(std::string_view label, std::size_t hash);

  const std::size_t max_labels_;
  std::size_t mask_ = 0;
  std::unique_ptr<Slot[]> slots_;
  std::atomic<std::size_t> used_{0};
  std::mutex insert_mutex_;
  std::vector<std::unique_ptr<const std::string>> owned_;  ///< guarded by insert_mutex_
  DurationHistogram other_;
  std::atomic<bool> other_used_{false};
};

}  // namespace blueprint::host
