// SPDX-License-Identifier: Apache-2.0
// A deployed agent that no longer compiles against the current plugins (issue 15, "no log
// floods"): its block types' plugin is removed by a reload, the build of the previous plugin
// generation keeps serving it, and the host says so once, not once per request; GET
// /v1/agents/{id} shows which generation serves it and why the current one cannot.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "support/api_helpers.hpp"
#include "support/http_client.hpp"
#include "support/test_host.hpp"

namespace blueprint::testing {
namespace {

namespace fs = std::filesystem;

std::size_t countOf(const std::string& text, const std::string& needle) {
  std::size_t count = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + needle.size()))
    ++count;
  return count;
}

TEST(AgentServing, AnAgentTheNewPluginsCannotCompileIsLoggedOnceAndShown) {
  TestHostOptions options;
  options.agents["hello"] = agent(
      "Hello", {blueprint("hello", {block("trigger", "api_trigger", {}, {{"trigger", "reply"}}),
                                    block("reply", "return_value", {{"value", "hi"}})})});
  TestHost host(options);
  ASSERT_TRUE(host.start());
  HttpClient admin(host.port(), host.adminKey());
  ASSERT_EQ(runSync(admin, "hello", "hello", Json::object()).status, 200);

  HttpResponse before = admin.get("/v1/agents/hello");
  ASSERT_EQ(before.status, 200) << before.body;
  // A new plugin build without the agent's block types: here, no core_blocks.so at all.
  fs::remove(host.pluginDir() / corePluginPath().filename());
  HttpResponse reload = admin.post("/v1/plugins/reload");
  ASSERT_EQ(reload.status, 200) << reload.body;

  constexpr int kRequests = 40;
  for (int i = 0; i < kRequests; ++i) {
    SyncRun run = runSync(admin, "hello", "hello", Json::object());
    ASSERT_EQ(run.status, 200) << run.body;  // the previous generation serves on
  }

  // One line when the reload found it cannot compile, none per request.
  const std::string log = host.output();
  EXPECT_EQ(countOf(log, "agent hello version 1 does not compile"), 1u) << log;

  const Json serving_before = before.json().value("serving", Json());
  ASSERT_TRUE(serving_before.is_object()) << before.body;
  EXPECT_EQ(serving_before["version"], 1);
  EXPECT_EQ(serving_before["generation"], serving_before["current_generation"]);
  EXPECT_TRUE(serving_before["error"].is_null()) << before.body;

  HttpResponse after = admin.get("/v1/agents/hello");
  ASSERT_EQ(after.status, 200) << after.body;
  const Json serving = after.json().value("serving", Json());
  ASSERT_TRUE(serving.is_object()) << after.body;
  EXPECT_EQ(serving["version"], 1);
  EXPECT_EQ(serving["generation"], serving_before["generation"]) << after.body;
  EXPECT_EQ(serving["current_generation"].get<std::uint64_t>(),
            serving_before["generation"].get<std::uint64_t>() + 1)
      << after.body;
  ASSERT_TRUE(serving["error"].is_string()) << after.body;
  EXPECT_NE(serving["error"].get<std::string>().find("api_trigger"), std::string::npos)
      << after.body;
}

}  // namespace
}  // namespace blueprint::testing
