// SPDX-License-Identifier: Apache-2.0
// delay_test.cpp: the `delay` block through the real engine and core_blocks.so (DESIGN §8): its
// one end state `success` (result null), and a cancellable wait: cancellation, the run's timeout
// and a Return Value on another branch all cut it short. Bounds are generous: "short" means well
// under the minute the delay asks for.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "block_harness.hpp"

namespace blueprint::host::block_tests {
namespace {

using Clock = std::chrono::steady_clock;

/// trigger → wait(ms) → reply({"result": @{result}}).
Json waitFor(const Json& ms) {
  Json blocks = Json::parse(R"([
    {"id": "trigger", "type": "api_trigger", "next": {"trigger": "wait"}},
    {"id": "wait", "type": "delay", "fields": {}, "next": {"success": "reply"}},
    {"id": "reply", "type": "return_value", "fields": {"value": {"result": "@{result}"}}}])");
  blocks[1]["fields"]["ms"] = ms;
  return blocks;
}

std::int64_t msSince(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

TEST(Delay, WaitsAtLeastMsAndSucceedsWithNull) {
  BlockRun run;
  const auto start = Clock::now();
  RunResult r = run.run(waitFor("@{result.inputs.ms}"), inputs({{"ms", 50}}));
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_GE(msSince(start), 50);
  EXPECT_EQ(r.return_value, Json::parse(R"({"result":null})"));
  EXPECT_EQ(traceOf(r, "wait").at(0).at("end_state"), "success");
}

TEST(Delay, ZeroMsSucceedsAtOnce) {
  BlockRun run;
  RunResult r = run.run(waitFor(0));
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
}

TEST(Delay, CancellationCutsItShort) {
  BlockRun run;
  const auto start = Clock::now();
  std::thread canceller([&] {
    // Whether this lands before or during the wait, the run ends cancelled and soon.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    run.control.cancel();
  });
  RunResult r = run.run(waitFor(60000));
  canceller.join();
  EXPECT_EQ(r.status, RunResult::Status::Cancelled) << describe(r);
  EXPECT_LT(msSince(start), 20000);
  EXPECT_FALSE(r.return_value.has_value());
}

TEST(Delay, TheRunTimeoutCutsItShortWithAnErrorNamingTheTimeout) {
  for (const Json& ms : {Json(60000), Json(1e300)}) {
    BlockRun run;
    run.limits.timeout_ms = 200;
    const auto start = Clock::now();
    RunResult r = run.run(waitFor(ms));
    EXPECT_EQ(r.status, RunResult::Status::Error) << describe(r);
    EXPECT_EQ(r.error, "wait: run exceeded its timeout of 200 ms") << ms.dump();
    EXPECT_LT(msSince(start), 20000);
  }
}

TEST(Delay, AReturnValueOnAnotherBranchCutsItShort) {
  BlockRun run;
  const auto start = Clock::now();
  RunResult r = run.run(Json::parse(R"([
    {"id": "trigger", "type": "api_trigger", "next": {"trigger": ["wait", "fast"]}},
    {"id": "wait", "type": "delay", "fields": {"ms": 60000}, "next": {"success": "late"}},
    {"id": "late", "type": "return_value", "fields": {"value": "late"}},
    {"id": "fast", "type": "return_value", "fields": {"value": "fast"}}])"));
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(r.return_value, Json("fast"));
  EXPECT_LT(msSince(start), 20000);
  EXPECT_TRUE(traceOf(r, "late").empty());
}

TEST(Delay, ANegativeOrMissingMsFailsTheRun) {
  BlockRun negative;
  RunResult r = negative.run(waitFor(-5));
  EXPECT_EQ(r.status, RunResult::Status::Error) << describe(r);
  EXPECT_EQ(r.error, "wait: ms must not be negative");
  BlockRun missing;
  r = missing.run(waitFor("@{result.inputs.none}"));
  EXPECT_EQ(r.status, RunResult::Status::Error) << describe(r);
  EXPECT_EQ(r.error, "wait: ms is null, not a number of milliseconds");
  BlockRun text;
  r = text.run(waitFor("soon"));
  EXPECT_EQ(r.status, RunResult::Status::Error) << describe(r);
  EXPECT_EQ(r.error, "wait: field 'ms' 'soon' is not a number");
}

}  // namespace
}  // namespace blueprint::host::block_tests
