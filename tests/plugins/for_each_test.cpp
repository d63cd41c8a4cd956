// SPDX-License-Identifier: Apache-2.0
// for_each_test.cpp: the `for_each` block through the real engine and core_blocks.so
// (DESIGN §3, §8): the `loop` branch once per item in order with item/itemId (and the prefixed
// names), `success` with the list (or object) of each iteration's Return Value, `error` when an
// iteration fails or `items` is not a list or object, and the run's step limit over all of it.
#include <gtest/gtest.h>

#include "block_harness.hpp"

namespace blueprint::host::block_tests {
namespace {

/// trigger → loop(items, prefix) -loop→ body (return_value(body_value));
/// loop -success→ done(@{result}); loop -error→ on_error(@{message}).
Json loopWith(const Json& items, const Json& body_value, const Json& prefix = nullptr) {
  Json blocks = Json::parse(R"([
    {"id": "trigger", "type": "api_trigger", "next": {"trigger": "loop"}},
    {"id": "loop", "type": "for_each", "fields": {},
     "next": {"loop": "body", "success": "done", "error": "on_error"}},
    {"id": "body", "type": "return_value", "fields": {}},
    {"id": "done", "type": "return_value", "fields": {"value": {"result": "@{result}"}}},
    {"id": "on_error", "type": "return_value", "fields": {"value": {"error": "@{message}"}}}])");
  blocks[1]["fields"]["items"] = items;
  if (!prefix.is_null()) blocks[1]["fields"]["prefix"] = prefix;
  blocks[2]["fields"]["value"] = body_value;
  return blocks;
}

TEST(ForEach, RunsTheLoopBranchPerItemInOrderAndCollectsTheReturnValues) {
  BlockRun run;
  RunResult r = run.run(loopWith("@{result.inputs.names}", "@{itemId}: @{item}"),
                        inputs({{"names", {"Ada", "Grace", "Linus"}}}));
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(r.return_value, Json::parse(R"({"result":["0: Ada","1: Grace","2: Linus"]})"));
  EXPECT_EQ(traceOf(r, "body").size(), 3u);
  EXPECT_EQ(traceOf(r, "loop").at(0).at("end_state"), "success");
}

TEST(ForEach, IteratesAnObjectByKeyIntoAnObject) {
  BlockRun run;
  RunResult r = run.run(loopWith(R"({"a": 1, "b": @{result.inputs.b}})",
                                 {{"key", "@{itemId}"}, {"twice", "@{item} @{item}"}}),
                        inputs({{"b", {true}}}));
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(r.return_value, Json::parse(R"({"result":{"a":{"key":"a","twice":"1 1"},
                                                     "b":{"key":"b","twice":"[true] [true]"}}})"));
}

TEST(ForEach, ExposesThePrefixedNamesAndTheItemAsTheBranchResult) {
  BlockRun run;
  RunResult r = run.run(
      loopWith("@{result.inputs.rows}",
               {{"item", "@{row_item.id}"}, {"id", "@{row_itemId}"}, {"result", "@{result.id}"}},
               "row"),
      inputs({{"rows", {{{"id", "x"}}, {{"id", "y"}}}}}));
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(r.return_value, Json::parse(R"({"result":[{"item":"x","id":0,"result":"x"},
                                                     {"item":"y","id":1,"result":"y"}]})"));
}

TEST(ForEach, AnIterationWithoutAReturnValueGivesNull) {
  BlockRun run;
  Json blocks = loopWith("[1,2]", "unused");
  blocks[2] = Json::parse(R"({"id": "body", "type": "add_to_state_list",
                             "fields": {"key": "seen", "value": "@{item}"}})");
  blocks[3]["fields"]["value"] = {{"result", "@{result}"}, {"seen", "@{state.seen}"}};
  RunResult r = run.run(blocks);
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  // The branch shares the run's state: every iteration appended.
  EXPECT_EQ(r.return_value, Json::parse(R"({"result":[null,null],"seen":[1,2]})"));
}

TEST(ForEach, AnEmptyListSucceedsWithAnEmptyList) {
  BlockRun run;
  RunResult r = run.run(loopWith("[]", "x"));
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(r.return_value, Json::parse(R"({"result":[]})"));
  EXPECT_TRUE(traceOf(r, "body").empty());
}

