// SPDX-License-Identifier: Apache-2.0
// runner_test.cpp: the execution semantics of DESIGN §3, pinned through CompiledAgent::compile and
// Runner::run with the real core_blocks.so and test_blocks.so (tests/fixtures/plugins): ordering,
// fan-out and join, skip propagation, concurrency, errors, Return Value, environment, state,
// limits, cancellation, streaming, loops and the trace. No assertion depends on a tight timing:
// concurrency is checked structurally, and "quickly" means well under a long sleep.
#include "engine/runner.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/loaded_plugins.hpp"

namespace blueprint::host {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

/// core_blocks.so and test_blocks.so in one catalogue, loaded as the host loads plugins.
testing::LoadedPlugins* const kPlugins = testing::LoadedPlugins::add(
    {fs::path(BLUEPRINT_PLUGIN_DIR) / "core_blocks.so",
     fs::path(BLUEPRINT_FIXTURE_PLUGIN_DIR) / "test_blocks/test_blocks.so"});

/// Records what a run streams.
class Recorder final : public RunObserver {
 public:
  void onDelta(std::string_view text) override {
    std::lock_guard<std::mutex> lock(mutex_);
    deltas_.emplace_back(text);
  }
  void onWait() override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!waited_) waited_promise_.set_value();
    waited_ = true;
  }
  std::vector<std::string> deltas() {
    std::lock_guard<std::mutex> lock(mutex_);
    return deltas_;
  }
  /// Ready once the run first waits (a non-instant block starts, or a block sleeps).
  std::future<void> firstWait() { return waited_promise_.get_future(); }

 private:
  std::mutex mutex_;
  std::vector<std::string> deltas_;
  bool waited_ = false;
  std::promise<void> waited_promise_;
};

/// An agent with one blueprint `main` made of `blocks` (JSON text).
Json agentWith(const char* blocks) {
  return {{"name", "runner test"},
          {"blueprints", Json::array({{{"id", "main"}, {"blocks", Json::parse(blocks)}}})}};
}

/// Compiles `agent` and runs blueprint `blueprint_id` with `payload`.
struct Harness {
  RunLimits limits;
  /// Names `@{$NAME}` may read (the host config's `env_allow`).
  std::set<std::string> env_allow;
  Recorder observer;
  RunControl control;

  RunResult run(const Json& agent, const Json& payload = Json::object(),
                const std::string& blueprint_id = "main") {
    auto compiled = CompiledAgent::compile("runner_test", 1, agent, kPlugins->catalog());
    const CompiledBlueprint* blueprint = compiled->find(blueprint_id);
    if (blueprint == nullptr) throw std::runtime_error("no blueprint " + blueprint_id);
    RunOptions options;
    options.limits = limits;
    options.env_allow = &env_allow;
    return Runner::run(*compiled, *blueprint, payload, options, observer, control);
  }
};

RunResult runOnce(const Json& agent, const Json& payload = Json::object()) {
  Harness h;
  return h.run(agent, payload);
}

/// The block ids of the trace, in the order they finished.
std::vector<std::string> tracedBlocks(const RunResult& r) {
  std::vector<std::string> ids;
  for (const Json& e : r.trace) ids.push_back(e.at("block").get<std::string>());
  return ids;
}

std::size_t countOf(const std::vector<std::string>& ids, const std::string& id) {
  return static_cast<std::size_t>(std::count(ids.begin(), ids.end(), id));
}

std::ptrdiff_t positionOf(const std::vector<std::string>& ids, const std::string& id) {
  return std::find(ids.begin(), ids.end(), id) - ids.begin();
}

/// The trace entry of `id` (null when the block did not execute).
Json traceOf(const RunResult& r, const std::string& id) {
  for (const Json& e : r.trace)
    if (e.at("block") == id) return e;
  return nullptr;
}

const char* statusName(RunResult::Status s) {
  switch (s) {
    case RunResult::Status::Completed:
      return "completed";
    case RunResult::Status::Error:
      return "error";
    case RunResult::Status::Cancelled:
      return "cancelled";
  }
  return "?";
}

/// One line with everything needed to understand a failed expectation.
std::string describe(const RunResult& r) {
  return std::string(statusName(r.status)) + " error='" + r.error +
         "' return=" + (r.return_value ? r.return_value->dump() : "none") +
         " trace=" + r.trace.dump();
}

