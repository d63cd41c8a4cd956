// SPDX-License-Identifier: Apache-2.0
// async_blocks_test.cpp: runs as scheduled state and asynchronous blocks (issue 12, ABI 1.3)
// through the real engine and real plugin files: async_c.so (C99), async_cpp.so (the C++ SDK),
// abi_1_2.so (a 1.2 build) and core_blocks.so (delay). Pending calls hold no thread, complete
// exactly once, are told when their run is cancelled, times out or ends by a Return Value
// elsewhere, and keep their plugin generation loaded until they complete. Thread counts come from
// /proc/self/task; the only time bounds are generous ones ("it ended at all").
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/engine_threads.hpp"
#include "engine/runner.hpp"
#include "plugins/plugin_manager.hpp"
#include "support/loaded_plugins.hpp"

namespace blueprint::host {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

testing::LoadedPlugins* const kPlugins =
    testing::LoadedPlugins::add({fs::path(BLUEPRINT_PLUGIN_DIR) / "core_blocks.so",
                                 fs::path(BLUEPRINT_FIXTURE_PLUGIN_DIR) / "async_c/async_c.so",
                                 fs::path(BLUEPRINT_FIXTURE_PLUGIN_DIR) / "async_cpp/async_cpp.so",
                                 fs::path(BLUEPRINT_FIXTURE_PLUGIN_DIR) / "abi_1_2/abi_1_2.so"});

class NoObserver final : public RunObserver {
 public:
  void onDelta(std::string_view) override {}
};

/// Threads of this process now.
int threadCount() {
  int n = 0;
  for (const auto& entry : fs::directory_iterator("/proc/self/task")) {
    (void)entry;
    ++n;
  }
  return n;
}

/// The most threads seen while it lives (sampled every millisecond).
class ThreadSampler {
 public:
  ThreadSampler() : most_(threadCount()) {
    thread_ = std::thread([this] {
      while (!stop_.load()) {
        const int n = threadCount() - 1;  // not counting this sampler
        int seen = most_.load();
        while (n > seen && !most_.compare_exchange_weak(seen, n)) {
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    });
  }
  ~ThreadSampler() { stopNow(); }
  int stopNow() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return most_.load();
  }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int> most_;
  std::thread thread_;
};

Json block(const std::string& id, const std::string& type, Json fields = Json::object(),
           Json next = Json::object()) {
  return {{"id", id}, {"type", type}, {"fields", std::move(fields)}, {"next", std::move(next)}};
}

Json agentOf(Json blocks) {
  return {{"name", "async"},
          {"blueprints", Json::array({{{"id", "main"}, {"blocks", std::move(blocks)}}})}};
}

/// trigger → `type` → reply(@{result}).
Json through(const std::string& type, Json fields = Json::object()) {
  return agentOf({block("trigger", "api_trigger", Json::object(), {{"trigger", "call"}}),
                  block("call", type, std::move(fields), {{"success", "reply"}}),
                  block("reply", "return_value", {{"value", "@{result}"}})});
}

struct Harness {
  RunLimits limits;
  NoObserver observer;
  RunControl control;
  std::shared_ptr<const CompiledAgent> agent;

  RunResult run(const Json& definition,
                std::shared_ptr<const Catalog> catalog = kPlugins->catalog()) {
    agent = CompiledAgent::compile("async", 1, definition, std::move(catalog));
    RunOptions options;
    options.limits = limits;
    return Runner::run(*agent, *agent->find("main"), Json::object(), options, observer, control);
  }
};

/// How often the fixture's on_cancel ran and how often its calls completed so far.
Json countsOf(const std::string& type) {
  Harness h;
  RunResult r = h.run(through(type));
  EXPECT_EQ(r.status, RunResult::Status::Completed) << r.error;
  return r.return_value.value_or(Json());
}

std::string describe(const RunResult& r) { return r.error + " " + r.trace.dump(); }

TEST(AsyncBlocks, ACPluginCompletesFromTheHostTimer) {
  Harness h;
  RunResult r = h.run(through("c.later"));
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(r.return_value, Json("later"));
}

TEST(AsyncBlocks, ACppSdkBlockCompletesFromTheHostTimerWithItsLogInTheTrace) {
  Harness h;
  RunResult r = h.run(through("cpp.later", {{"ms", 20}, {"value", {{"x", 1}}}}));
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(r.return_value, Json({{"x", 1}}));
  bool logged = false;
  for (const Json& e : r.trace)
    if (e.at("block") == "call" && e.contains("logs"))
      logged = e.at("logs").dump().find("timer fired") != std::string::npos;
  EXPECT_TRUE(logged) << r.trace.dump();
}

TEST(AsyncBlocks, ASecondCompleteIsIgnoredAndTheFirstResultKept) {
  Harness h;
  RunResult r = h.run(through("c.twice"));
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(r.return_value, Json("first"));
}

TEST(AsyncBlocks, CancelTellsThePendingBlockOnceAndEndsTheRun) {
  const Json before = countsOf("c.counts");
  Harness h;
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    h.control.cancel();
  });
  const auto start = Clock::now();
  RunResult r = h.run(through("c.forever"));
  canceller.join();
  EXPECT_EQ(r.status, RunResult::Status::Cancelled) << describe(r);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(20));
  const Json after = countsOf("c.counts");
  EXPECT_EQ(after.at("cancels").get<long>() - before.at("cancels").get<long>(), 1);
  EXPECT_EQ(after.at("completes").get<long>() - before.at("completes").get<long>(), 1);
}