TEST(ForEach, AFailingIterationTakesTheErrorEndStateNamingIt) {
  BlockRun run;
  // The second item has no `name`: its Return Value is null, an unhandled error in the branch.
  RunResult r = run.run(loopWith("@{result.inputs.rows}", "@{item.name}"),
                        inputs({{"rows", {{{"name", "a"}}, {{"other", 1}}, {{"name", "c"}}}}}));
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(r.return_value, Json::parse(R"({"error":"iteration 1: body: value is null"})"));
  EXPECT_EQ(traceOf(r, "body").size(), 2u) << "iterations after the failing one must not run";
  EXPECT_EQ(traceOf(r, "loop").at(0).at("end_state"), "error");
}

TEST(ForEach, AnUnhandledIterationErrorStopsTheRun) {
  BlockRun run;
  Json blocks = loopWith("[1]", "@{item.missing}");
  blocks[1]["next"].erase("error");
  RunResult r = run.run(blocks);
  EXPECT_EQ(r.status, RunResult::Status::Error) << describe(r);
  EXPECT_EQ(r.error, "loop: iteration 0: body: value is null");
}

TEST(ForEach, ItemsThatAreNotAListOrObjectTakeTheErrorEndState) {
  BlockRun run;
  RunResult r = run.run(loopWith("@{result.inputs.n}", "x"), inputs({{"n", 5}}));
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(r.return_value,
            Json::parse(R"({"error":"items must be a JSON list or object, got number"})"));
  BlockRun text;
  r = text.run(loopWith("[1, 2", "x"));
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(r.return_value->at("error").get<std::string>().rfind("field 'items'", 0), 0u)
      << describe(r);
}

TEST(ForEach, IsBoundedByTheRunsStepLimit) {
  BlockRun run;
  run.limits.max_steps = 25;
  Json items = Json::array();
  for (int i = 0; i < 1000; ++i) items.push_back(i);
  RunResult r = run.run(loopWith(items.dump(), "@{item}"));
  EXPECT_EQ(r.status, RunResult::Status::Error) << describe(r);
  EXPECT_NE(r.error.find("run exceeded its limit of 25 steps"), std::string::npos) << r.error;
  EXPECT_LE(traceOf(r, "body").size(), 25u);
}

TEST(ForEach, NestedLoopsSeeTheirOwnItemsAndTheOuterPrefixedOne) {
  BlockRun run;
  RunResult r = run.run(Json::parse(R"([
    {"id": "trigger", "type": "api_trigger", "next": {"trigger": "outer"}},
    {"id": "outer", "type": "for_each", "fields": {"items": "[\"a\",\"b\"]", "prefix": "row"},
     "next": {"loop": "inner", "success": "done"}},
    {"id": "inner", "type": "for_each", "fields": {"items": "[1,2]"},
     "next": {"loop": "cell", "success": "row_done"}},
    {"id": "cell", "type": "return_value", "fields": {"value": "@{row_item}@{item}"}},
    {"id": "row_done", "type": "return_value", "fields": {"value": "@{result}"}},
    {"id": "done", "type": "return_value", "fields": {"value": "@{result}"}}])"));
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(r.return_value, Json::parse(R"([["a1","a2"],["b1","b2"]])"));
}

TEST(ForEach, IterationsOfAnEmptyBodyCountAsSteps) {
  // Issue 11, M6: with no loop branch no block ran, so millions of items never met max_steps.
  BlockRun run;
  run.limits.max_steps = 25;
  Json items = Json::array();
  for (int i = 0; i < 100000; ++i) items.push_back(i);
  Json blocks = loopWith(items.dump(), "x");
  blocks[1]["next"].erase("loop");
  blocks.erase(2);  // the body
  RunResult r = run.run(blocks);
  EXPECT_EQ(r.status, RunResult::Status::Error) << describe(r);
  EXPECT_NE(r.error.find("run exceeded its limit of 25 steps"), std::string::npos) << r.error;
}

}  // namespace
}  // namespace blueprint::host::block_tests