std::int64_t msSince(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

// ---- scheduling ----

TEST(Runner, RunsALinearChainInOrder) {
  RunResult r = runOnce(agentWith(R"([
      {"id": "trigger", "type": "api_trigger", "next": {"trigger": "save"}},
      {"id": "save", "type": "set_state", "fields": {"key": "name", "value": "@{result.inputs.name}"},
       "next": {"success": "greet"}},
      {"id": "greet", "type": "test.echo", "fields": {"value": "Hello, @{state.name}"},
       "next": {"success": "reply"}},
      {"id": "reply", "type": "return_value", "fields": {"value": "@{result}"}}])"),
                        {{"inputs", {{"name", "Ada"}}}});
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(r.return_value, Json("Hello, Ada"));
  EXPECT_EQ(tracedBlocks(r), (std::vector<std::string>{"trigger", "save", "greet", "reply"}));
}

TEST(Runner, RunsAJoinOnceAfterAllItsPredecessors) {
  RunResult r = runOnce(agentWith(R"([
      {"id": "trigger", "type": "api_trigger", "next": {"trigger": ["left", "right"]}},
      {"id": "left", "type": "test.echo", "fields": {"value": "L"}, "next": {"success": "join"}},
      {"id": "right", "type": "test.echo", "fields": {"value": "R"}, "next": {"success": "join"}},
      {"id": "join", "type": "test.echo", "fields": {"value": "@{results.left}+@{results.right}"},
       "next": {"success": "reply"}},
      {"id": "reply", "type": "return_value", "fields": {"value": "@{result}"}}])"));
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(r.return_value, Json("L+R"));
  const auto ids = tracedBlocks(r);
  EXPECT_EQ(countOf(ids, "join"), 1u) << describe(r);
  EXPECT_GT(positionOf(ids, "join"), positionOf(ids, "left"));
  EXPECT_GT(positionOf(ids, "join"), positionOf(ids, "right"));
}

/// choose ─a→ a1 → a2 ─┐
///        └b→ b1 → b2 ─┴→ join → reply;  b2 → b3 (only reachable through b)
const char* kBranches = R"([
    {"id": "trigger", "type": "api_trigger", "next": {"trigger": "choose"}},
    {"id": "choose", "type": "test.choose", "fields": {"state": "@{payload.inputs.pick}"},
     "next": {"a": "a1", "b": "b1"}},
    {"id": "a1", "type": "test.echo", "fields": {"value": "a1"}, "next": {"success": "a2"}},
    {"id": "a2", "type": "test.echo", "fields": {"value": "from a"}, "next": {"success": "join"}},
    {"id": "b1", "type": "test.echo", "fields": {"value": "b1"}, "next": {"success": "b2"}},
    {"id": "b2", "type": "test.echo", "fields": {"value": "from b"},
     "next": {"success": ["join", "b3"]}},
    {"id": "b3", "type": "test.echo", "fields": {"value": "b3"}},
    {"id": "join", "type": "test.echo", "fields": {"value": "joined @{result}"},
     "next": {"success": "reply"}},
    {"id": "reply", "type": "return_value", "fields": {"value": "@{result}"}}])";

TEST(Runner, SkipsTheUntakenBranchAndItsDescendants) {
  RunResult r = runOnce(agentWith(kBranches), {{"inputs", {{"pick", "a"}}}});
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  const auto ids = tracedBlocks(r);
  for (const char* skipped : {"b1", "b2", "b3"}) EXPECT_EQ(countOf(ids, skipped), 0u) << skipped;
  for (const char* ran : {"trigger", "choose", "a1", "a2", "join", "reply"})
    EXPECT_EQ(countOf(ids, ran), 1u) << ran << ": " << describe(r);
  EXPECT_EQ(traceOf(r, "choose").at("end_state"), "a");
}

TEST(Runner, RunsAJoinAfterASkipWhenOneEdgeFired) {
  // `join` has one predecessor skipped (a2) and one that fired (b2); @{result} is b2's output.
  RunResult r = runOnce(agentWith(kBranches), {{"inputs", {{"pick", "b"}}}});
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(r.return_value, Json("joined from b"));
  const auto ids = tracedBlocks(r);
  EXPECT_EQ(countOf(ids, "a1"), 0u);
  EXPECT_EQ(countOf(ids, "a2"), 0u);
  EXPECT_EQ(countOf(ids, "join"), 1u);
}