TEST(AsyncBlocks, TheRunTimeoutTellsThePendingBlockOnceAndNamesTheTimeout) {
  const Json before = countsOf("c.counts");
  Harness h;
  h.limits.timeout_ms = 200;
  RunResult r = h.run(through("c.forever"));
  EXPECT_EQ(r.status, RunResult::Status::Error) << describe(r);
  EXPECT_EQ(r.error, "call: run exceeded its timeout of 200 ms");
  const Json after = countsOf("c.counts");
  EXPECT_EQ(after.at("cancels").get<long>() - before.at("cancels").get<long>(), 1);
  EXPECT_EQ(after.at("completes").get<long>() - before.at("completes").get<long>(), 1);
}

TEST(AsyncBlocks, AReturnValueElsewhereTellsThePendingBlockOnce) {
  const Json before = countsOf("c.counts");
  Harness h;
  RunResult r = h.run(
      agentOf({block("trigger", "api_trigger", Json::object(), {{"trigger", {"wait", "reply"}}}),
               block("wait", "c.forever"), block("reply", "return_value", {{"value", "fast"}})}));
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(r.return_value, Json("fast"));
  const Json after = countsOf("c.counts");
  EXPECT_EQ(after.at("cancels").get<long>() - before.at("cancels").get<long>(), 1);
}

TEST(AsyncBlocks, TheCppSdkBlockHearsACancelThroughOnCancel) {
  const Json before = countsOf("cpp.counts");
  Harness h;
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    h.control.cancel();
  });
  RunResult r = h.run(through("cpp.later", {{"ms", 60000}}));
  canceller.join();
  EXPECT_EQ(r.status, RunResult::Status::Cancelled) << describe(r);
  const Json after = countsOf("cpp.counts");
  EXPECT_EQ(after.at("cancels").get<long>() - before.at("cancels").get<long>(), 1);
  EXPECT_EQ(after.at("completes").get<long>() - before.at("completes").get<long>(), 0);
}

TEST(AsyncBlocks, AnAbi12PluginStillLoadsAndRunsOnTheBlockingPool) {
  const BlockType* type = kPlugins->catalog()->find("old.sleepy");
  ASSERT_NE(type, nullptr);
  EXPECT_FALSE(type->async) << "a 1.2 plugin cannot defer, whatever its manifest says";
  EXPECT_TRUE(kPlugins->catalog()->find("c.later")->async);
  Harness h;
  RunResult r = h.run(through("old.sleepy"));
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(r.return_value, Json("rested"));
}

TEST(AsyncBlocks, ASixteenWayFanOutStartsNoThread) {
  Harness warm;  // the engine's pools exist once anything ran
  ASSERT_EQ(warm.run(through("c.later")).status, RunResult::Status::Completed);
  Json fan_out = Json::array();
  std::vector<Json> blocks{block("trigger", "api_trigger", Json::object(), {{"trigger", fan_out}})};
  for (int i = 0; i < 16; ++i) {
    const std::string id = "wait" + std::to_string(i);
    blocks[0]["next"]["trigger"].push_back(id);
    blocks.push_back(block(id, "delay", {{"ms", 100}}, {{"success", "reply"}}));
  }
  blocks.push_back(block("reply", "return_value", {{"value", "joined"}}));
  const int before = threadCount();
  ThreadSampler sampler;
  Harness h;
  RunResult r = h.run(agentOf(blocks));
  const int most = sampler.stopNow();
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(r.return_value, Json("joined"));
  EXPECT_LE(most, before) << "threads before: " << before;
}

