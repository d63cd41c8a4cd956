// SPDX-License-Identifier: Apache-2.0
// RunAdmission: the host and per-agent run limits, the slot's release, and a waiting acquire
// that wakes when a slot frees or gives up when told to.
#include "runs/run_admission.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

namespace blueprint::host {
namespace {

using Limit = RunAdmission::Limit;

TEST(RunAdmission, TheHostLimitRefusesTheRunPastItAndASlotGivenBackMakesRoom) {
  RunAdmission admission(2, 0);
  Limit refused = Limit::None;
  auto a = admission.tryAcquire("x", refused);
  auto b = admission.tryAcquire("y", refused);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(admission.active(), 2);
  EXPECT_FALSE(admission.tryAcquire("z", refused));
  EXPECT_EQ(refused, Limit::Host);
  EXPECT_EQ(admission.active(), 2);
  a.reset();
  EXPECT_EQ(admission.active(), 1);
  EXPECT_TRUE(admission.tryAcquire("z", refused));
  EXPECT_EQ(refused, Limit::None);
  EXPECT_EQ(admission.active(), 1);  // the temporary slot above went back at once
}

TEST(RunAdmission, TheAgentLimitCountsEachAgentApartAndGivesBackItsHostSlot) {
  RunAdmission admission(3, 1);
  Limit refused = Limit::None;
  auto a = admission.tryAcquire("a", refused);
  ASSERT_TRUE(a);
  EXPECT_FALSE(admission.tryAcquire("a", refused));
  EXPECT_EQ(refused, Limit::Agent);
  EXPECT_EQ(admission.active(), 1) << "a refused run must not keep the host slot it took";
  auto b = admission.tryAcquire("b", refused);
  EXPECT_TRUE(b);
  a.reset();
  EXPECT_TRUE(admission.tryAcquire("a", refused));
}

TEST(RunAdmission, ZeroMeansNoLimit) {
  RunAdmission admission(0, 0);
  Limit refused = Limit::None;
  std::vector<RunAdmission::Slot> slots;
  for (int i = 0; i < 5000; ++i) {
    auto slot = admission.tryAcquire("a", refused);
    ASSERT_TRUE(slot);
    slots.push_back(std::move(*slot));
  }
  EXPECT_EQ(admission.active(), 5000);
  slots.clear();
  EXPECT_EQ(admission.active(), 0);
}

TEST(RunAdmission, AWaitingAcquireTakesTheSlotThatIsGivenBack) {
  RunAdmission admission(1, 0);
  Limit refused = Limit::None;
  auto held = admission.tryAcquire("a", refused);
  ASSERT_TRUE(held);
  std::atomic<bool> got{false};
  std::thread waiter([&] {
    auto slot = admission.acquire(
        "b", [] { return false; }, std::chrono::milliseconds(5000));
    got = slot.has_value();
  });
  // The waiter cannot have it while it is held; its poll period (5 s) is far longer than the
  // test, so only the release's notification can wake it in time.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(got);
  held.reset();
  waiter.join();  // within far less than the 5 s poll: the release notified it
  EXPECT_TRUE(got);
  EXPECT_EQ(admission.active(), 0);
}

TEST(RunAdmission, AWaitingAcquireGivesUpWhenTold) {
  RunAdmission admission(0, 1);
  Limit refused = Limit::None;
  auto held = admission.tryAcquire("a", refused);
  ASSERT_TRUE(held);
  std::atomic<bool> stop{false};
  auto waited = std::async(std::launch::async, [&] {
    return admission
        .acquire(
            "a", [&] { return stop.load(); }, std::chrono::milliseconds(5))
        .has_value();
  });
  stop = true;
  EXPECT_FALSE(waited.get());
  EXPECT_EQ(admission.active(), 1);
}

TEST(RunAdmission, ManyThreadsNeverHoldMoreThanTheLimit) {
  RunAdmission admission(3, 2);
  std::atomic<int> per_agent[2] = {0, 0};
  std::atomic<int> total{0}, worst_total{0}, worst_agent{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      const int agent = t % 2;
      for (int i = 0; i < 300; ++i) {
        auto slot = admission.acquire(
            agent == 0 ? "a" : "b", [] { return false; }, std::chrono::milliseconds(1));
        ASSERT_TRUE(slot);
        const int now_total = ++total, now_agent = ++per_agent[agent];
        int seen = worst_total.load();
        while (now_total > seen && !worst_total.compare_exchange_weak(seen, now_total)) {
        }
        seen = worst_agent.load();
        while (now_agent > seen && !worst_agent.compare_exchange_weak(seen, now_agent)) {
        }
        std::this_thread::yield();
        --per_agent[agent];
        --total;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_LE(worst_total.load(), 3);
  EXPECT_LE(worst_agent.load(), 2);
  EXPECT_EQ(admission.active(), 0);
}

}  // namespace
}  // namespace blueprint::host