TEST(Runner, SkipsABlockWhoseOnlyEdgeIsFromAnotherEndState) {
  // `fail` ends in error; `after` hangs off its success edge and is skipped, `handler` runs.
  RunResult r = runOnce(agentWith(R"([
      {"id": "trigger", "type": "api_trigger", "next": {"trigger": "fail"}},
      {"id": "fail", "type": "test.fail", "fields": {"message": "no"},
       "next": {"success": "after", "error": "handler"}},
      {"id": "after", "type": "test.echo", "fields": {"value": 1}, "next": {"success": "after2"}},
      {"id": "after2", "type": "test.echo", "fields": {"value": 2}},
      {"id": "handler", "type": "test.echo", "fields": {"value": "handled"}}])"));
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(tracedBlocks(r), (std::vector<std::string>{"trigger", "fail", "handler"}));
}

TEST(Runner, LetsIndependentBranchesMeet) {
  // Each rendezvous block waits (up to 20 s) for the other's flag: only concurrent runs meet.
  // (This replaces a check that two 200 ms sleeps overlapped, which a loaded machine could
  // fail by starting the second lane late: proof by meeting needs no clock.)
  RunResult r = runOnce(agentWith(R"([
      {"id": "trigger", "type": "api_trigger", "next": {"trigger": ["r1", "r2"]}},
      {"id": "r1", "type": "test.rendezvous", "fields": {"name": "one", "wait_for": "two"},
       "next": {"success": "reply"}},
      {"id": "r2", "type": "test.rendezvous", "fields": {"name": "two", "wait_for": "one"},
       "next": {"success": "reply"}},
      {"id": "reply", "type": "return_value", "fields": {"value": "@{results.r1} @{results.r2}"}}])"));
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(r.return_value, Json("met met"));
}

// ---- errors ----

TEST(Runner, GoesOnAfterAHandledError) {
  RunResult r = runOnce(agentWith(R"([
      {"id": "trigger", "type": "api_trigger", "next": {"trigger": "charge"}},
      {"id": "charge", "type": "test.fail", "fields": {"message": "card declined"},
       "next": {"error": "explain"}},
      {"id": "explain", "type": "return_value", "fields": {"value": "handled: @{message}"}}])"));
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(r.return_value, Json("handled: card declined"));
  const Json charge = traceOf(r, "charge");
  EXPECT_EQ(charge.at("end_state"), "error");
  EXPECT_EQ(charge.at("error"), "card declined");
}

TEST(Runner, StopsOnAnUnhandledErrorWithTheBlockId) {
  RunResult r = runOnce(agentWith(R"([
      {"id": "trigger", "type": "api_trigger", "next": {"trigger": "charge"}},
      {"id": "charge", "type": "test.fail", "fields": {"message": "card declined"},
       "next": {"success": "reply"}},
      {"id": "reply", "type": "return_value", "fields": {"value": "paid"}}])"));
  EXPECT_EQ(r.status, RunResult::Status::Error) << describe(r);
  EXPECT_EQ(r.error, "charge: card declined");
  EXPECT_FALSE(r.return_value.has_value());
  EXPECT_EQ(countOf(tracedBlocks(r), "reply"), 0u);
}

TEST(Runner, TurnsAThrowingBlockIntoItsErrorEndState) {
  RunResult unhandled = runOnce(agentWith(R"([
      {"id": "trigger", "type": "api_trigger", "next": {"trigger": "thrower"}},
      {"id": "thrower", "type": "test.throws"}])"));
  EXPECT_EQ(unhandled.status, RunResult::Status::Error) << describe(unhandled);
  EXPECT_EQ(unhandled.error, "thrower: boom");
  EXPECT_EQ(traceOf(unhandled, "thrower").at("end_state"), "error");

  RunResult handled = runOnce(agentWith(R"([
      {"id": "trigger", "type": "api_trigger", "next": {"trigger": "thrower"}},
      {"id": "thrower", "type": "test.throws", "next": {"error": "reply"}},
      {"id": "reply", "type": "return_value", "fields": {"value": "@{message}"}}])"));
  ASSERT_EQ(handled.status, RunResult::Status::Completed) << describe(handled);
  EXPECT_EQ(handled.return_value, Json("boom"));
}

// ---- Return Value ----

TEST(Runner, FirstReturnValueWinsAndCancelsTheOtherBranch) {
  const auto start = Clock::now();
  RunResult r = runOnce(agentWith(R"([
      {"id": "trigger", "type": "api_trigger", "next": {"trigger": ["fast", "slow"]}},
      {"id": "fast", "type": "return_value", "fields": {"value": "fast"}},
      {"id": "slow", "type": "test.sleep", "fields": {"ms": 60000}, "next": {"success": "late"}},
      {"id": "late", "type": "return_value", "fields": {"value": "slow"}}])"));
  const auto elapsed_ms = msSince(start);
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(r.return_value, Json("fast"));
  EXPECT_LT(elapsed_ms, 30000) << "the run waited for the slow branch";
  const Json slow = traceOf(r, "slow");  // absent when it never got to start
  if (!slow.is_null()) {
    EXPECT_EQ(slow.at("end_state"), "cancelled") << describe(r);
  }
  EXPECT_EQ(countOf(tracedBlocks(r), "late"), 0u);
}

