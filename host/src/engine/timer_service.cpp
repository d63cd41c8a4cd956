// SPDX-License-Identifier: Apache-2.0
#include "engine/timer_service.hpp"

#include <pthread.h>

namespace blueprint::host {

TimerService::TimerService() {
  thread_ = std::thread([this] { loop(); });
  pthread_setname_np(thread_.native_handle(), "bp-timers");
}

TimerService::~TimerService() { stop(); }

TimerService::TimerId TimerService::at(Clock::time_point when, std::function<void()> fire) {
  std::lock_guard<std::mutex> lock(mutex_);
  const TimerId id = next_id_++;
  if (stopping_) return id;
  auto it = timers_.emplace(when, std::make_pair(id, std::move(fire)));
  by_id_.emplace(id, it);
  if (it == timers_.begin()) wake_.notify_one();  // the earliest changed
  return id;
}

TimerService::TimerId TimerService::after(std::uint64_t ms, std::function<void()> fire) {
  // A year is "never" for a run (its timeout ends it first) and keeps the arithmetic in range.
  constexpr std::uint64_t kMaxMs = 365ull * 24 * 3600 * 1000;
  const auto delay = std::chrono::milliseconds(static_cast<std::int64_t>(std::min(ms, kMaxMs)));
  return at(Clock::now() + delay, std::move(fire));
}

bool TimerService::cancel(TimerId id) {
  std::function<void()> dropped;  // destroyed outside the lock: it may own a run
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return false;
  dropped = std::move(it->second->second.second);
  timers_.erase(it->second);
  by_id_.erase(it);
  return true;
}

std::size_t TimerService::pending() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return timers_.size();
}

void TimerService::loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    if (timers_.empty()) {
      wake_.wait(lock);
      continue;
    }
    const auto next = timers_.begin()->first;
    if (Clock::now() < next) {
      wake_.wait_until(lock, next);
      continue;
    }
    auto first = timers_.begin();
    std::function<void()> fire = std::move(first->second.second);
    by_id_.erase(first->second.first);
    timers_.erase(first);
    lock.unlock();
    try {
      fire();
    } catch (...) {
    }
    fire = nullptr;
    lock.lock();
  }
}

void TimerService::stop() {
  decltype(timers_) dropped;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    dropped.swap(timers_);
    by_id_.clear();
  }
  wake_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

}  // namespace blueprint::host
