// SPDX-License-Identifier: Apache-2.0
#include "runs/run_admission.hpp"

namespace blueprint::host {

RunAdmission::RunAdmission(int max_total, int max_per_agent)
    : max_total_(max_total < 0 ? 0 : max_total),
      max_per_agent_(max_per_agent < 0 ? 0 : max_per_agent) {}

RunAdmission::Slot::~Slot() {
  if (owner_ != nullptr) owner_->release(agent_);
}

bool RunAdmission::takeTotal() {
  // The hot path without a per-agent limit: one compare-and-swap, no lock.
  int now = active_.load(std::memory_order_relaxed);
  do {
    if (max_total_ > 0 && now >= max_total_) return false;
  } while (!active_.compare_exchange_weak(now, now + 1, std::memory_order_acq_rel,
                                          std::memory_order_relaxed));
  return true;
}

std::optional<RunAdmission::Slot> RunAdmission::tryAcquire(const std::string& agent_id,
                                                           Limit& refused) {
  refused = Limit::None;
  if (!takeTotal()) {
    refused = Limit::Host;
    return std::nullopt;
  }
  if (max_per_agent_ == 0) return Slot(this, std::string());
  {
    std::lock_guard<std::mutex> lock(mutex_);
    int& mine = per_agent_[agent_id];
    if (mine < max_per_agent_) {
      ++mine;
      return Slot(this, agent_id);
    }
  }
  refused = Limit::Agent;
  release(std::string());  // the host slot taken above
  return std::nullopt;
}

std::optional<RunAdmission::Slot> RunAdmission::acquire(const std::string& agent_id,
                                                        const std::function<bool()>& give_up,
                                                        std::chrono::milliseconds poll) {
  Limit refused = Limit::None;
  if (std::optional<Slot> slot = tryAcquire(agent_id, refused)) return slot;
  waiters_.fetch_add(1, std::memory_order_acq_rel);
  struct Leave {
    std::atomic<int>& waiters;
    ~Leave() { waiters.fetch_sub(1, std::memory_order_acq_rel); }
  } leave{waiters_};
  for (;;) {
    if (give_up()) return std::nullopt;
    if (std::optional<Slot> slot = tryAcquire(agent_id, refused)) return slot;
    // A release notifies under the mutex after it registers as a waiter: no lost wake-up
    // beyond one poll period, which also bounds how late give_up() is seen.
    std::unique_lock<std::mutex> lock(mutex_);
    freed_.wait_for(lock, poll);
  }
}

void RunAdmission::release(const std::string& agent) {
  if (!agent.empty()) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = per_agent_.find(agent);
    if (it != per_agent_.end() && --it->second <= 0) per_agent_.erase(it);
  }
  active_.fetch_sub(1, std::memory_order_acq_rel);
  if (waiters_.load(std::memory_order_acquire) > 0) {
    std::lock_guard<std::mutex> lock(mutex_);
    freed_.notify_all();
  }
}

}  // namespace blueprint::host
