// SPDX-License-Identifier: Apache-2.0
// api_trigger_test.cpp: the `api_trigger` block through the real engine and core_blocks.so
// (DESIGN §8): its one end state `trigger`, with the request body or the Default result.
#include <gtest/gtest.h>

#include "block_harness.hpp"
#include "blueprint/blueprint_validator.hpp"

namespace blueprint::host::block_tests {
namespace {

/// trigger(default_result) → return_value(@{result}).
Json echoTrigger(const Json& default_result) {
  Json trigger = {{"id", "trigger"}, {"type", "api_trigger"}, {"next", {{"trigger", "reply"}}}};
  if (!default_result.is_null()) trigger["fields"] = {{"default_result", default_result}};
  return Json::array(
      {trigger, {{"id", "reply"}, {"type", "return_value"}, {"fields", {{"value", "@{result}"}}}}});
}

TEST(ApiTrigger, ResultIsTheRequestBody) {
  BlockRun run;
  const Json body = inputs({{"name", "Ada"}, {"tags", {"a", "b"}}});
  RunResult r = run.run(echoTrigger("{\"inputs\":{\"name\":\"World\"}}"), body);
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(r.return_value, body);
  ASSERT_EQ(traceOf(r, "trigger").size(), 1u);
  EXPECT_EQ(traceOf(r, "trigger")[0].at("end_state"), "trigger");
}

TEST(ApiTrigger, UsesTheDefaultResultParsedAsJsonForAnEmptyPayload) {
  BlockRun run;
  RunResult r = run.run(echoTrigger("{\"inputs\":{\"name\":\"World\"}}"), Json::object());
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(r.return_value, Json::parse(R"({"inputs":{"name":"World"}})"));
}

TEST(ApiTrigger, UsesADefaultResultThatIsNotJsonAsText) {
  BlockRun run;
  RunResult r = run.run(echoTrigger("just some text"), Json::object());
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(r.return_value, Json("just some text"));
}

TEST(ApiTrigger, AcceptsADefaultResultWrittenAsAJsonLiteral) {
  BlockRun run;
  const Json literal = Json::parse(R"({"inputs":{"n":[1,2]}})");
  RunResult r = run.run(echoTrigger(literal), nullptr);
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(r.return_value, literal);
}

TEST(ApiTrigger, WithoutADefaultResultAnEmptyPayloadGivesAnEmptyObject) {
  BlockRun run;
  RunResult r = run.run(echoTrigger(nullptr), Json::object());
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(r.return_value, Json::object());
}

TEST(ApiTrigger, PayloadStaysReadableDownstream) {
  BlockRun run;
  RunResult r = run.run(Json::parse(R"([
    {"id": "trigger", "type": "api_trigger", "next": {"trigger": "save"}},
    {"id": "save", "type": "set_state", "fields": {"key": "x", "value": "1"},
     "next": {"success": "reply"}},
    {"id": "reply", "type": "return_value",
     "fields": {"value": "@{payload.inputs.name} via @{results.trigger.inputs.name}"}}])"),
                        inputs({{"name", "Ada"}}));
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(r.return_value, Json("Ada via Ada"));
}

TEST(ApiTrigger, DeployRefusesEndStatesOtherThanTrigger) {
  const Json agent = {{"name", "t"}, {"blueprints", {{{"id", "main"}, {"blocks", Json::parse(R"([
           {"id": "trigger", "type": "api_trigger", "next": {"success": "reply"}},
           {"id": "reply", "type": "return_value", "fields": {"value": "x"}}])")}}}}};
  try {
    parseAndValidateAgent(agent, "t", *coreCatalog());
    FAIL() << "an api_trigger with a `success` edge deployed";
  } catch (const DefinitionError& e) {
    EXPECT_NE(std::string(e.what()).find("its end states: trigger"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace blueprint::host::block_tests
