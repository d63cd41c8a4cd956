// SPDX-License-Identifier: Apache-2.0
// Run limits (max_concurrent_runs, max_concurrent_runs_per_agent) through the real host: a sync
// run over a limit is answered 429 with Retry-After and `too_many_runs` at once; a job over it
// is accepted and waits for a slot; a waiting job can be cancelled.
#include <gtest/gtest.h>

#include <thread>

#include "support/api_helpers.hpp"
#include "support/http_client.hpp"
#include "support/sse_client.hpp"
#include "support/test_host.hpp"

namespace blueprint::testing {
namespace {

/// trigger → test.sleep(inputs.ms) → return_value "slept".
Json sleepyAgent() {
  return agent("Sleepy",
               {blueprint("nap", {block("trigger", "api_trigger", {}, {{"trigger", "nap"}}),
                                  block("nap", "test.sleep", {{"ms", "@{payload.inputs.ms}"}},
                                        {{"success", "reply"}}),
                                  block("reply", "return_value", {{"value", "slept"}})})});
}

TestHostOptions limitedHost(const Json& config) {
  TestHostOptions o;
  o.plugins = {corePluginPath(), fixturePluginPath("test_blocks")};
  o.config = config;
  o.agents["first"] = sleepyAgent();
  o.agents["second"] = sleepyAgent();
  return o;
}

/// Opens a sync run that sleeps `ms`: once open() answers 200 the run holds its slot.
std::unique_ptr<SseClient> openLongRun(const TestHost& host, const std::string& agent_id, int ms) {
  auto sse = std::make_unique<SseClient>(host.port(), host.invokeKey());
  const int status =
      sse->open("POST", triggerPath(agent_id, "nap"), Json{{"inputs", {{"ms", ms}}}}.dump());
  EXPECT_EQ(status, 200) << sse->readBody();
  return sse;
}

HttpResponse shortRun(const HttpClient& client, const std::string& agent_id) {
  return client.postJson(triggerPath(agent_id, "nap"), {{"inputs", {{"ms", 0}}}});
}

TEST(RunLimits, ASyncRunOverTheHostLimitIs429WithRetryAfterAndTheNextOneRuns) {
  TestHost host(limitedHost({{"max_concurrent_runs", 2}}));
  ASSERT_TRUE(host.start());
  HttpClient client(host.port(), host.invokeKey());
  auto one = openLongRun(host, "first", 1500);
  auto two = openLongRun(host, "second", 1500);

  HttpResponse refused = shortRun(client, "first");
  EXPECT_EQ(refused.status, 429) << refused.body;
  EXPECT_EQ(refused.errorCode(), "too_many_runs") << refused.body;
  EXPECT_EQ(refused.header("Retry-After"), "1");
  EXPECT_NE(refused.body.find("max_concurrent_runs"), std::string::npos) << refused.body;
  // The test run of the editor counts too.
  HttpClient admin(host.port(), host.adminKey());
  EXPECT_EQ(admin.post("/v1/agents/first/blueprints/nap/test").status, 429);

  // Ending both runs frees their slots.
  EXPECT_EQ(one->readToDone().back(), "[DONE]");
  EXPECT_EQ(two->readToDone().back(), "[DONE]");
  HttpResponse after = shortRun(client, "first");
  EXPECT_EQ(after.status, 200) << after.body;
  EXPECT_NE(after.body.find("slept"), std::string::npos) << after.body;
}

TEST(RunLimits, TheAgentLimitRefusesOnlyThatAgent) {
  TestHost host(limitedHost({{"max_concurrent_runs_per_agent", 1}}));
  ASSERT_TRUE(host.start());
  HttpClient client(host.port(), host.invokeKey());
  auto running = openLongRun(host, "first", 1500);

  HttpResponse refused = shortRun(client, "first");
  EXPECT_EQ(refused.status, 429) << refused.body;
  EXPECT_EQ(refused.errorCode(), "too_many_runs");
  EXPECT_NE(refused.body.find("agent 'first'"), std::string::npos) << refused.body;
  EXPECT_EQ(refused.header("Retry-After"), "1");

  HttpResponse other = shortRun(client, "second");
  EXPECT_EQ(other.status, 200) << other.body;
  EXPECT_EQ(running->readToDone().back(), "[DONE]");
  EXPECT_EQ(shortRun(client, "first").status, 200);
}

TEST(RunLimits, AJobOverTheLimitIsAcceptedAndWaitsForASlot) {
  TestHost host(limitedHost({{"max_concurrent_runs", 1}}));
  ASSERT_TRUE(host.start());
  HttpClient client(host.port(), host.invokeKey());
  auto running = openLongRun(host, "first", 2000);

  HttpResponse submitted =
      client.postJson(triggerPath("second", "nap") + "/jobs", {{"inputs", {{"ms", 0}}}});
  ASSERT_EQ(submitted.status, 202) << submitted.body;
  const std::string id = submitted.json().value("job_id", "");
  // Unlimited, this job ends within milliseconds; here it waits for the sync run's slot.
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  Json waiting = client.get("/v1/agents/jobs/" + id).json();
  EXPECT_FALSE(isFinalStatus(waiting.value("status", ""))) << waiting.dump();

  EXPECT_EQ(running->readToDone().back(), "[DONE]");
  Json done = waitForJob(client, id, std::chrono::seconds(15));
  EXPECT_EQ(done["status"], "completed") << done.dump();
  EXPECT_EQ(done["artifact"], "slept");
}

TEST(RunLimits, AJobWaitingForASlotCanBeCancelled) {
  TestHost host(limitedHost({{"max_concurrent_runs", 1}}));
  ASSERT_TRUE(host.start());
  HttpClient client(host.port(), host.invokeKey());
  auto running = openLongRun(host, "first", 3000);

  HttpResponse submitted =
      client.postJson(triggerPath("second", "nap") + "/jobs", {{"inputs", {{"ms", 0}}}});
  ASSERT_EQ(submitted.status, 202) << submitted.body;
  const std::string id = submitted.json().value("job_id", "");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  HttpResponse cancel = client.post("/v1/agents/jobs/" + id + "/cancel");
  EXPECT_LT(cancel.status, 300) << cancel.body;
  // It ends cancelled without waiting for the sync run (3 s) to give its slot back.
  Json done = waitForJob(client, id, std::chrono::seconds(15));
  EXPECT_EQ(done["status"], "cancelled") << done.dump();
  EXPECT_EQ(running->readToDone().back(), "[DONE]");
}

TEST(RunLimits, ANegativeLimitIsAConfigurationError) {
  TestHost host(limitedHost({{"max_concurrent_runs", -1}}));
  EXPECT_FALSE(host.start(std::chrono::seconds(10)));
  EXPECT_NE(host.output().find("max_concurrent_runs"), std::string::npos) << host.output();
}

}  // namespace
}  // namespace blueprint::testing
