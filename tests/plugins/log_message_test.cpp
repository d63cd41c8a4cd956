// SPDX-License-Identifier: Apache-2.0
// log_message_test.cpp: the `log_message` block through the real engine and core_blocks.so
// (DESIGN §8): `success` with the message as result and a trace log line at the level, `error`
// for a level that is not info, warning or error.
#include <gtest/gtest.h>

#include "block_harness.hpp"
#include "blueprint/blueprint_validator.hpp"

namespace blueprint::host::block_tests {
namespace {

/// trigger → log(fields) → reply(@{result}), with log's `error` routed to on_error.
Json logWith(const Json& fields) {
  Json blocks = Json::parse(R"([
    {"id": "trigger", "type": "api_trigger", "next": {"trigger": "log"}},
    {"id": "log", "type": "log_message", "fields": {},
     "next": {"success": "reply", "error": "on_error"}},
    {"id": "reply", "type": "return_value", "fields": {"value": {"result": "@{result}"}}},
    {"id": "on_error", "type": "return_value", "fields": {"value": {"error": "@{message}"}}}])");
  blocks[1]["fields"] = fields;
  return blocks;
}

TEST(LogMessage, LogsAtTheLevelAndReturnsTheMessage) {
  for (const char* level : {"info", "warning", "error"}) {
    BlockRun run;
    RunResult r = run.run(logWith({{"level", level}, {"message", "order @{result.inputs.id}"}}),
                          inputs({{"id", 7}}));
    ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
    EXPECT_EQ(r.return_value, Json::parse(R"({"result":"order 7"})"));
    const Json entry = traceOf(r, "log").at(0);
    EXPECT_EQ(entry.at("end_state"), "success");
    EXPECT_EQ(entry.at("logs"),
              Json::parse(std::string(R"([{"level":")") + level + R"(","message":"order 7"}])"));
  }
}

TEST(LogMessage, DefaultsToInfo) {
  BlockRun run;
  RunResult r = run.run(logWith({{"message", "hi"}}));
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(traceOf(r, "log").at(0).at("logs").at(0).at("level"), "info");
}

TEST(LogMessage, WritesNonTextValuesAsJson) {
  BlockRun run;
  RunResult r = run.run(logWith({{"message", "@{result.inputs}"}}), inputs({{"a", {1, 2}}}));
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(r.return_value, Json::parse(R"({"result":"{\"a\":[1,2]}"})"));
}

TEST(LogMessage, ALevelFromATemplateThatIsNotKnownTakesTheErrorEndState) {
  BlockRun run;
  RunResult r = run.run(logWith({{"level", "@{result.inputs.level}"}, {"message", "hi"}}),
                        inputs({{"level", "loud"}}));
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(r.return_value,
            Json::parse(R"({"error":"level 'loud' is not one of: info, warning, error"})"));
  EXPECT_EQ(traceOf(r, "log").at(0).at("end_state"), "error");
}

TEST(LogMessage, DeployRefusesALiteralUnknownLevel) {
  const Json agent = {
      {"name", "l"},
      {"blueprints",
       {{{"id", "main"}, {"blocks", logWith({{"level", "loud"}, {"message", "x"}})}}}}};
  try {
    parseAndValidateAgent(agent, "l", *coreCatalog());
    FAIL() << "deployed a log_message with level 'loud'";
  } catch (const DefinitionError& e) {
    EXPECT_NE(std::string(e.what()).find("'loud' is not one of: info, warning, error"),
              std::string::npos)
        << e.what();
  }
}

TEST(LogMessage, AMessageThatResolvesToNothingTakesTheErrorEndState) {
  // Writer Framework: "message is required" (issue 11, Writer compatibility).
  for (const char* message : {"@{result.inputs.missing}", "@{result.inputs.empty}"}) {
    BlockRun run;
    RunResult r = run.run(logWith({{"message", message}}), inputs({{"empty", ""}}));
    ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
    EXPECT_EQ(r.return_value, Json::parse(R"({"error":"message is required"})")) << message;
    EXPECT_EQ(traceOf(r, "log").at(0).at("end_state"), "error");
    EXPECT_FALSE(traceOf(r, "log").at(0).contains("logs")) << "logged an empty line";
  }
}

}  // namespace
}  // namespace blueprint::host::block_tests
