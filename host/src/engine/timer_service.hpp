// SPDX-License-Identifier: Apache-2.0
// timer_service.hpp: one thread that fires one-shot timers at their time (issue 12): the run
// deadline of a run whose blocks are pending, and bp_pending.after() of asynchronous blocks
// (delay). A waiting timer costs an entry in a map, never a thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>

namespace blueprint::host {

/// One-shot timers on one thread. Callbacks run on that thread, one at a time: they must be
/// short (complete a call, post work to a pool). Thread-safe.
class TimerService {
 public:
  using Clock = std::chrono::steady_clock;
  using TimerId = std::uint64_t;

  TimerService();
  /// stop().
  ~TimerService();
  TimerService(const TimerService&) = delete;
  TimerService& operator=(const TimerService&) = delete;

  /// Calls `fire` once at `when` (at once when `when` is past). Returns an id for cancel().
  TimerId at(Clock::time_point when, std::function<void()> fire);
  /// Calls `fire` once after `ms` milliseconds (clamped so the clock never overflows).
  TimerId after(std::uint64_t ms, std::function<void()> fire);
  /// Drops a timer that has not fired; false when it already fired, is firing, or is unknown.
  bool cancel(TimerId id);
  /// Drops every timer without firing it and joins the thread. Idempotent; after it at() still
  /// returns ids but nothing fires.
  void stop();
  /// Timers waiting now.
  std::size_t pending() const;

 private:
  void loop();

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::multimap<Clock::time_point, std::pair<TimerId, std::function<void()>>> timers_;
  std::unordered_map<TimerId, decltype(timers_)::iterator> by_id_;
  TimerId next_id_ = 1;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace blueprint::host
