// SPDX-License-Identifier: Apache-2.0
// The API the web console needs (issue 14) against the real blueprint-host: a job's inputs in
// GET /v1/agents/jobs/{id} (async jobs, sync runs, test runs; after a restart too), one numbered
// version's definition (GET /v1/agents/{id}/versions/{n}), /test with given inputs, and trace
// entries with start offsets on which concurrent branches overlap.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>

#include "support/api_helpers.hpp"
#include "support/http_client.hpp"
#include "support/postgres_cluster.hpp"
#include "support/test_host.hpp"

namespace blueprint::testing {
namespace {

Json greeter(const std::string& greeting) {
  return agent(
      "Greeter",
      {blueprint(
           "main",
           {block("trigger", "api_trigger",
                  {{"default_result", R"({"inputs":{"name":"Default"}})"}}, {{"trigger", "reply"}}),
            block("reply", "return_value", {{"value", greeting + " @{result.inputs.name}"}})}),
       blueprint("fail",
                 {block("trigger", "api_trigger", {}, {{"trigger", "reply"}}),
                  block("reply", "return_value", {{"value", "@{result.inputs.missing}"}})})});
}

/// Two branches that each wait until the other has started (test.rendezvous): they can only
/// finish when they run at the same time.
Json meeting() {
  return agent(
      "Meeting",
      {blueprint("main",
                 {block("trigger", "api_trigger", {}, {{"trigger", Json::array({"r1", "r2"})}}),
                  block("r1", "test.rendezvous", {{"name", "one"}, {"wait_for", "two"}},
                        {{"success", "reply"}}),
                  block("r2", "test.rendezvous", {{"name", "two"}, {"wait_for", "one"}},
                        {{"success", "reply"}}),
                  block("reply", "return_value", {{"value", "@{results.r1} @{results.r2}"}})})});
}

TestHostOptions options(const std::string& storage = "") {
  TestHostOptions o;
  o.plugins.push_back(fixturePluginPath("test_blocks"));
  o.agents["greeter"] = greeter("Hello");
  o.agents["meeting"] = meeting();
  if (!storage.empty()) o.config["storage"] = storage;
  return o;
}

const Json kInputs = {{"name", "Ada"}, {"tags", {"x", 1, nullptr}}, {"nested", {{"deep", true}}}};

Json getJob(const HttpClient& client, const std::string& id) {
  HttpResponse r = client.get("/v1/agents/jobs/" + id);
  EXPECT_EQ(r.status, 200) << r.body;
  return r.json();
}

std::string submitJob(const HttpClient& client, const std::string& agent_id,
                      const std::string& blueprint_id, const Json& inputs) {
  HttpResponse r =
      client.post(triggerPath(agent_id, blueprint_id) + "/jobs", Json{{"inputs", inputs}}.dump());
  EXPECT_EQ(r.status, 202) << r.body;
  return r.json().value("job_id", "");
}

TEST(ConsoleApi, AJobShowsItsInputsAlsoAfterARestart) {
  TestHost host(options());
  ASSERT_TRUE(host.start());
  HttpClient invoke(host.port(), host.invokeKey());
  const std::string id = submitJob(invoke, "greeter", "main", kInputs);
  Json job = waitForJob(invoke, id);
  EXPECT_EQ(job["status"], "completed") << job.dump();
  EXPECT_EQ(job["inputs"], kInputs) << job.dump();

  // Listed jobs leave the inputs out (a page of 1,000 jobs must stay small).
  HttpResponse list = invoke.get("/v1/agents/greeter/jobs");
  ASSERT_EQ(list.status, 200) << list.body;
  ASSERT_FALSE(list.json()["result"].empty());
  EXPECT_FALSE(list.json()["result"][0].contains("inputs"));

  ASSERT_TRUE(host.restart());
  HttpClient after(host.port(), host.invokeKey());
  EXPECT_EQ(getJob(after, id)["inputs"], kInputs);
}

TEST(ConsoleApi, AJobShowsItsInputsOnTheMemoryBackend) {
  TestHost host(options("memory:"));
  ASSERT_TRUE(host.start());
  HttpClient invoke(host.port(), host.invokeKey());
  const std::string id = submitJob(invoke, "greeter", "main", kInputs);
  EXPECT_EQ(waitForJob(invoke, id)["inputs"], kInputs);
}

TEST(ConsoleApi, AJobShowsItsInputsOnPostgreSql) {
  std::unique_ptr<PostgresCluster::Database> database = sharedPostgresCluster().createDatabase();
  TestHost host(options(database->url()));
  ASSERT_TRUE(host.start(std::chrono::seconds(90)));
  HttpClient invoke(host.port(), host.invokeKey());
  const std::string id = submitJob(invoke, "greeter", "main", kInputs);
  EXPECT_EQ(waitForJob(invoke, id, std::chrono::seconds(30))["inputs"], kInputs);
}

TEST(ConsoleApi, ASyncRunsRecordShowsItsInputs) {
  TestHost host(options());
  ASSERT_TRUE(host.start());
  HttpClient invoke(host.port(), host.invokeKey());
  SyncRun run = runSync(invoke, "greeter", "main", kInputs);
  ASSERT_EQ(run.status, 200) << run.body;
  ASSERT_FALSE(run.job_id.empty());
  Json job = getJob(invoke, run.job_id);
  EXPECT_EQ(job["status"], "completed") << job.dump();
  EXPECT_EQ(job["inputs"], kInputs) << job.dump();
}

TEST(ConsoleApi, ATestRunUsesGivenInputsElseTheDefaultResult) {
  TestHost host(options());
  ASSERT_TRUE(host.start());
  HttpClient admin(host.port(), host.adminKey());
  ASSERT_EQ(admin.put("/v1/agents/greeter", greeter("Draft")).status, 200);
  const std::string test_path = triggerPath("greeter", "main") + "/test";

  SyncRun given = streamPost(admin, test_path, Json{{"inputs", kInputs}}.dump());
  ASSERT_EQ(given.status, 200) << given.body;
  EXPECT_EQ(returnedText(given.events), "Draft Ada");
  EXPECT_EQ(getJob(admin, given.job_id)["inputs"], kInputs);

  for (const char* empty : {"", "{}"}) {
    SCOPED_TRACE(std::string("body '") + empty + "'");
    SyncRun run = streamPost(admin, test_path, empty);
    ASSERT_EQ(run.status, 200) << run.body;
    EXPECT_EQ(returnedText(run.events), "Draft Default");
    EXPECT_TRUE(getJob(admin, run.job_id)["inputs"].is_null());
  }

  // The trigger's body errors, word for word the same kind.
  for (const char* bad : {R"({"inputs":[]})", R"({"inputs":"x"})", R"({"name":"Ada"})", "[1]",
                          R"("text")", R"({"inputs":)"}) {
    SCOPED_TRACE(bad);
    HttpResponse r = admin.post(test_path, bad);
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(r.errorCode(), "invalid_request") << r.body;
    HttpResponse trigger = admin.post(triggerPath("greeter", "main"), bad);
    EXPECT_EQ(trigger.status, 400) << trigger.body;
  }

  // A failed test run ran a draft: it is run again with /test, never retried as a job.
  ASSERT_EQ(admin.put("/v1/agents/greeter", greeter("Draft")).status, 200);
  SyncRun failed =
      streamPost(admin, triggerPath("greeter", "fail") + "/test", Json{{"inputs", kInputs}}.dump());
  ASSERT_EQ(failed.status, 200) << failed.body;
  EXPECT_EQ(getJob(admin, failed.job_id)["status"], "error");
  HttpResponse retry = admin.post("/v1/agents/jobs/" + failed.job_id + "/retry");
  EXPECT_EQ(retry.status, 409) << retry.body;
  EXPECT_EQ(retry.errorCode(), "job_not_retryable");
}

TEST(ConsoleApi, AVersionsDefinitionIsServedBesideTheDraft) {
  TestHost host(options());
  ASSERT_TRUE(host.start());
  HttpClient admin(host.port(), host.adminKey());
  // greeter v1 was deployed at start-up; v2 is "Hi", and the draft is "Draft".
  ASSERT_EQ(admin.put("/v1/agents/greeter", greeter("Hi")).status, 200);
  ASSERT_EQ(admin.post("/v1/agents/greeter/deploy").status, 200);
  ASSERT_EQ(admin.put("/v1/agents/greeter", greeter("Draft")).status, 200);

  HttpResponse v1 = admin.get("/v1/agents/greeter/versions/1");
  ASSERT_EQ(v1.status, 200) << v1.body;
  EXPECT_EQ(v1.json()["id"], "greeter");
  EXPECT_EQ(v1.json()["version"], 1);
  EXPECT_EQ(v1.json()["deployed"], false);
  EXPECT_EQ(v1.json()["definition"], greeter("Hello"));
  EXPECT_TRUE(v1.json()["created_at"].is_number_integer());
  ASSERT_EQ(v1.json()["blueprints"].size(), 2u);
  EXPECT_EQ(v1.json()["blueprints"][0]["api_trigger"], true);

  HttpResponse v2 = admin.get("/v1/agents/greeter/versions/2");
  ASSERT_EQ(v2.status, 200) << v2.body;
  EXPECT_EQ(v2.json()["deployed"], true);
  EXPECT_EQ(v2.json()["definition"], greeter("Hi"));
  EXPECT_EQ(admin.get("/v1/agents/greeter").json()["draft"], greeter("Draft"));

  // Rolling back moves "deployed"; the definitions stay as they were.
  ASSERT_EQ(admin.post("/v1/agents/greeter/deploy", R"({"version":1})").status, 200);
  EXPECT_EQ(admin.get("/v1/agents/greeter/versions/1").json()["deployed"], true);
  EXPECT_EQ(admin.get("/v1/agents/greeter/versions/2").json()["deployed"], false);

  HttpResponse unknown = admin.get("/v1/agents/greeter/versions/3");
  EXPECT_EQ(unknown.status, 404) << unknown.body;
  EXPECT_EQ(unknown.errorCode(), "version_not_found");
  HttpResponse no_agent = admin.get("/v1/agents/nobody/versions/1");
  EXPECT_EQ(no_agent.status, 404) << no_agent.body;
  EXPECT_EQ(no_agent.errorCode(), "agent_not_found");
  HttpClient invoke(host.port(), host.invokeKey());
  EXPECT_EQ(invoke.get("/v1/agents/greeter/versions/1").status, 403);
  EXPECT_EQ(HttpClient(host.port(), "").get("/v1/agents/greeter/versions/1").status, 401);
  EXPECT_EQ(admin.post("/v1/agents/greeter/versions/1").status, 405);
}

TEST(ConsoleApi, TraceEntriesStartWhereTheyRanSoConcurrentBranchesOverlap) {
  TestHost host(options());
  ASSERT_TRUE(host.start());
  HttpClient invoke(host.port(), host.invokeKey());
  const std::string id = submitJob(invoke, "meeting", "main", Json::object());
  Json job = waitForJob(invoke, id, std::chrono::seconds(30));
  ASSERT_EQ(job["status"], "completed") << job.dump();
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> span;  // block → [start, end]
  for (const Json& e : job["trace"]) {
    ASSERT_TRUE(e.contains("start_us") && e["start_us"].is_number_integer()) << e.dump();
    const std::int64_t start = e["start_us"].get<std::int64_t>();
    EXPECT_GE(start, 0) << e.dump();
    span[e["block"].get<std::string>()] = {start, start + e["duration_us"].get<std::int64_t>()};
  }
  ASSERT_EQ(span.size(), 4u) << job["trace"].dump();
  // Each rendezvous block waited for the other to start: their intervals overlap.
  EXPECT_LT(span["r1"].first, span["r2"].second) << job["trace"].dump();
  EXPECT_LT(span["r2"].first, span["r1"].second) << job["trace"].dump();
  // A chain is in order: the branches start after the trigger ends, the join after both.
  EXPECT_GE(span["r1"].first, span["trigger"].second);
  EXPECT_GE(span["reply"].first, std::max(span["r1"].second, span["r2"].second));

  // A sync run's trace (kept compact until read) has them too.
  SyncRun run = runSync(invoke, "greeter", "main", kInputs);
  ASSERT_EQ(run.status, 200) << run.body;
  const Json sync_job = getJob(invoke, run.job_id);  // kept: the loop reads into it
  for (const Json& e : sync_job["trace"])
    EXPECT_TRUE(e.contains("start_us") && e["start_us"].is_number_integer()) << e.dump();
}

}  // namespace
}  // namespace blueprint::testing