TEST(Runner, AcceptsEmptyStringListAndObjectAsReturnValues) {
  const Json agent = agentWith(R"([
      {"id": "trigger", "type": "api_trigger", "next": {"trigger": "reply"}},
      {"id": "reply", "type": "return_value", "fields": {"value": "@{payload.inputs.v}"}}])");
  for (const Json& v : {Json(""), Json::array(), Json::object()}) {
    RunResult r = runOnce(agent, {{"inputs", {{"v", v}}}});
    ASSERT_EQ(r.status, RunResult::Status::Completed) << v.dump() << ": " << describe(r);
    EXPECT_EQ(r.return_value, v);
  }
  // Literals too (not only values that arrive through templates).
  for (const char* literal : {"\"\"", "[]", "{}"}) {
    const std::string blocks =
        std::string(R"([{"id": "trigger", "type": "api_trigger", "next": {"trigger": "reply"}},
                        {"id": "reply", "type": "return_value", "fields": {"value": )") +
        literal + "}}]";
    RunResult r = runOnce(agentWith(blocks.c_str()));
    ASSERT_EQ(r.status, RunResult::Status::Completed) << literal << ": " << describe(r);
    EXPECT_EQ(r.return_value, Json::parse(literal));
  }
}

TEST(Runner, ReadsOnlyAllowListedEnvironmentVariables) {
  ASSERT_EQ(::setenv("BP_RUNNER_TEST_ALLOWED", "visible", 1), 0);
  ASSERT_EQ(::setenv("BP_RUNNER_TEST_SECRET", "hidden", 1), 0);
  const Json agent = agentWith(R"([
      {"id": "trigger", "type": "api_trigger", "next": {"trigger": "reply"}},
      {"id": "reply", "type": "return_value", "fields": {"value": {
        "full": "@{$BP_RUNNER_TEST_ALLOWED}", "text": "a=@{$BP_RUNNER_TEST_ALLOWED}",
        "secret": "@{$BP_RUNNER_TEST_SECRET}", "secret_text": "s=@{$BP_RUNNER_TEST_SECRET}",
        "unset": "@{$BP_RUNNER_TEST_UNSET}"}}}])");
  Harness h;
  h.env_allow = {"BP_RUNNER_TEST_ALLOWED", "BP_RUNNER_TEST_UNSET"};
  RunResult r = h.run(agent);
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(r.return_value, Json::parse(R"({"full": "visible", "text": "a=visible",
      "secret": null, "secret_text": "s=null", "unset": null})"));
  // With no allow-list at all, nothing is readable.
  Harness none;
  r = none.run(agent);
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(r.return_value->at("full"), nullptr);
  ::unsetenv("BP_RUNNER_TEST_ALLOWED");
  ::unsetenv("BP_RUNNER_TEST_SECRET");
}

TEST(Runner, FailsOnANullReturnValue) {
  RunResult r = runOnce(agentWith(R"([
      {"id": "trigger", "type": "api_trigger", "next": {"trigger": "reply"}},
      {"id": "reply", "type": "return_value", "fields": {"value": "@{payload.inputs.missing}"}}])"),
                        {{"inputs", Json::object()}});
  EXPECT_EQ(r.status, RunResult::Status::Error) << describe(r);
  EXPECT_EQ(r.error, "reply: value is null");
  EXPECT_FALSE(r.return_value.has_value());
}

TEST(Runner, CompletesWithoutAReturnValue) {
  Harness h;
  RunResult r = h.run(agentWith(R"([
      {"id": "trigger", "type": "api_trigger", "next": {"trigger": "work"}},
      {"id": "work", "type": "test.echo", "fields": {"value": "done"}}])"));
  EXPECT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_FALSE(r.return_value.has_value());
  EXPECT_EQ(r.error, "");
  EXPECT_TRUE(h.observer.deltas().empty());
}

// ---- environment and state ----

