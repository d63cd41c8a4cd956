// SPDX-License-Identifier: Apache-2.0
// run_admission.hpp: how many runs may be in flight at once, on the whole host and per agent
// (max_concurrent_runs, max_concurrent_runs_per_agent). A sync run over a limit is refused at
// once (429 with Retry-After: its caller is waiting and can retry elsewhere); a job waits in its
// worker for a slot, so an accepted job is never refused for load, only delayed. Top-level runs
// take a slot; the sub-runs of run_blueprint belong to their parent's slot (counting them would
// let a full host deadlock on its own nesting).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace blueprint::host {

class RunAdmission {
 public:
  /// 0 means no limit.
  RunAdmission(int max_total, int max_per_agent);
  RunAdmission(const RunAdmission&) = delete;
  RunAdmission& operator=(const RunAdmission&) = delete;

  /// Held for as long as its run lasts; gives the slot back when destroyed.
  class Slot {
   public:
    Slot(Slot&& other) noexcept : owner_(other.owner_), agent_(std::move(other.agent_)) {
      other.owner_ = nullptr;
    }
    Slot& operator=(Slot&& other) noexcept {
      if (this != &other) {
        if (owner_ != nullptr) owner_->release(agent_);
        owner_ = other.owner_;
        agent_ = std::move(other.agent_);
        other.owner_ = nullptr;
      }
      return *this;
    }
    Slot(const Slot&) = delete;
    ~Slot();

   private:
    friend class RunAdmission;
    Slot(RunAdmission* owner, std::string agent) : owner_(owner), agent_(std::move(agent)) {}
    RunAdmission* owner_;
    std::string agent_;  ///< empty when there is no per-agent limit
  };

  enum class Limit { None, Host, Agent };

  /// A slot now, or none and which limit is full (`refused`).
  std::optional<Slot> tryAcquire(const std::string& agent_id, Limit& refused);
  /// Waits for a slot; none if `give_up` returns true first (polled every `poll`).
  std::optional<Slot> acquire(const std::string& agent_id, const std::function<bool()>& give_up,
                              std::chrono::milliseconds poll = std::chrono::milliseconds(100));

  int maxTotal() const { return max_total_; }
  int maxPerAgent() const { return max_per_agent_; }
  /// Runs holding a slot now.
  int active() const { return active_.load(std::memory_order_relaxed); }

 private:
  bool takeTotal();
  void release(const std::string& agent);

  const int max_total_;
  const int max_per_agent_;
  std::atomic<int> active_{0};
  std::atomic<int> waiters_{0};
  std::mutex mutex_;  ///< per_agent_ and the condition variable
  std::condition_variable freed_;
  std::unordered_map<std::string, int> per_agent_;
};

}  // namespace blueprint::host
