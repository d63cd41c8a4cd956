// SPDX-License-Identifier: Apache-2.0
// native_json_test.cpp: the native JSON path of ABI 1.2 (docs/decisions/008). The same test
// blocks are built twice: test_blocks.so announces the host's JSON layout and gets fields,
// results and state as nlohmann::json objects; foreign_json_blocks.so announces another layout
// and must get the text path. Every blueprint here runs through both and must give the same
// answer; a C plugin (good_minimal.so) never gets the native path.
#include <gtest/gtest.h>

#include <climits>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>

#include "engine/json_text_size.hpp"
#include "engine/runner.hpp"
#include "plugins/plugin_manager.hpp"
#include "support/loaded_plugins.hpp"

namespace blueprint::host {
namespace {

namespace fs = std::filesystem;

testing::LoadedPlugins* const kNative = testing::LoadedPlugins::add(
    {fs::path(BLUEPRINT_PLUGIN_DIR) / "core_blocks.so",
     fs::path(BLUEPRINT_FIXTURE_PLUGIN_DIR) / "test_blocks/test_blocks.so"});
testing::LoadedPlugins* const kText = testing::LoadedPlugins::add(
    {fs::path(BLUEPRINT_PLUGIN_DIR) / "core_blocks.so",
     fs::path(BLUEPRINT_FIXTURE_PLUGIN_DIR) / "foreign_json_blocks/foreign_json_blocks.so"});
testing::LoadedPlugins* const kC = testing::LoadedPlugins::add(
    {fs::path(BLUEPRINT_FIXTURE_PLUGIN_DIR) / "good_minimal/good_minimal.so"});

class NullObserver final : public RunObserver {
 public:
  void onDelta(std::string_view) override {}
};

RunResult runOn(const Catalog& catalog, const char* blocks, const Json& payload = Json::object(),
                std::size_t max_output_bytes = 0) {
  const Json agent = {
      {"name", "native json test"},
      {"blueprints", Json::array({{{"id", "main"}, {"blocks", Json::parse(blocks)}}})}};
  auto compiled = CompiledAgent::compile(
      "native_json_test", 1, agent,
      std::shared_ptr<const Catalog>(std::shared_ptr<const Catalog>(), &catalog));
  RunOptions options;
  if (max_output_bytes > 0) options.limits.max_output_bytes = max_output_bytes;
  NullObserver observer;
  RunControl control;
  return Runner::run(*compiled, *compiled->find("main"), payload, options, observer, control);
}

std::string describe(const RunResult& r) {
  return "error='" + r.error + "' return=" + (r.return_value ? r.return_value->dump() : "none") +
         " trace=" + r.trace.dump();
}

TEST(NativeJson, SdkPluginsOfTheHostsLayoutGetTheNativePathOthersText) {
  EXPECT_TRUE(kNative->catalog()->find("test.echo")->native_json);
  EXPECT_TRUE(kNative->catalog()->find("set_state")->native_json);
  EXPECT_FALSE(kText->catalog()->find("test.echo")->native_json);
  EXPECT_FALSE(kC->catalog()->find("minimal.hello")->native_json);
}

/// Runs `blocks` on both builds; both must end the same way.
void expectSameOnBothPaths(const char* blocks, const Json& payload = Json::object(),
                           std::size_t max_output_bytes = 0) {
  RunResult native = runOn(*kNative->catalog(), blocks, payload, max_output_bytes);
  RunResult text = runOn(*kText->catalog(), blocks, payload, max_output_bytes);
  EXPECT_EQ(native.status, text.status) << describe(native) << " / " << describe(text);
  EXPECT_EQ(native.error, text.error);
  ASSERT_EQ(native.return_value.has_value(), text.return_value.has_value());
  if (native.return_value) {
    EXPECT_EQ(*native.return_value, *text.return_value);
  }
  ASSERT_EQ(native.trace.size(), text.trace.size());
  for (std::size_t i = 0; i < native.trace.size(); ++i) {
    EXPECT_EQ(native.trace[i]["block"], text.trace[i]["block"]);
    EXPECT_EQ(native.trace[i]["end_state"], text.trace[i]["end_state"]);
    EXPECT_EQ(native.trace[i].value("error", ""), text.trace[i].value("error", ""));
  }
}

TEST(NativeJson, FieldsAndResultsArriveTheSameAsOverText) {
  const Json payload = {{"inputs",
                         {{"name", "Zoë \"quoted\"\n\ttab \\ back"},
                          {"n", -42},
                          {"big", 18446744073709551615ULL},
                          {"f", 2.5},
                          {"list", {1, "two", nullptr, true, Json::object()}}}}};
  expectSameOnBothPaths(R"([
      {"id": "trigger", "type": "api_trigger", "next": {"trigger": "echo"}},
      {"id": "echo", "type": "test.echo", "fields": {"value": "@{payload.inputs}"},
       "next": {"success": "reply"}},
      {"id": "reply", "type": "return_value", "fields": {"value": "@{result}"}}])",
                        payload);
  RunResult r = runOn(*kNative->catalog(), R"([
      {"id": "trigger", "type": "api_trigger", "next": {"trigger": "echo"}},
      {"id": "echo", "type": "test.echo", "fields": {"value": "@{payload.inputs}"},
       "next": {"success": "reply"}},
      {"id": "reply", "type": "return_value", "fields": {"value": "@{result}"}}])",
                      payload);
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(*r.return_value, payload["inputs"]);
}