TEST(AsyncBlocks, TwoThousandStartedRunsWaitingInDelayHoldNoThreadEach) {
  Harness warm;
  ASSERT_EQ(warm.run(through("c.later")).status, RunResult::Status::Completed);
  constexpr int kRuns = 2000;
  auto agent = CompiledAgent::compile(
      "async", 1,
      agentOf({block("trigger", "api_trigger", Json::object(), {{"trigger", "wait"}}),
               block("wait", "delay", {{"ms", 2000}}, {{"success", "reply"}}),
               block("reply", "return_value", {{"value", "waited"}})}),
      kPlugins->catalog());
  RunOptions options;
  NoObserver observer;
  std::vector<RunControl> controls(kRuns);
  std::mutex mutex;
  std::condition_variable all_done;
  int done = 0, completed = 0;
  const int before = threadCount();
  ThreadSampler sampler;
  const auto start = Clock::now();
  auto payload = std::make_shared<const Json>(Json::object());
  for (int i = 0; i < kRuns; ++i)
    Runner::start(*agent, *agent->find("main"), payload, options, observer, controls[i],
                  [&](RunResult r) {
                    std::lock_guard<std::mutex> lock(mutex);
                    ++done;
                    if (r.status == RunResult::Status::Completed) ++completed;
                    all_done.notify_all();
                  });
  {
    std::unique_lock<std::mutex> lock(mutex);
    all_done.wait_for(lock, std::chrono::seconds(60), [&] { return done == kRuns; });
  }
  const auto elapsed = Clock::now() - start;
  const int most = sampler.stopNow();
  std::lock_guard<std::mutex> lock(mutex);
  ASSERT_EQ(done, kRuns);
  EXPECT_EQ(completed, kRuns);
  EXPECT_LT(elapsed, std::chrono::seconds(30));
  // Nothing waits on a thread: no thread starts (a small allowance for the test framework).
  EXPECT_LE(most, before + 2) << "threads before: " << before;
}

/// The first mapped file of this process whose path contains `part` (empty: none).
std::string mappedFile(const std::string& part) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    const auto at = line.find(part);
    if (at != std::string::npos) return line.substr(line.find('/'));
  }
  return {};
}

TEST(AsyncBlocks, AHotSwappedGenerationStaysLoadedUntilItsLastPendingCallCompletes) {
  std::string pattern = (fs::temp_directory_path() / "bp_async_swap_XXXXXX").string();
  ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
  const fs::path root = pattern;
  fs::create_directories(root / "plugins");
  const fs::path source = fs::path(BLUEPRINT_FIXTURE_PLUGIN_DIR) / "async_c/async_c.so";
  fs::copy_file(BLUEPRINT_PLUGIN_DIR + std::string("/core_blocks.so"),
                root / "plugins/core_blocks.so");
  fs::copy_file(source, root / "plugins/async_c.so");
  PluginManager manager(root / "plugins", root / "cache");
  ASSERT_TRUE(manager.reload().rejected.empty());
  const std::string old_copy = mappedFile((root / "cache").string() + "/async_c.g");
  ASSERT_FALSE(old_copy.empty());
  {
    // A run whose block outlives it: cancelled while pending, its call completes 300 ms later.
    Harness h;
    auto agent = CompiledAgent::compile("async", 1, through("c.stubborn"), manager.current());
    RunOptions options;
    RunResult result;
    std::mutex mutex;
    std::condition_variable cv;
    bool finished = false;
    Runner::start(*agent, *agent->find("main"), std::make_shared<const Json>(Json::object()),
                  options, h.observer, h.control, [&](RunResult r) {
                    std::lock_guard<std::mutex> lock(mutex);
                    result = std::move(r);
                    finished = true;
                    cv.notify_all();
                  });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    h.control.cancel();
    std::unique_lock<std::mutex> lock(mutex);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(20), [&] { return finished; }));
    EXPECT_EQ(result.status, RunResult::Status::Cancelled) << result.error;
  }
  // The run is over and nothing of ours holds the agent: swap in a new build.
  fs::copy_file(source, root / "plugins/async_c.so.tmp");
  fs::rename(root / "plugins/async_c.so.tmp", root / "plugins/async_c.so");
  ASSERT_TRUE(manager.reload().rejected.empty());
  EXPECT_EQ(mappedFile(old_copy), old_copy) << "the old generation unloaded under a pending call";
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (!mappedFile(old_copy).empty() && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(mappedFile(old_copy), "") << "the old generation never unloaded";
  std::error_code ec;
  fs::remove_all(root, ec);
}

}  // namespace
}  // namespace blueprint::host
