// SPDX-License-Identifier: Apache-2.0
// if_else_test.cpp: the `if_else` block through the real engine and the real core_blocks.so
// (DESIGN §3 "Fine points", §8): api_trigger → set_state → if_else → one return_value per end
// state, so every expectation also proves the routing of `true`, `false` and `error`.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/runner.hpp"
#include "support/loaded_plugins.hpp"

namespace blueprint::host {
namespace {

namespace fs = std::filesystem;

/// core_blocks.so, loaded as the host loads plugins.
testing::LoadedPlugins* const kPlugins =
    testing::LoadedPlugins::add({fs::path(BLUEPRINT_PLUGIN_DIR) / "core_blocks.so"});

class NullObserver final : public RunObserver {
 public:
  void onDelta(std::string_view) override {}
};

RunResult runBlocks(const Json& blocks, const Json& payload) {
  const Json agent = {{"name", "if_else test"},
                      {"blueprints", Json::array({{{"id", "main"}, {"blocks", blocks}}})}};
  auto compiled = CompiledAgent::compile("if_else_test", 1, agent, kPlugins->catalog());
  NullObserver observer;
  RunControl control;
  return Runner::run(*compiled, *compiled->find("main"), payload, RunOptions{}, observer, control);
}

/// trigger → set_state (state.in = inputs; its result is the inputs too) → if_else(condition),
/// with `true`, `false` and `error` each routed to its own return_value.
Json decisionBlueprint(const Json& condition) {
  return Json::parse(R"([
    {"id": "trigger", "type": "api_trigger", "next": {"trigger": "save"}},
    {"id": "save", "type": "set_state", "fields": {"key": "in", "value": "@{result.inputs}"},
     "next": {"success": "check"}},
    {"id": "check", "type": "if_else", "fields": {"condition": null},
     "next": {"true": "on_true", "false": "on_false", "error": "on_error"}},
    {"id": "on_true", "type": "return_value",
     "fields": {"value": {"branch": "true", "result": "@{result}"}}},
    {"id": "on_false", "type": "return_value",
     "fields": {"value": {"branch": "false", "result": "@{result}"}}},
    {"id": "on_error", "type": "return_value",
     "fields": {"value": {"branch": "error", "message": "@{message}"}}}
  ])")
      .patch(Json::array(
          {{{"op", "replace"}, {"path", "/2/fields/condition"}, {"value", condition}}}));
}

/// Runs `condition` against `inputs`; the return value names the end state taken.
Json decide(const Json& condition, const Json& inputs = Json::object()) {
  RunResult r = runBlocks(decisionBlueprint(condition), {{"inputs", inputs}});
  if (r.status != RunResult::Status::Completed || !r.return_value)
    return {{"branch", "run failed"}, {"error", r.error}, {"trace", r.trace}};
  return *r.return_value;
}

/// "true" or "false" (or the error branch's message, so a failure shows it).
std::string branchOf(const Json& condition, const Json& inputs = Json::object()) {
  const Json d = decide(condition, inputs);
  const std::string branch = d.value("branch", "");
  if (branch == "true" || branch == "false") return branch;
  return d.dump();
}

const Json kInputs = {{"age", 21},
                      {"name", "Ada"},
                      {"score", 7.5},
                      {"tags", {"vip", "early"}},
                      {"profile", {{"city", "Paris"}, {"zip", "75001"}}},
                      {"items", {{{"id", "a1"}}, {{"id", "b2"}}, {{"id", "c3"}}}},
                      {"quote", "it's \"fine\""},
                      {"empty", ""},
                      {"none", nullptr},
                      {"zero", 0},
                      {"flag", true}};

struct Case {
  const char* condition;
  bool expected;
};

void expectAll(const std::vector<Case>& cases) {
  for (const Case& c : cases)
    EXPECT_EQ(branchOf(c.condition, kInputs), c.expected ? "true" : "false")
        << "condition: " << c.condition;
}

TEST(IfElse, RoutesTrueAndFalseWithTheBooleanResult) {
  EXPECT_EQ(decide("result.age >= 18", kInputs), (Json{{"branch", "true"}, {"result", true}}));
  EXPECT_EQ(decide("result.age < 18", kInputs), (Json{{"branch", "false"}, {"result", false}}));
}

TEST(IfElse, RoutesTypeErrorsToTheErrorEndStateNamingTypesAndColumn) {
  const Json d = decide(R"("a" < 1)");
  ASSERT_EQ(d.value("branch", ""), "error") << d.dump();
  const std::string message = d.value("message", "");
  EXPECT_NE(message.find("column 5"), std::string::npos) << message;
  EXPECT_NE(message.find("string and number"), std::string::npos) << message;
}

TEST(IfElse, RoutesParseErrorsToTheErrorEndStateNamingColumnAndExpectation) {
  Json d = decide("result.age >= ");
  ASSERT_EQ(d.value("branch", ""), "error") << d.dump();
  EXPECT_NE(d.value("message", "").find("column 15: expected a value"), std::string::npos)
      << d.dump();
  d = decide("(1 == 1");
  EXPECT_NE(d.value("message", "").find("column 8: expected ')'"), std::string::npos) << d.dump();
  d = decide("1 = 1");
  EXPECT_NE(d.value("message", "").find("column 3: expected '=='"), std::string::npos) << d.dump();
  d = decide("'open");
  EXPECT_NE(d.value("message", "").find("column 6: expected ' closing the string"),
            std::string::npos)
      << d.dump();
  d = decide("1 2");
  EXPECT_NE(d.value("message", "").find("column 3: expected an operator"), std::string::npos)
      << d.dump();
  d = decide("x not 1");
  EXPECT_NE(d.value("message", "").find("column 7: expected 'in' after 'not'"), std::string::npos)
      << d.dump();
}

TEST(IfElse, AnUnhandledErrorStopsTheRunWithTheBlockId) {
  RunResult r = runBlocks(Json::parse(R"([
    {"id": "trigger", "type": "api_trigger", "next": {"trigger": "check"}},
    {"id": "check", "type": "if_else", "fields": {"condition": "1 <"},
     "next": {"true": "done"}},
    {"id": "done", "type": "return_value", "fields": {"value": "yes"}}])"),
                          {{"inputs", Json::object()}});
  EXPECT_EQ(r.status, RunResult::Status::Error);
  EXPECT_EQ(r.error.rfind("check: condition: column 4:", 0), 0u) << r.error;
}