TEST(Runner, ExposesResultsPayloadAndResult) {
  RunResult r = runOnce(agentWith(R"([
      {"id": "trigger", "type": "api_trigger", "next": {"trigger": "a"}},
      {"id": "a", "type": "test.echo", "fields": {"value": {"id": 7, "tags": ["x", "y"]}},
       "next": {"success": "b"}},
      {"id": "b", "type": "test.echo", "fields": {"value": "b-out"}, "next": {"success": "reply"}},
      {"id": "reply", "type": "return_value", "fields": {"value": {
        "a_id": "@{results.a.id}", "a_last_tag": "@{results.a.tags.-1}",
        "trigger": "@{results.trigger.inputs.q}", "payload": "@{payload.inputs.q}",
        "result": "@{result}", "missing": "@{results.nope.x}"}}}])"),
                        {{"inputs", {{"q", "hi"}}}});
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(*r.return_value, Json::parse(R"({"a_id": 7, "a_last_tag": "y", "trigger": "hi",
      "payload": "hi", "result": "b-out", "missing": null})"));
}

TEST(Runner, UsesTheTriggerDefaultResultForAnEmptyPayload) {
  RunResult r = runOnce(agentWith(R"([
      {"id": "trigger", "type": "api_trigger",
       "fields": {"default_result": "{\"inputs\":{\"user_id\":\"123\"}}"}, "next": {"trigger": "reply"}},
      {"id": "reply", "type": "return_value", "fields": {"value": "user @{result.inputs.user_id}"}}])"));
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(r.return_value, Json("user 123"));
}

TEST(Runner, SetStateCreatesParentsOfADotPath) {
  RunResult r = runOnce(agentWith(R"([
      {"id": "trigger", "type": "api_trigger", "next": {"trigger": "save"}},
      {"id": "save", "type": "set_state", "fields": {"key": "order.user.id", "value": 42},
       "next": {"success": "reply"}},
      {"id": "reply", "type": "return_value", "fields": {"value": "@{state}"}}])"));
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(*r.return_value, Json::parse(R"({"order": {"user": {"id": 42}}})"));
}

TEST(Runner, SetStateWithAnEmptyKeyFails) {
  RunResult r = runOnce(agentWith(R"([
      {"id": "trigger", "type": "api_trigger", "next": {"trigger": "save"}},
      {"id": "save", "type": "set_state", "fields": {"key": "@{payload.inputs.key}", "value": 1},
       "next": {"error": "reply"}},
      {"id": "reply", "type": "return_value", "fields": {"value": "@{message}"}}])"),
                        {{"inputs", {{"key", ""}}}});
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(r.return_value, Json("key is empty"));
}

TEST(Runner, SharesStateWithSubRuns) {
  const Json agent = Json::parse(R"({"name": "sub-runs", "blueprints": [
    {"id": "main", "blocks": [
      {"id": "trigger", "type": "api_trigger", "next": {"trigger": "save"}},
      {"id": "save", "type": "set_state", "fields": {"key": "shared.from_main", "value": "m"},
       "next": {"success": "call"}},
      {"id": "call", "type": "test.call", "fields": {"blueprint_id": "sub", "payload": {"n": 2}},
       "next": {"success": "reply"}},
      {"id": "reply", "type": "return_value",
       "fields": {"value": {"call": "@{result}", "state": "@{state.shared}"}}}]},
    {"id": "sub", "blocks": [
      {"id": "trigger", "type": "api_trigger", "next": {"trigger": "save"}},
      {"id": "save", "type": "set_state", "fields": {"key": "shared.from_sub", "value": "@{payload.n}"},
       "next": {"success": "reply"}},
      {"id": "reply", "type": "return_value", "fields": {"value": "@{state.shared.from_main}"}}]}]})");
  RunResult r = runOnce(agent);
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  // The sub-run read the parent's state, its Return Value ended only the sub-run, and the parent
  // sees what the sub-run wrote.
  EXPECT_EQ(*r.return_value,
            Json::parse(R"({"call": "m", "state": {"from_main": "m", "from_sub": 2}})"));
  // Trace entries of the sub-run name their blueprint and depth.
  bool saw_sub = false;
  for (const Json& e : r.trace)
    if (e.value("blueprint", "") == "sub") {
      saw_sub = true;
      EXPECT_EQ(e.at("depth"), 1);
    }
  EXPECT_TRUE(saw_sub) << describe(r);
}