TEST(NativeJson, EndStatesErrorsAndExceptionsMatch) {
  expectSameOnBothPaths(R"([
      {"id": "trigger", "type": "api_trigger", "next": {"trigger": "pick"}},
      {"id": "pick", "type": "test.choose", "fields": {"state": "b"},
       "next": {"a": "ra", "b": "rb"}},
      {"id": "ra", "type": "return_value", "fields": {"value": "a"}},
      {"id": "rb", "type": "return_value", "fields": {"value": "@{result}"}}])");
  expectSameOnBothPaths(R"([
      {"id": "trigger", "type": "api_trigger", "next": {"trigger": "pick"}},
      {"id": "pick", "type": "test.choose", "fields": {"state": "error"},
       "next": {"error": "handled"}},
      {"id": "handled", "type": "return_value", "fields": {"value": "@{message}"}}])");
  expectSameOnBothPaths(R"([
      {"id": "trigger", "type": "api_trigger", "next": {"trigger": "boom"}},
      {"id": "boom", "type": "test.throws"}])");
}

TEST(NativeJson, TheOutputLimitCountsANativeResultAsItsExactText) {
  // Escapes, multi-byte characters and numbers: the native size must be the text's to the byte.
  for (std::size_t limit : {50u, 120u, 121u, 122u, 400u}) {
    SCOPED_TRACE("limit " + std::to_string(limit));
    expectSameOnBothPaths(R"([
        {"id": "trigger", "type": "api_trigger", "next": {"trigger": "echo"}},
        {"id": "echo", "type": "test.echo", "fields": {"value": "@{payload.inputs}"},
         "next": {"success": "reply"}},
        {"id": "reply", "type": "return_value", "fields": {"value": "@{result}"}}])",
                          {{"inputs",
                            {{"text", "line\nbreak \"q\" \u0001 é 日本 \\"},
                             {"numbers", {0, -1, 10, -12345678901LL, 42u, 1.5}},
                             {"nested", {{"a", {{"b", nullptr}}}, {"t", true}, {"f", false}}}}}},
                          limit);
  }
}

TEST(NativeJson, AResultThatIsNotUtf8FailsTheBlockInsteadOfTheResponse) {
  RunResult r = runOn(*kNative->catalog(), R"([
      {"id": "trigger", "type": "api_trigger", "next": {"trigger": "bad"}},
      {"id": "bad", "type": "test.invalid_utf8", "next": {"success": "reply"}},
      {"id": "reply", "type": "return_value", "fields": {"value": "@{result}"}}])");
  EXPECT_EQ(r.status, RunResult::Status::Error) << describe(r);
  EXPECT_EQ(r.error,
            "bad: the block returned output that is not valid JSON (a string is not UTF-8)");
  // Over text the SDK's serialiser refuses it inside the plugin: an error too, never a crash.
  RunResult t = runOn(*kText->catalog(), R"([
      {"id": "trigger", "type": "api_trigger", "next": {"trigger": "bad"}},
      {"id": "bad", "type": "test.invalid_utf8", "next": {"success": "reply"}},
      {"id": "reply", "type": "return_value", "fields": {"value": "@{result}"}}])");
  EXPECT_EQ(t.status, RunResult::Status::Error) << describe(t);
}

