// SPDX-License-Identifier: Apache-2.0
// set_state_test.cpp: the `set_state` block through the real engine and core_blocks.so
// (DESIGN §3 "Fine points", §8): `success` with the stored value as result, `error` for an empty
// key or JSON that does not parse.
#include <gtest/gtest.h>

#include "block_harness.hpp"
#include "blueprint/blueprint_validator.hpp"

namespace blueprint::host::block_tests {
namespace {

/// trigger → save(fields) → reply(state + result), with save's `error` routed to on_error.
Json saveWith(const Json& fields) {
  Json blocks = Json::parse(R"([
    {"id": "trigger", "type": "api_trigger", "next": {"trigger": "save"}},
    {"id": "save", "type": "set_state", "fields": {},
     "next": {"success": "reply", "error": "on_error"}},
    {"id": "reply", "type": "return_value",
     "fields": {"value": {"state": "@{state}", "result": "@{result}"}}},
    {"id": "on_error", "type": "return_value",
     "fields": {"value": {"error": "@{message}"}}}])");
  blocks[1]["fields"] = fields;
  return blocks;
}

TEST(SetState, StoresAtADotPathCreatingParentsAndReturnsTheValue) {
  BlockRun run;
  RunResult r = run.run(saveWith({{"key", "order.user.id"}, {"value", "@{result.inputs.id}"}}),
                        inputs({{"id", 42}}));
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(r.return_value, Json::parse(R"({"state":{"order":{"user":{"id":42}}},"result":42})"));
}

TEST(SetState, RendersTheKeyAsATemplate) {
  BlockRun run;
  RunResult r = run.run(saveWith({{"key", "user_@{result.inputs.id}.name"}, {"value", "Ada"}}),
                        inputs({{"id", 7}}));
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(r.return_value->at("state"), Json::parse(R"({"user_7":{"name":"Ada"}})"));
}

TEST(SetState, TextValueTypeStoresTheRenderedText) {
  BlockRun run;
  RunResult r = run.run(
      saveWith({{"key", "note"}, {"value", "tags: @{result.inputs.tags}"}, {"value_type", "text"}}),
      inputs({{"tags", {"a", "b"}}}));
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(r.return_value->at("result"), Json(R"(tags: ["a","b"])"));
}

TEST(SetState, JsonValueTypeParsesTheTextWithTemplatesAsJsonValues) {
  BlockRun run;
  RunResult r = run.run(
      saveWith({{"key", "doc"},
                {"value", R"({"tags": @{result.inputs.tags}, "who": "@{result.inputs.name}"})"},
                {"value_type", "json"}}),
      inputs({{"tags", {"a", "b"}}, {"name", "A \"quoted\" name"}}));
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(r.return_value->at("state").at("doc"),
            Json::parse(R"({"tags":["a","b"],"who":"A \"quoted\" name"})"));
}

TEST(SetState, InvalidJsonTakesTheErrorEndStateNamingTheField) {
  BlockRun run;
  RunResult r = run.run(saveWith({{"key", "doc"}, {"value", "{not json"}, {"value_type", "json"}}));
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  const std::string message = r.return_value->at("error").get<std::string>();
  EXPECT_EQ(message.rfind("field 'value'", 0), 0u) << message;
  EXPECT_EQ(traceOf(r, "save").at(0).at("end_state"), "error");
}

TEST(SetState, AnEmptyKeyTakesTheErrorEndState) {
  BlockRun run;
  RunResult r = run.run(saveWith({{"key", "@{result.inputs.missing}"}, {"value", "x"}}));
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(r.return_value, Json::parse(R"({"error":"key is empty"})"));
}

TEST(SetState, AKeyWithAnEmptySegmentTakesTheErrorEndState) {
  BlockRun run;
  RunResult r = run.run(saveWith({{"key", "a..b"}, {"value", "x"}}));
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(r.return_value, Json::parse(R"({"error":"state key 'a..b' has an empty segment"})"));
}

TEST(SetState, DeployRefusesALiteralEmptyKey) {
  // Unlike return_value's `any` value, an empty text field is a missing one.
  const Json agent = {{"name", "s"},
                      {"blueprints", {{{"id", "main"}, {"blocks", saveWith({{"key", ""}})}}}}};
  try {
    parseAndValidateAgent(agent, "s", *coreCatalog());
    FAIL() << "deployed a set_state with an empty key";
  } catch (const DefinitionError& e) {
    EXPECT_NE(std::string(e.what()).find("field 'key': required field is missing"),
              std::string::npos)
        << e.what();
  }
}

TEST(SetState, AnUnhandledErrorStopsTheRun) {
  BlockRun run;
  Json blocks = saveWith({{"key", "@{result.none}"}, {"value", 1}});
  blocks[1]["next"].erase("error");
  RunResult r = run.run(blocks);
  EXPECT_EQ(r.status, RunResult::Status::Error) << describe(r);
  EXPECT_EQ(r.error, "save: key is empty");
}

TEST(SetState, JsonValueTypeParsesTextThatAWholeTemplateResolvesTo) {
  // Writer Framework parses such text once more (issue 11, Writer compatibility): before, the
  // state held the text and @{state.doc.parsed} was null.
  BlockRun run;
  Json blocks =
      saveWith({{"key", "doc"}, {"value", "@{result.inputs.text}"}, {"value_type", "json"}});
  blocks[2]["fields"]["value"] = {{"parsed", "@{state.doc.parsed}"}, {"doc", "@{state.doc}"}};
  RunResult r = run.run(blocks, inputs({{"text", R"({"parsed": [1, "two"]})"}}));
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(r.return_value, Json::parse(R"({"parsed":[1,"two"],"doc":{"parsed":[1,"two"]}})"));
}

TEST(SetState, JsonValueTypeRefusesTextThatIsNotJsonFromAWholeTemplate) {
  BlockRun run;
  RunResult r = run.run(
      saveWith({{"key", "doc"}, {"value", "@{result.inputs.text}"}, {"value_type", "json"}}),
      inputs({{"text", "not json"}}));
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(r.return_value,
            Json::parse(R"({"error":"field 'value': the text it resolved to is not valid JSON"})"));
}

TEST(SetState, JsonValueTypeKeepsATemplateInsideTextAsParsedOnce) {
  // Only a value that is exactly one template is parsed again: a JSON string literal stays text.
  BlockRun run;
  RunResult r = run.run(
      saveWith({{"key", "doc"}, {"value", R"("@{result.inputs.text}")"}, {"value_type", "json"}}),
      inputs({{"text", "[1]"}}));
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(r.return_value->at("state").at("doc"), Json("[1]"));
}

}  // namespace
}  // namespace blueprint::host::block_tests
