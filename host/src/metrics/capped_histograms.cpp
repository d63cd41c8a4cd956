// SPDX-License-Identifier: Apache-2.0
#include "metrics/capped_histograms.hpp"

#include <algorithm>

namespace blueprint::host {

namespace {

/// FNV-1a: label values are short ids, for which it is fast and spreads well enough.
std::size_t hashOf(std::string_view text) {
  std::uint64_t h = 14695981039346656037ull;
  for (const char c : text) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return static_cast<std::size_t>(h);
}

}  // namespace

CappedHistograms::CappedHistograms(std::size_t max_labels) : max_labels_(max_labels) {
  // At most half full: a probe for an absent value ends at an empty slot after a few steps.
  std::size_t capacity = 2;
  while (capacity < 2 * max_labels_ + 1) capacity *= 2;
  mask_ = capacity - 1;
  slots_ = std::make_unique<Slot[]>(capacity);
  owned_.reserve(max_labels_);
}

CappedHistograms::Slot* CappedHistograms::find(std::string_view label, std::size_t hash) const {
  for (std::size_t i = 0; i <= mask_; ++i) {
    Slot& slot = slots_[(hash + i) & mask_];
    const std::string* held = slot.label.load(std::memory_order_acquire);
    if (held == nullptr) return nullptr;
    if (*held == label) return &slot;
  }
  return nullptr;
}

CappedHistograms::Slot* CappedHistograms::findOrInsert(std::string_view label, std::size_t hash) {
  if (used_.load(std::memory_order_relaxed) >= max_labels_) return nullptr;
  std::lock_guard<std::mutex> lock(insert_mutex_);
  for (std::size_t i = 0; i <= mask_; ++i) {
    Slot& slot = slots_[(hash + i) & mask_];
    const std::string* held = slot.label.load(std::memory_order_acquire);
    if (held != nullptr) {
      if (*held == label) return &slot;
      continue;
    }
    if (used_.load(std::memory_order_relaxed) >= max_labels_) return nullptr;
    owned_.push_back(std::make_unique<const std::string>(label));
    slot.label.store(owned_.back().get(), std::memory_order_release);
    used_.fetch_add(1, std::memory_order_relaxed);
    return &slot;
  }
  return nullptr;
}

void CappedHistograms::observe(std::string_view label, std::int64_t duration_us) {
  Slot* slot = nullptr;
  if (label != kOther) {
    const std::size_t hash = hashOf(label);
    slot = find(label, hash);
    if (slot == nullptr) slot = findOrInsert(label, hash);
  }
  if (slot != nullptr) {
    slot->histogram.observe(duration_us);
    return;
  }
  other_.observe(duration_us);
  if (!other_used_.load(std::memory_order_relaxed))
    other_used_.store(true, std::memory_order_relaxed);
}

void CappedHistograms::render(std::string& out, std::string_view name,
                              std::string_view label_name) const {
  std::vector<const Slot*> used;
  for (std::size_t i = 0; i <= mask_; ++i)
    if (slots_[i].label.load(std::memory_order_acquire) != nullptr) used.push_back(&slots_[i]);
  std::sort(used.begin(), used.end(), [](const Slot* a, const Slot* b) {
    return *a->label.load(std::memory_order_relaxed) < *b->label.load(std::memory_order_relaxed);
  });
  for (const Slot* slot : used) {
    const std::string labels = std::string(label_name) + "=\"" +
                               escapeLabelValue(*slot->label.load(std::memory_order_relaxed)) +
                               "\"";
    slot->histogram.render(out, name, labels);
  }
  if (other_used_.load(std::memory_order_relaxed))
    other_.render(out, name, std::string(label_name) + "=\"" + std::string(kOther) + "\"");
}

}  // namespace blueprint::host
