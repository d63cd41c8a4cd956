// SPDX-License-Identifier: Apache-2.0
// parse_json_test.cpp: the `parse_json` block through the real engine and core_blocks.so
// (DESIGN §8): `success` with the parsed value, `error` for text that does not parse, empty text
// and null.
#include <gtest/gtest.h>

#include "block_harness.hpp"

namespace blueprint::host::block_tests {
namespace {

/// trigger → parse(text) → reply(@{result}), with parse's `error` routed to on_error.
Json parseWith(const Json& text) {
  Json blocks = Json::parse(R"([
    {"id": "trigger", "type": "api_trigger", "next": {"trigger": "parse"}},
    {"id": "parse", "type": "parse_json", "fields": {"text": null},
     "next": {"success": "reply", "error": "on_error"}},
    {"id": "reply", "type": "return_value", "fields": {"value": {"parsed": "@{result}"}}},
    {"id": "on_error", "type": "return_value", "fields": {"value": {"error": "@{message}"}}}])");
  blocks[1]["fields"]["text"] = text;
  return blocks;
}

Json parsedFrom(const Json& text, const Json& in = Json::object()) {
  BlockRun run;
  RunResult r = run.run(parseWith(text), inputs(in));
  if (r.status != RunResult::Status::Completed || !r.return_value)
    return {{"run failed", describe(r)}};
  return *r.return_value;
}

TEST(ParseJson, ParsesEveryKindOfJsonText) {
  for (const char* text : {R"({"a":[1,2,{"b":null}]})", "[]", "{}", "42", "-1.5", "true",
                           "\"text\"", "null", " \n [1] \t"}) {
    EXPECT_EQ(parsedFrom(text), (Json{{"parsed", Json::parse(text)}})) << text;
  }
}

TEST(ParseJson, ParsesTextThatArrivesThroughATemplate) {
  EXPECT_EQ(parsedFrom("@{result.inputs.body}", {{"body", R"({"items":[{"id":"a"}]})"}}),
            Json::parse(R"({"parsed":{"items":[{"id":"a"}]}})"));
}

TEST(ParseJson, PassesAValueThatIsAlreadyJsonUnchanged) {
  EXPECT_EQ(parsedFrom("@{result.inputs.list}", {{"list", {1, 2}}}),
            Json::parse(R"({"parsed":[1,2]})"));
}

TEST(ParseJson, InvalidTextTakesTheErrorEndStateNamingThePositionNotTheText) {
  const Json out = parsedFrom("{\"secret\": tru}");
  const std::string message = out.value("error", "");
  EXPECT_EQ(message, "text is not valid JSON (syntax error at byte 15 of 15)") << out.dump();
  EXPECT_EQ(message.find("secret"), std::string::npos);
  EXPECT_EQ(parsedFrom("[1,2").value("error", ""),
            "text is not valid JSON (it ends before the value is complete)");
}

TEST(ParseJson, EmptyTextAndNullTakeTheErrorEndState) {
  EXPECT_EQ(parsedFrom("@{result.inputs.blank}", {{"blank", "  "}}),
            Json::parse(R"({"error":"text is empty: there is nothing to parse"})"));
  EXPECT_EQ(parsedFrom("@{result.inputs.missing}"),
            Json::parse(R"({"error":"text is null: there is nothing to parse"})"));
}

TEST(ParseJson, AnUnhandledErrorStopsTheRun) {
  Json blocks = parseWith("nope");
  blocks[1]["next"].erase("error");
  BlockRun run;
  RunResult r = run.run(blocks);
  EXPECT_EQ(r.status, RunResult::Status::Error) << describe(r);
  EXPECT_EQ(r.error.rfind("parse: text is not valid JSON", 0), 0u) << r.error;
}

}  // namespace
}  // namespace blueprint::host::block_tests