TEST(NativeJson, StateThatIsNotUtf8IsRefused) {
  RunResult r = runOn(*kNative->catalog(), R"([
      {"id": "trigger", "type": "api_trigger", "next": {"trigger": "bad"}},
      {"id": "bad", "type": "test.invalid_utf8", "fields": {"where": "state"},
       "next": {"success": "reply"}},
      {"id": "reply", "type": "return_value", "fields": {"value": "@{state}"}}])");
  EXPECT_EQ(r.status, RunResult::Status::Error) << describe(r);
  EXPECT_EQ(r.error, "bad: state value is not valid JSON (a string is not UTF-8)");
}

TEST(NativeJson, SetStateMovesTheValueIntoRunState) {
  expectSameOnBothPaths(R"([
      {"id": "trigger", "type": "api_trigger", "next": {"trigger": "s1"}},
      {"id": "s1", "type": "set_state", "fields": {"key": "order.id", "value": "@{payload.inputs.id}"},
       "next": {"success": "s2"}},
      {"id": "s2", "type": "set_state",
       "fields": {"key": "order.items", "value": "[1, 2, 3]", "value_type": "json"},
       "next": {"success": "reply"}},
      {"id": "reply", "type": "return_value", "fields": {"value": "@{state.order}"}}])",
                        {{"inputs", {{"id", "A-7"}}}});
  RunResult r = runOn(*kNative->catalog(), R"([
      {"id": "trigger", "type": "api_trigger", "next": {"trigger": "s1"}},
      {"id": "s1", "type": "set_state", "fields": {"key": "order.id", "value": "@{payload.inputs.id}"},
       "next": {"success": "reply"}},
      {"id": "reply", "type": "return_value", "fields": {"value": "@{state.order}"}}])",
                      {{"inputs", {{"id", "A-7"}}}});
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(*r.return_value, Json({{"id", "A-7"}}));
}

TEST(JsonTextSize, IsExactlyTheSizeOfTheCompactText) {
  const Json values[] = {
      nullptr,
      true,
      false,
      0,
      -1,
      9,
      10,
      std::numeric_limits<std::int64_t>::min(),
      std::numeric_limits<std::int64_t>::max(),
      std::numeric_limits<std::uint64_t>::max(),
      0.1,
      -1e300,
      "",
      "plain",
      "\"\\\b\f\n\r\t\x01\x1f\x7f/",
      "é 日本 🎉",
      Json::object(),
      Json::array(),
      {{"a", 1}},
      {{"a", {1, 2, {{"b", "c"}}}}, {"k\"ey", Json::array()}, {"e", Json::object()}},
      Json::array({Json::array({Json::array()})}),
  };
  for (const Json& v : values) {
    const JsonTextSize size = measureJsonText(v, SIZE_MAX);
    EXPECT_TRUE(size.valid_utf8) << v.dump();
    EXPECT_EQ(size.bytes, v.dump().size()) << v.dump();
  }
}

TEST(JsonTextSize, FindsStringsThatAreNotUtf8) {
  for (const char* bad :
       {"\xC3\x28", "\xFF", "\xE0\x80\x80", "\xED\xA0\x80", "\xF4\x90\x80\x80", "abc\xE2\x82"}) {
    EXPECT_FALSE(measureJsonText(Json(std::string(bad)), SIZE_MAX).valid_utf8) << bad;
    Json object = Json::object();
    object[std::string(bad)] = 1;
    EXPECT_FALSE(measureJsonText(object, SIZE_MAX).valid_utf8) << bad;
  }
}

TEST(JsonTextSize, StopsCountingPastTheLimit) {
  const Json big = Json::array({std::string(1000, 'x'), std::string(1000, 'y')});
  EXPECT_GT(measureJsonText(big, 10).bytes, 10u);
  EXPECT_LT(measureJsonText(big, 10).bytes, big.dump().size());
}

}  // namespace
}  // namespace blueprint::host
