// SPDX-License-Identifier: Apache-2.0
// engine_threads_test.cpp: the engine's own threads (issue 12): the timer service fires in time
// order, never fires a cancelled timer, and drops what is left at stop; a worker pool runs every
// posted task, grows only to its bound, and tags its threads.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "engine/timer_service.hpp"
#include "engine/worker_pool.hpp"

namespace blueprint::host {
namespace {

using namespace std::chrono_literals;

TEST(TimerService, FiresInTimeOrderAndNeverACancelledTimer) {
  TimerService timers;
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<int> fired;
  auto record = [&](int n) {
    return [&, n] {
      std::lock_guard<std::mutex> lock(mutex);
      fired.push_back(n);
      cv.notify_all();
    };
  };
  timers.after(60, record(3));
  const auto cancelled = timers.after(40, record(99));
  timers.after(20, record(1));
  timers.after(40, record(2));
  EXPECT_TRUE(timers.cancel(cancelled));
  EXPECT_FALSE(timers.cancel(cancelled));
  std::unique_lock<std::mutex> lock(mutex);
  ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return fired.size() == 3; }));
  EXPECT_EQ(fired, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(timers.pending(), 0u);
}

TEST(TimerService, StopDropsWaitingTimersWithoutFiringThem) {
  std::atomic<int> fired{0};
  {
    TimerService timers;
    timers.after(60000, [&] { ++fired; });
    EXPECT_EQ(timers.pending(), 1u);
    timers.stop();
    EXPECT_EQ(timers.pending(), 0u);
  }
  EXPECT_EQ(fired.load(), 0);
}

TEST(WorkerPool, RunsEveryTaskOnAtMostItsBoundOfTaggedThreads) {
  std::atomic<int> ran{0};
  std::atomic<int> tagged{0};
  std::mutex mutex;
  std::set<std::thread::id> threads;
  {
    WorkerPool pool("test-pool", 3, WorkerPool::ThreadKind::Blocking, false);
    EXPECT_EQ(pool.threadCount(), 0u);  // started as needed
    for (int i = 0; i < 200; ++i)
      pool.post([&] {
        if (WorkerPool::currentThreadKind() == WorkerPool::ThreadKind::Blocking) ++tagged;
        {
          std::lock_guard<std::mutex> lock(mutex);
          threads.insert(std::this_thread::get_id());
        }
        std::this_thread::sleep_for(100us);
        ++ran;
      });
    pool.stop();  // lets the queued tasks finish
  }
  EXPECT_EQ(ran.load(), 200);
  EXPECT_LE(threads.size(), 3u);
  EXPECT_EQ(tagged.load(), 200);
  EXPECT_EQ(WorkerPool::currentThreadKind(), WorkerPool::ThreadKind::Other);
}

}  // namespace
}  // namespace blueprint::host