TEST(Runner, StartsEveryRunWithEmptyState) {
  const Json agent = agentWith(R"([
      {"id": "trigger", "type": "api_trigger", "next": {"trigger": "before"}},
      {"id": "before", "type": "test.echo", "fields": {"value": "@{state}"}, "next": {"success": "save"}},
      {"id": "save", "type": "set_state", "fields": {"key": "seen", "value": true},
       "next": {"success": "reply"}},
      {"id": "reply", "type": "return_value", "fields": {"value": "@{results.before}"}}])");
  Harness h;  // the same compiled agent shape, two runs
  for (int i = 0; i < 2; ++i) {
    RunResult r = h.run(agent);
    ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
    EXPECT_EQ(*r.return_value, Json::object()) << "run " << i;
  }
}

// ---- limits ----

TEST(Runner, StopsAtMaxSteps) {
  Json items = Json::array();
  for (int i = 0; i < 100; ++i) items.push_back(i);
  Json agent = agentWith(R"([
      {"id": "trigger", "type": "api_trigger", "next": {"trigger": "each"}},
      {"id": "each", "type": "test.each", "fields": {"items": []},
       "next": {"loop": "body", "success": "reply"}},
      {"id": "body", "type": "test.echo", "fields": {"value": "@{item}"}},
      {"id": "reply", "type": "return_value", "fields": {"value": "@{result}"}}])");
  agent["blueprints"][0]["blocks"][1]["fields"]["items"] = items;
  Harness h;
  h.limits.max_steps = 20;
  RunResult r = h.run(agent);
  EXPECT_EQ(r.status, RunResult::Status::Error) << describe(r);
  EXPECT_NE(r.error.find("run exceeded its limit of 20 steps"), std::string::npos) << r.error;
  EXPECT_LE(r.trace.size(), 21u);
}

TEST(Runner, StopsAtTheTimeoutQuickly) {
  Harness h;
  h.limits.timeout_ms = 200;
  const auto start = Clock::now();
  RunResult r = h.run(agentWith(R"([
      {"id": "trigger", "type": "api_trigger", "next": {"trigger": "wait"}},
      {"id": "wait", "type": "test.sleep", "fields": {"ms": 60000}, "next": {"success": "reply"}},
      {"id": "reply", "type": "return_value", "fields": {"value": "woke"}}])"));
  EXPECT_LT(msSince(start), 30000) << "the timeout did not cut the sleep short";
  EXPECT_EQ(r.status, RunResult::Status::Error) << describe(r);
  EXPECT_NE(r.error.find("wait: run exceeded its timeout of 200 ms"), std::string::npos) << r.error;
}

TEST(Runner, StopsAtMaxDepth) {
  const Json agent = Json::parse(R"({"blueprints": [{"id": "rec", "blocks": [
      {"id": "trigger", "type": "api_trigger", "next": {"trigger": "again"}},
      {"id": "again", "type": "test.call", "fields": {"blueprint_id": "rec"},
       "next": {"success": "reply"}},
      {"id": "reply", "type": "return_value", "fields": {"value": "@{result}"}}]}]})");
  Harness h;
  h.limits.max_depth = 4;
  RunResult r = h.run(agent, Json::object(), "rec");
  EXPECT_EQ(r.status, RunResult::Status::Error) << describe(r);
  EXPECT_EQ(r.error.rfind("again: ", 0), 0u) << r.error;
  EXPECT_NE(r.error.find("nesting exceeds the max depth of 4"), std::string::npos) << r.error;
}

TEST(Runner, StopsAtMaxOutputBytes) {
  Harness h;
  h.limits.max_output_bytes = 100;
  Json agent = agentWith(R"([
      {"id": "trigger", "type": "api_trigger", "next": {"trigger": "big"}},
      {"id": "big", "type": "test.echo", "fields": {"value": ""}}])");
  agent["blueprints"][0]["blocks"][1]["fields"]["value"] = std::string(200, 'x');
  RunResult r = h.run(agent);
  EXPECT_EQ(r.status, RunResult::Status::Error) << describe(r);
  EXPECT_EQ(r.error, "big: output of 202 bytes exceeds the run's max output size of 100 bytes");
}

TEST(Runner, NamesTheOutputLimitWhenABlockWithCustomEndStatesExceedsIt) {
  // api_trigger ends in `trigger` and declares no `error`: the size error must still say what
  // went wrong, not that the block ended in an undeclared end state.
  Harness h;
  h.limits.max_output_bytes = 100;
  RunResult r = h.run(agentWith(R"([
      {"id": "trigger", "type": "api_trigger", "next": {"trigger": "reply"}},
      {"id": "reply", "type": "return_value", "fields": {"value": "@{result}"}}])"),
                      {{"inputs", {{"big", std::string(200, 'x')}}}});
  EXPECT_EQ(r.status, RunResult::Status::Error) << describe(r);
  EXPECT_NE(r.error.find("trigger: output of "), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("exceeds the run's max output size of 100 bytes"), std::string::npos)
      << r.error;
}

