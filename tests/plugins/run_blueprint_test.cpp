// SPDX-License-Identifier: Apache-2.0
// run_blueprint_test.cpp: the `run_blueprint` block through the real engine and core_blocks.so
// (DESIGN §3 "Fine points", §8): `success` with the sub-run's Return Value, `error` for an
// unknown blueprint, a failing sub-run or nesting past the max depth (32).
#include <gtest/gtest.h>

#include <vector>

#include "block_harness.hpp"

namespace blueprint::host::block_tests {
namespace {

/// `main`: trigger → call(blueprint_id, payload) → reply({"result": @{result}, "state": …}),
/// call's `error` routed to on_error; plus the given sub-blueprints.
Json agentCalling(const Json& call_fields, const std::vector<Json>& sub_blueprints) {
  Json main_blocks = Json::parse(R"([
    {"id": "trigger", "type": "api_trigger", "next": {"trigger": "call"}},
    {"id": "call", "type": "run_blueprint", "fields": {},
     "next": {"success": "reply", "error": "on_error"}},
    {"id": "reply", "type": "return_value",
     "fields": {"value": {"result": "@{result}", "state": "@{state}"}}},
    {"id": "on_error", "type": "return_value", "fields": {"value": {"error": "@{message}"}}}])");
  main_blocks[1]["fields"] = call_fields;
  Json blueprints = Json::array({{{"id", "main"}, {"blocks", main_blocks}}});
  for (const Json& b : sub_blueprints) blueprints.push_back(b);
  return blueprints;
}

/// `greet`: trigger → remember (state.greeted) → return "Hello, <payload.inputs.name>".
const Json kGreet = Json::parse(R"({"id": "greet", "blocks": [
  {"id": "trigger", "type": "api_trigger", "next": {"trigger": "remember"}},
  {"id": "remember", "type": "set_state", "fields": {"key": "greeted", "value": "@{result.inputs.name}"},
   "next": {"success": "reply"}},
  {"id": "reply", "type": "return_value", "fields": {"value": "Hello, @{payload.inputs.name}"}}]})");

TEST(RunBlueprint, ReturnsTheSubRunsReturnValueAndSharesState) {
  BlockRun run;
  RunResult r =
      run.runAgent(agentCalling({{"blueprint_id", "greet"},
                                 {"payload", R"({"inputs": {"name": "@{result.inputs.who}"}})"}},
                                {kGreet}),
                   "main", inputs({{"who", "Ada"}}));
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(r.return_value, Json::parse(R"({"result":"Hello, Ada","state":{"greeted":"Ada"}})"));
  // The sub-run's blocks are in the trace, marked with their blueprint and depth.
  const std::vector<Json> sub = traceOf(r, "remember");
  ASSERT_EQ(sub.size(), 1u) << describe(r);
  EXPECT_EQ(sub[0].at("blueprint"), "greet");
  EXPECT_EQ(sub[0].at("depth"), 1);
}

TEST(RunBlueprint, PassesAPayloadThatIsNotJsonAsText) {
  const Json echo = Json::parse(R"({"id": "echo", "blocks": [
    {"id": "trigger", "type": "api_trigger", "next": {"trigger": "reply"}},
    {"id": "reply", "type": "return_value", "fields": {"value": {"payload": "@{payload}", "result": "@{result}"}}}]})");
  BlockRun run;
  RunResult r = run.runAgent(
      agentCalling({{"blueprint_id", "echo"}, {"payload", "plain @{result.inputs.x}"}}, {echo}),
      "main", inputs({{"x", 1}}));
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(r.return_value->at("result"),
            Json::parse(R"({"payload":"plain 1","result":"plain 1"})"));
}

TEST(RunBlueprint, ASubRunWithoutAReturnValueGivesNull) {
  const Json quiet = Json::parse(R"({"id": "quiet", "blocks": [
    {"id": "trigger", "type": "api_trigger", "next": {"trigger": "note"}},
    {"id": "note", "type": "set_state", "fields": {"key": "quiet", "value": "yes"}}]})");
  BlockRun run;
  RunResult r = run.runAgent(agentCalling({{"blueprint_id", "quiet"}}, {quiet}), "main",
                             inputs(Json::object()));
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(r.return_value, Json::parse(R"({"result":null,"state":{"quiet":"yes"}})"));
}