TEST(IfElse, ComparesWithEveryOperator) {
  expectAll({{"1 == 1", true},         {"1 == 1.0", true},      {"1 == 2", false},
             {"'a' == 'a'", true},     {"'a' == \"a\"", true},  {"1 == '1'", false},
             {"1 != 2", true},         {"1 != 1.0", false},     {"2 < 3", true},
             {"3 < 2", false},         {"2 <= 2", true},        {"3 <= 2", false},
             {"3 > 2", true},          {"2 > 2", false},        {"2 >= 2", true},
             {"1 >= 2", false},        {"'abc' < 'abd'", true}, {"'b' > 'abc'", true},
             {"1.5 < 2", true},        {"-1 < 0", true},        {"-(2) == -2", true},
             {"1e3 == 1000", true},    {"null == None", true},  {"true == True", true},
             {"false == False", true}, {"true == 1", false},    {"null == false", false},
             {"1 < 2 < 3", true},      {"1 < 3 < 2", false}});
}

TEST(IfElse, ComparesJsonValuesStructurally) {
  expectAll({{"result.tags == state.in.tags", true},
             {"result.profile == state.in.profile", true},
             {"result.profile == result.items.0", false},
             {"result.score == 7.5", true}});
}

TEST(IfElse, AppliesPythonPrecedence) {
  expectAll({{"true or false and false", true},
             {"(true or false) and false", false},
             {"not false and false", false},
             {"not (false and false)", true},
             {"not 1 == 2", true},
             {"not 'a' in 'abc'", false},
             {"1 == 1 and 2 == 2 or 1 == 2", true},
             {"false or not true or 3 > 2", true},
             {"((1 < 2))", true},
             {"not not true", true}});
}

TEST(IfElse, ShortCircuitsAndSkipsTypeErrors) {
  expectAll({{"false and 'a' < 1", false}, {"true or 'a' < 1", true}});
  EXPECT_EQ(decide("true and 'a' < 1").value("branch", ""), "error");
}