TEST(Runner, BoundsStreamedDeltasByMaxOutputBytes) {
  Harness h;
  h.limits.max_output_bytes = 100;
  const std::string part(60, 'd');
  Json agent = agentWith(R"([
      {"id": "trigger", "type": "api_trigger", "next": {"trigger": "emit"}},
      {"id": "emit", "type": "test.emit", "fields": {"parts": []}}])");
  agent["blueprints"][0]["blocks"][1]["fields"]["parts"] = {part, part, part};
  RunResult r = h.run(agent);
  EXPECT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  std::size_t streamed = 0;
  for (const auto& d : h.observer.deltas()) streamed += d.size();
  EXPECT_LE(streamed, 100u);
  EXPECT_EQ(h.observer.deltas(), (std::vector<std::string>{part}));
}

// ---- cancellation and streaming ----

TEST(Runner, CancelFromAnotherThreadEndsASleepingRun) {
  Harness h;
  std::future<void> waiting = h.observer.firstWait();
  const Json agent = agentWith(R"([
      {"id": "trigger", "type": "api_trigger", "next": {"trigger": "wait"}},
      {"id": "wait", "type": "test.sleep", "fields": {"ms": 60000}, "next": {"success": "reply"}},
      {"id": "reply", "type": "return_value", "fields": {"value": "woke"}}])");
  const auto start = Clock::now();
  std::future<RunResult> run = std::async(std::launch::async, [&] { return h.run(agent); });
  ASSERT_EQ(waiting.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  h.control.cancel();
  ASSERT_EQ(run.wait_for(std::chrono::seconds(30)), std::future_status::ready)
      << "cancel did not end the run";
  RunResult r = run.get();
  EXPECT_LT(msSince(start), 30000);
  EXPECT_EQ(r.status, RunResult::Status::Cancelled) << describe(r);
  EXPECT_FALSE(r.return_value.has_value());
  EXPECT_EQ(traceOf(r, "wait").at("end_state"), "cancelled") << describe(r);
  EXPECT_EQ(countOf(tracedBlocks(r), "reply"), 0u);
}

TEST(Runner, StreamsDeltasToTheObserverInOrder) {
  Harness h;
  RunResult r = h.run(agentWith(R"([
      {"id": "trigger", "type": "api_trigger", "next": {"trigger": "emit"}},
      {"id": "emit", "type": "test.emit", "fields": {"parts": ["Hel", "lo", ", ", "Ada"]},
       "next": {"success": "reply"}},
      {"id": "reply", "type": "return_value", "fields": {"value": "@{result}"}}])"));
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(r.return_value, Json(4));
  EXPECT_EQ(h.observer.deltas(), (std::vector<std::string>{"Hel", "lo", ", ", "Ada"}));
}

// ---- loops ----

TEST(Runner, RunsALoopBranchPerItemWithItemAndItemId) {
  // The Return Value inside the branch ends only its iteration (and cancels that iteration's
  // slow sleep); the run goes on behind the loop's success edge.
  const auto start = Clock::now();
  RunResult r = runOnce(agentWith(R"([
      {"id": "trigger", "type": "api_trigger", "next": {"trigger": "each"}},
      {"id": "each", "type": "test.each", "fields": {"items": ["x", "y", "z"]},
       "next": {"loop": "label", "success": "reply"}},
      {"id": "label", "type": "test.echo", "fields": {"value": "@{itemId}:@{item}"},
       "next": {"success": ["iteration_result", "slow"]}},
      {"id": "iteration_result", "type": "return_value", "fields": {"value": "@{result}"}},
      {"id": "slow", "type": "test.sleep", "fields": {"ms": 60000}},
      {"id": "reply", "type": "return_value", "fields": {"value": {"list": "@{result}"}}}])"));
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(*r.return_value, Json::parse(R"({"list": ["0:x", "1:y", "2:z"]})"));
  EXPECT_LT(msSince(start), 30000) << "an iteration waited for its slow block";
  const auto ids = tracedBlocks(r);
  EXPECT_EQ(countOf(ids, "label"), 3u);
  EXPECT_EQ(countOf(ids, "iteration_result"), 3u);
  EXPECT_EQ(countOf(ids, "reply"), 1u);
  for (const Json& e : r.trace)
    if (e.at("block") == "label") {
      EXPECT_EQ(e.at("depth"), 1);
    }
}