TEST(RunBlueprint, TheSubRunsReturnValueEndsOnlyTheSubRun) {
  const Json two = Json::parse(R"([
    {"id": "trigger", "type": "api_trigger", "next": {"trigger": "call"}},
    {"id": "call", "type": "run_blueprint", "fields": {"blueprint_id": "greet",
      "payload": "{\"inputs\":{\"name\":\"Ada\"}}"}, "next": {"success": "after"}},
    {"id": "after", "type": "set_state", "fields": {"key": "after", "value": "@{result}"},
     "next": {"success": "reply"}},
    {"id": "reply", "type": "return_value", "fields": {"value": "main saw: @{state.after}"}}])");
  BlockRun run;
  RunResult r = run.runAgent(Json::array({{{"id", "main"}, {"blocks", two}}, kGreet}), "main",
                             inputs(Json::object()));
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(r.return_value, Json("main saw: Hello, Ada"));
}

TEST(RunBlueprint, AnUnknownBlueprintTakesTheErrorEndStateNamingAgentAndVersion) {
  BlockRun run;
  RunResult r = run.runAgent(agentCalling({{"blueprint_id", "@{result.inputs.target}"}}, {kGreet}),
                             "main", inputs({{"target", "nope"}}));
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(r.return_value,
            Json::parse(
                R"({"error":"blueprint 'nope' does not exist in agent 'block_test' version 1"})"));
  EXPECT_EQ(traceOf(r, "call").at(0).at("end_state"), "error");
}

TEST(RunBlueprint, AnEmptyBlueprintIdTakesTheErrorEndState) {
  BlockRun run;
  RunResult r = run.runAgent(agentCalling({{"blueprint_id", "@{result.inputs.none}"}}, {kGreet}),
                             "main", inputs(Json::object()));
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(r.return_value, Json::parse(R"({"error":"blueprint_id is empty"})"));
}

TEST(RunBlueprint, AFailingSubRunTakesTheErrorEndStateWithItsMessage) {
  const Json failing = Json::parse(R"({"id": "failing", "blocks": [
    {"id": "trigger", "type": "api_trigger", "next": {"trigger": "reply"}},
    {"id": "reply", "type": "return_value", "fields": {"value": "@{payload.inputs.missing}"}}]})");
  BlockRun run;
  RunResult r = run.runAgent(agentCalling({{"blueprint_id", "failing"}}, {failing}), "main",
                             inputs(Json::object()));
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(r.return_value, Json::parse(R"({"error":"reply: value is null"})"));
}

TEST(RunBlueprint, StopsRecursionAtTheMaxDepthOf32WithAClearError) {
  // `loop` calls itself with a counter; nothing ends the recursion but the depth limit.
  const Json self = Json::parse(R"({"id": "loop", "blocks": [
    {"id": "trigger", "type": "api_trigger", "next": {"trigger": "count"}},
    {"id": "count", "type": "add_to_state_list", "fields": {"key": "depths", "value": 1},
     "next": {"success": "again"}},
    {"id": "again", "type": "run_blueprint", "fields": {"blueprint_id": "loop"},
     "next": {"success": "reply"}},
    {"id": "reply", "type": "return_value", "fields": {"value": "@{result}"}}]})");
  BlockRun run;
  ASSERT_EQ(run.limits.max_depth, 32);
  RunResult r = run.runAgent(agentCalling({{"blueprint_id", "loop"}}, {self}), "main",
                             inputs(Json::object()));
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r).substr(0, 2000);
  const std::string message = r.return_value->value("error", "");
  EXPECT_NE(message.find("nesting exceeds the max depth of 32 (run_blueprint calls itself?)"),
            std::string::npos)
      << message;
  // Depths 1..32 each ran `count` once before the 33rd call was refused.
  EXPECT_EQ(traceOf(r, "count").size(), 32u);
}

}  // namespace
}  // namespace blueprint::host::block_tests
