// SPDX-License-Identifier: Apache-2.0
// add_to_state_list_test.cpp: the `add_to_state_list` block through the real engine and
// core_blocks.so (DESIGN §8): `success` with the whole list as result, `error` when the state
// entry is not a list or the key is empty.
#include <gtest/gtest.h>

#include "block_harness.hpp"

namespace blueprint::host::block_tests {
namespace {

/// trigger → first(value a) → second(value b) → reply(result + state), errors to on_error.
/// (In `second`, `@{result}` is the list `first` returned: values come from `payload`.)
Json appendTwice(const Json& key, const Json& a, const Json& b) {
  Json blocks = Json::parse(R"([
    {"id": "trigger", "type": "api_trigger", "next": {"trigger": "first"}},
    {"id": "first", "type": "add_to_state_list", "fields": {},
     "next": {"success": "second", "error": "on_error"}},
    {"id": "second", "type": "add_to_state_list", "fields": {},
     "next": {"success": "reply", "error": "on_error"}},
    {"id": "reply", "type": "return_value",
     "fields": {"value": {"result": "@{result}", "state": "@{state}"}}},
    {"id": "on_error", "type": "return_value", "fields": {"value": {"error": "@{message}"}}}])");
  blocks[1]["fields"] = {{"key", key}, {"value", a}};
  blocks[2]["fields"] = {{"key", key}, {"value", b}};
  return blocks;
}

TEST(AddToStateList, CreatesTheListAndAppendsKeepingJsonTypes) {
  BlockRun run;
  RunResult r =
      run.run(appendTwice("seen.ids", "@{payload.inputs.first}", "@{payload.inputs.second}"),
              inputs({{"first", {{"id", 1}}}, {"second", "two"}}));
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(
      r.return_value,
      Json::parse(R"({"result":[{"id":1},"two"],"state":{"seen":{"ids":[{"id":1},"two"]}}})"));
}

TEST(AddToStateList, AppendsToAListSetEarlier) {
  BlockRun run;
  Json blocks = appendTwice("log", "b", "c");
  blocks[0]["next"]["trigger"] = "init";
  blocks.push_back(Json::parse(R"({"id": "init", "type": "set_state",
    "fields": {"key": "log", "value": "[\"a\"]", "value_type": "json"},
    "next": {"success": "first"}})"));
  RunResult r = run.run(blocks);
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(r.return_value->at("result"), Json::parse(R"(["a","b","c"])"));
}

TEST(AddToStateList, AStateEntryThatIsNotAListTakesTheErrorEndState) {
  BlockRun run;
  Json blocks = appendTwice("user.name", "b", "c");
  blocks[0]["next"]["trigger"] = "init";
  blocks.push_back(Json::parse(R"({"id": "init", "type": "set_state",
    "fields": {"key": "user.name", "value": "Ada"}, "next": {"success": "first"}})"));
  RunResult r = run.run(blocks);
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(r.return_value,
            Json::parse(R"({"error":"state 'user.name' holds string, not a list"})"));
  EXPECT_EQ(traceOf(r, "first").at(0).at("end_state"), "error");
}

TEST(AddToStateList, AnEmptyKeyTakesTheErrorEndState) {
  BlockRun run;
  RunResult r = run.run(appendTwice("@{result.inputs.missing}", 1, 2));
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(r.return_value, Json::parse(R"({"error":"key is empty"})"));
}

}  // namespace
}  // namespace blueprint::host::block_tests