TEST(IfElse, ReadsQuotedStringsWithEscapes) {
  expectAll({{R"(result.quote == 'it\'s "fine"')", true},
             {R"(result.quote == "it's \"fine\"")", true},
             {R"('a\tb' == "a	b")", true},
             {R"('\u00e9' == "é")", true},
             {R"('\x41' == 'A')", true},
             {R"('back\\slash' == "back\\slash")", true},
             {R"('' == "")", true}});
}

TEST(IfElse, TestsMembershipWithInAndNotIn) {
  expectAll({{"'vip' in result.tags", true},
             {"'gold' in result.tags", false},
             {"'gold' not in result.tags", true},
             {"'vip' not in result.tags", false},
             {"'city' in result.profile", true},
             {"'Paris' in result.profile", false},
             {"'da' in result.name", true},
             {"'x' in ''", false},
             {"2 in result.items.0", false}});
}

TEST(IfElse, TypeErrorsOfInNameTheTypes) {
  Json d = decide("1 in 'abc'");
  EXPECT_NE(d.value("message", "").find("needs a string on the left, got number"),
            std::string::npos)
      << d.dump();
  d = decide("'a' in result.missing");
  EXPECT_NE(d.value("message", "").find("string, list or object on the right, got null"),
            std::string::npos)
      << d.dump();
}

TEST(IfElse, ResolvesBareAndTemplatePathsWithIndices) {
  expectAll({{"result.items.0.id == 'a1'", true},
             {"result.items.-1.id == 'c3'", true},
             {"@{result.items.1.id} == 'b2'", true},
             {"@{ state.in.profile.city } == 'Paris'", true},
             {"state.in.age == 21", true},
             {"payload.inputs.name == 'Ada'", true},
             {"results.trigger.inputs.zip == null", true},
             {"results.save.profile.zip == '75001'", true},
             {"result.tags.1 == 'early'", true}});
}

TEST(IfElse, MissingPathsAreNull) {
  expectAll({{"result.nothing == null", true},
             {"result.items.9.id == None", true},
             {"result.name.first == null", true},
             {"state.unset.deeper == null", true},
             {"@{result.none} == null", true},
             {"result.nothing", false},
             {"not result.nothing", true}});
}

TEST(IfElse, UsesPythonTruthiness) {
  expectAll({{"result.empty", false},
             {"result.none", false},
             {"result.zero", false},
             {"result.flag", true},
             {"result.tags", true},
             {"result.profile", true},
             {"result.name", true},
             {"0.0", false},
             {"'0'", true},
             {"result.empty or result.zero", false},
             {"result.name and result.age", true}});
}

TEST(IfElse, ATemplatedStringCannotChangeTheExpression) {
  // The field is not templated: a value holding quotes and operators stays one string.
  EXPECT_EQ(branchOf("result.name == 'x' or 1 == 1", {{"name", "' or 1 == 1 or '"}}), "true");
  EXPECT_EQ(branchOf("result.name == \"' or 1 == 1 or '\"", {{"name", "' or 1 == 1 or '"}}),
            "true");
  EXPECT_EQ(branchOf("result.name == 'Ada'", {{"name", "x' or 'a' == 'a"}}), "false");
}

TEST(IfElse, AcceptsALiteralBooleanCondition) {
  EXPECT_EQ(branchOf(true), "true");
  EXPECT_EQ(branchOf(false), "false");
}

TEST(IfElse, ReadsTheItemOfAForEachIteration) {
  RunResult r = runBlocks(Json::parse(R"([
    {"id": "trigger", "type": "api_trigger", "next": {"trigger": "loop"}},
    {"id": "loop", "type": "for_each", "fields": {"items": "[1, 5, 10]"},
     "next": {"loop": "check", "success": "done"}},
    {"id": "check", "type": "if_else", "fields": {"condition": "item > 3 and itemId != 2"},
     "next": {"true": "big", "false": "small"}},
    {"id": "big", "type": "return_value", "fields": {"value": "big"}},
    {"id": "small", "type": "return_value", "fields": {"value": "small"}},
    {"id": "done", "type": "return_value", "fields": {"value": "@{result}"}}])"),
                          {{"inputs", Json::object()}});
  ASSERT_EQ(r.status, RunResult::Status::Completed) << r.error << r.trace.dump();
  EXPECT_EQ(r.return_value, Json::parse(R"(["small", "big", "small"])"));
}

TEST(IfElse, IsInstantAndDeclaresItsManifest) {
  const BlockType* type = kPlugins->catalog()->find("if_else");
  ASSERT_NE(type, nullptr);
  EXPECT_EQ(type->end_states, (std::vector<std::string>{"true", "false", "error"}));
  EXPECT_TRUE(type->instant);
  ASSERT_EQ(type->fields.size(), 1u);
  EXPECT_EQ(type->fields[0].name, "condition");
  EXPECT_TRUE(type->fields[0].required);
  EXPECT_FALSE(type->fields[0].templated);
}

TEST(IfElse, LongConditionsParseWithColumnsCountedFromTheStart) {
  // Issue 11, L1: every comparison rescanned the text for its column, so a 9 MB condition of
  // many comparisons took seconds. Columns must still be right after the scan resumes.
  const std::string padding(100000, ' ');
  std::string condition = "1 == 1";
  for (int i = 0; i < 300; ++i) condition += padding + "and 'é' == 'é'";
  EXPECT_EQ(branchOf(condition), "true");
  const std::string broken = condition + " and 'é' = 1";
  const Json d = decide(broken);
  ASSERT_EQ(d.value("branch", ""), "error") << d.dump().substr(0, 200);
  // Columns count characters: each 'é' is two bytes and one column.
  const std::size_t column = broken.size() - 2 - (300 * 2 + 1);
  EXPECT_NE(d.value("message", "").find("column " + std::to_string(column) + ": expected '=='"),
            std::string::npos)
      << d.value("message", "");
}

TEST(IfElse, DeepParenthesesAreAnErrorNotACrash) {
  const Json d = decide(std::string(100000, '(') + "1" + std::string(100000, ')'));
  ASSERT_EQ(d.value("branch", ""), "error") << d.dump().substr(0, 200);
  EXPECT_NE(d.value("message", "").find("nests deeper than"), std::string::npos)
      << d.value("message", "");
}

}  // namespace
}  // namespace blueprint::host
