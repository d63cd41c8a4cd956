// SPDX-License-Identifier: Apache-2.0
// blueprint/testing.hpp against our real core_blocks.so: what a block author's gtest looks like.
#include <gtest/gtest.h>
#include <blueprint/testing.hpp>

extern "C" int blueprint_abi_compiles_as_c(void);
int blueprint_abi_compiles_as_cpp();

namespace {

const std::string kCore = std::string(BLUEPRINT_PLUGIN_DIR) + "/core_blocks.so";

TEST(PluginUnderTest, RunsABlockThroughTheAbi) {
  blueprint::testing::PluginUnderTest plugin(kCore);
  auto out = plugin.run("set_state", {{"key", "order.id"}, {"value", 42}});
  EXPECT_EQ(out.status, BP_STATUS_OK);
  EXPECT_EQ(out.end_state, "success");
  EXPECT_EQ(out.output, 42);
  EXPECT_EQ(plugin.host().state["order"]["id"], 42);
}

TEST(PluginUnderTest, ReportsErrorsAndEndStates) {
  blueprint::testing::PluginUnderTest plugin(kCore);
  auto out = plugin.run("return_value", {{"value", nullptr}});
  EXPECT_EQ(out.status, BP_STATUS_ERROR);
  EXPECT_EQ(out.end_state, "error");
  EXPECT_EQ(out.error, "value is null");
  plugin.host().env["payload"] = {{"inputs", {{"a", 1}}}};
  auto trig = plugin.run("api_trigger", blueprint::testing::Json::object());
  EXPECT_EQ(trig.end_state, "trigger");
  EXPECT_EQ(trig.output["inputs"]["a"], 1);
}

TEST(PluginUnderTest, BacksTheKeyValueStore) {
  blueprint::testing::PluginUnderTest plugin(kCore);
  plugin.run("kv_storage", {{"action", "set"}, {"key", "k"}, {"value", "v"}});
  EXPECT_EQ(plugin.run("kv_storage", {{"action", "get"}, {"key", "k"}}).output, "v");
  EXPECT_EQ(plugin.run("kv_storage", {{"action", "delete"}, {"key", "k"}}).output, true);
  EXPECT_TRUE(plugin.run("kv_storage", {{"action", "get"}, {"key", "k"}}).output.is_null());
}

TEST(PluginUnderTest, ExposesTheManifest) {
  blueprint::testing::PluginUnderTest plugin(kCore);
  auto manifest = plugin.manifest();
  ASSERT_TRUE(manifest["blocks"].is_array());
  bool found = false;
  for (const auto& b : manifest["blocks"]) found = found || b["type"] == "return_value";
  EXPECT_TRUE(found);
}

// A block that relies on its manifest default (test.rendezvous reads `timeout_ms`, default
// 20000, with fields.at) runs in the harness as in the host: left out or null, the default
// applies.
TEST(PluginUnderTest, AppliesManifestDefaultsLikeTheHost) {
  blueprint::testing::PluginUnderTest plugin(std::string(BLUEPRINT_FIXTURE_PLUGIN_DIR) +
                                             "/test_blocks/test_blocks.so");
  plugin.host().state["rendezvous"]["b"] = true;
  auto left_out = plugin.run("test.rendezvous", {{"name", "a"}, {"wait_for", "b"}});
  EXPECT_EQ(left_out.error, "");
  EXPECT_EQ(left_out.end_state, "success");
  EXPECT_EQ(left_out.output, "met");
  auto null =
      plugin.run("test.rendezvous", {{"name", "a"}, {"wait_for", "b"}, {"timeout_ms", nullptr}});
  EXPECT_EQ(null.error, "");
  EXPECT_EQ(null.output, "met");
}

// The defaults come from the same rule the host compiles blueprints with.
TEST(FieldDefaults, GivenValueWinsUnlessNull) {
  const blueprint::testing::Json manifest = {
      {"type", "t"},
      {"fields",
       {{{"name", "level"}, {"type", "string"}, {"default", "info"}},
        {{"name", "text"}, {"type", "string"}}}}};
  EXPECT_EQ(blueprint::withFieldDefaults(manifest, blueprint::testing::Json::object()),
            (blueprint::testing::Json{{"level", "info"}}));
  EXPECT_EQ(blueprint::withFieldDefaults(manifest, {{"level", nullptr}, {"text", "x"}}),
            (blueprint::testing::Json{{"level", "info"}, {"text", "x"}}));
  EXPECT_EQ(blueprint::withFieldDefaults(manifest, {{"level", "error"}, {"extra", 1}}),
            (blueprint::testing::Json{{"level", "error"}, {"extra", 1}}));
  // Null without a default: left out, as the host compiles it.
  EXPECT_EQ(blueprint::withFieldDefaults(manifest, {{"text", nullptr}}),
            (blueprint::testing::Json{{"level", "info"}}));
}

TEST(PluginUnderTest, RefusesAMissingLibrary) {
  EXPECT_THROW(blueprint::testing::PluginUnderTest("/nonexistent/plugin.so"), std::runtime_error);
}

TEST(BlockAbi, CompilesAsCAndCpp) {
  EXPECT_EQ(blueprint_abi_compiles_as_c(), 2);  // a synchronous and an async (1.3) block type
  EXPECT_EQ(blueprint_abi_compiles_as_cpp(), BP_ABI_MAJOR);
}

}  // namespace
