// SPDX-License-Identifier: Apache-2.0
// return_value_test.cpp: the `return_value` block through the real engine and core_blocks.so
// (DESIGN §3 "Fine points", §8): `success` for every non-null value, literal "" included, and
// `error` for null, handled or not.
#include <gtest/gtest.h>

#include "block_harness.hpp"
#include "blueprint/blueprint_validator.hpp"

namespace blueprint::host::block_tests {
namespace {

/// trigger → reply(value), with reply's `error` routed to a second Return Value.
Json replyWith(const Json& value) {
  Json blocks = Json::parse(R"([
    {"id": "trigger", "type": "api_trigger", "next": {"trigger": "reply"}},
    {"id": "reply", "type": "return_value", "fields": {"value": null},
     "next": {"error": "on_error"}},
    {"id": "on_error", "type": "return_value",
     "fields": {"value": {"state": "error", "message": "@{message}"}}}])");
  blocks[1]["fields"]["value"] = value;
  return blocks;
}

Json agentOf(const Json& blocks) {
  return {{"name", "r"}, {"blueprints", {{{"id", "main"}, {"blocks", blocks}}}}};
}

TEST(ReturnValue, ReturnsEveryKindOfLiteralIncludingTheEmptyString) {
  for (const Json& value :
       {Json(""), Json("text"), Json(0), Json(-2.5), Json(false), Json(true), Json::array(),
        Json::object(), Json::parse(R"({"a":[1,{"b":null}]})")}) {
    // Deploy accepts it: "" is a value, not a missing field.
    EXPECT_NO_THROW(parseAndValidateAgent(agentOf(replyWith(value)), "r", *coreCatalog()))
        << value.dump();
    BlockRun run;
    RunResult r = run.run(replyWith(value));
    ASSERT_EQ(r.status, RunResult::Status::Completed) << value.dump() << ": " << describe(r);
    EXPECT_EQ(r.return_value, value);
    EXPECT_EQ(traceOf(r, "reply").at(0).at("end_state"), "success");
  }
}

TEST(ReturnValue, RendersTemplatesKeepingTheTypeOfAFullMatch) {
  BlockRun run;
  RunResult r = run.run(replyWith("@{result.inputs.list}"), inputs({{"list", {1, "two"}}}));
  EXPECT_EQ(r.return_value, Json::parse(R"([1,"two"])")) << describe(r);
  BlockRun text;
  r = text.run(replyWith("got @{result.inputs.list}"), inputs({{"list", {1, "two"}}}));
  EXPECT_EQ(r.return_value, Json(R"(got [1,"two"])")) << describe(r);
}

TEST(ReturnValue, ANullValueTakesTheErrorEndState) {
  BlockRun run;
  RunResult r = run.run(replyWith("@{result.inputs.missing}"), inputs(Json::object()));
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(r.return_value, Json::parse(R"({"state":"error","message":"value is null"})"));
  EXPECT_EQ(traceOf(r, "reply").at(0).at("end_state"), "error");
}

TEST(ReturnValue, AnUnhandledNullValueFailsTheRunNamingTheBlock) {
  BlockRun run;
  RunResult r = run.run(Json::parse(R"([
    {"id": "trigger", "type": "api_trigger", "next": {"trigger": "reply"}},
    {"id": "reply", "type": "return_value", "fields": {"value": "@{result.nothing}"}}])"));
  EXPECT_EQ(r.status, RunResult::Status::Error) << describe(r);
  EXPECT_EQ(r.error, "reply: value is null");
  EXPECT_FALSE(r.return_value.has_value());
}

TEST(ReturnValue, DeployRefusesALiteralNullOrAMissingValue) {
  for (const Json& fields : {Json::object(), Json{{"value", nullptr}}}) {
    Json blocks = replyWith("x");
    blocks[1]["fields"] = fields;
    try {
      parseAndValidateAgent(agentOf(blocks), "r", *coreCatalog());
      ADD_FAILURE() << "deployed with fields " << fields.dump();
    } catch (const DefinitionError& e) {
      EXPECT_NE(std::string(e.what()).find("field 'value': required field is missing"),
                std::string::npos)
          << e.what();
    }
  }
}

}  // namespace
}  // namespace blueprint::host::block_tests