TEST(Runner, FailsALoopWhoseIterationFails) {
  RunResult r = runOnce(agentWith(R"([
      {"id": "trigger", "type": "api_trigger", "next": {"trigger": "each"}},
      {"id": "each", "type": "test.each", "fields": {"items": [1, 2]}, "next": {"loop": "body"}},
      {"id": "body", "type": "test.fail", "fields": {"message": "bad item @{item}"}}])"));
  EXPECT_EQ(r.status, RunResult::Status::Error) << describe(r);
  EXPECT_EQ(r.error, "each: body: bad item 1");
}

// ---- trace ----

TEST(Runner, TracesEveryExecutedBlockWithEndStateAndDuration) {
  RunResult r = runOnce(agentWith(kBranches), {{"inputs", {{"pick", "a"}}}});
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  ASSERT_EQ(r.trace.size(), 6u) << describe(r);  // trigger choose a1 a2 join reply
  for (const Json& e : r.trace) {
    EXPECT_TRUE(e.at("block").is_string());
    EXPECT_TRUE(e.at("type").is_string());
    EXPECT_TRUE(e.at("end_state").is_string());
    ASSERT_TRUE(e.at("duration_us").is_number_integer()) << e.dump();
    EXPECT_GE(e.at("duration_us").get<std::int64_t>(), 0);
  }
  EXPECT_EQ(traceOf(r, "trigger").at("end_state"), "trigger");
  EXPECT_EQ(traceOf(r, "trigger").at("type"), "api_trigger");
  EXPECT_EQ(traceOf(r, "choose").at("end_state"), "a");
  EXPECT_EQ(traceOf(r, "reply").at("end_state"), "success");
}

TEST(Runner, TracesStartOffsetsOnWhichConcurrentBranchesOverlap) {
  // Each rendezvous block waits for the other to start, so their [start, end] intervals must
  // overlap; the chain around them stays in order.
  RunResult r = runOnce(agentWith(R"([
      {"id": "trigger", "type": "api_trigger", "next": {"trigger": ["r1", "r2"]}},
      {"id": "r1", "type": "test.rendezvous", "fields": {"name": "one", "wait_for": "two"},
       "next": {"success": "reply"}},
      {"id": "r2", "type": "test.rendezvous", "fields": {"name": "two", "wait_for": "one"},
       "next": {"success": "reply"}},
      {"id": "reply", "type": "return_value", "fields": {"value": "met"}}])"));
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  auto startOf = [&](const char* id) { return traceOf(r, id).at("start_us").get<std::int64_t>(); };
  auto endOf = [&](const char* id) {
    return startOf(id) + traceOf(r, id).at("duration_us").get<std::int64_t>();
  };
  for (const Json& e : r.trace) EXPECT_GE(e.at("start_us").get<std::int64_t>(), 0) << e.dump();
  EXPECT_LT(startOf("r1"), endOf("r2")) << describe(r);
  EXPECT_LT(startOf("r2"), endOf("r1")) << describe(r);
  EXPECT_GE(startOf("r1"), endOf("trigger")) << describe(r);
  EXPECT_GE(startOf("reply"), std::max(endOf("r1"), endOf("r2"))) << describe(r);
}

TEST(Runner, TracesNestedBlocksFromTheTopLevelRunsStart) {
  // Loop iterations are sub-runs: their offsets count from the top-level run's start, inside
  // their loop block's interval.
  RunResult r = runOnce(agentWith(R"([
      {"id": "trigger", "type": "api_trigger", "next": {"trigger": "each"}},
      {"id": "each", "type": "test.each", "fields": {"items": ["x", "y"]},
       "next": {"loop": "label", "success": "reply"}},
      {"id": "label", "type": "test.echo", "fields": {"value": "@{item}"}},
      {"id": "reply", "type": "return_value", "fields": {"value": "@{result}"}}])"));
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  const Json each = traceOf(r, "each");
  const std::int64_t each_start = each.at("start_us").get<std::int64_t>();
  const std::int64_t each_end = each_start + each.at("duration_us").get<std::int64_t>();
  int nested = 0;
  for (const Json& e : r.trace) {
    if (e.at("block") != "label") continue;
    ++nested;
    const std::int64_t start = e.at("start_us").get<std::int64_t>();
    EXPECT_GE(start, each_start) << describe(r);
    // + 1: each offset and duration is truncated to whole microseconds on its own.
    EXPECT_LE(start + e.at("duration_us").get<std::int64_t>(), each_end + 1) << describe(r);
  }
  EXPECT_EQ(nested, 2);
}

}  // namespace
}  // namespace blueprint::host
