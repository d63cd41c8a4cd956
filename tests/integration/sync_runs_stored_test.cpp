// SPDX-License-Identifier: Apache-2.0
// store_sync_runs: finished sync runs written to storage behind their runs (SyncRunRecorder),
// so `GET /v1/agents/jobs/{X-Job-Id}` and `…/events` answer from every host sharing the
// database, and after a restart. Real hosts, real SQLite files, a real PostgreSQL server.
#include <gtest/gtest.h>

#include <thread>

#include "support/api_helpers.hpp"
#include "support/http_client.hpp"
#include "support/postgres_cluster.hpp"
#include "support/test_host.hpp"

namespace blueprint::testing {
namespace {

constexpr const char* kAdminKey = "bp_ops_sync_runs_stored_admin_key";
constexpr const char* kInvokeKey = "bp_client_sync_runs_stored_invoke_key";

/// trigger → return_value "hello <inputs.name>".
Json greeter() {
  return agent("Greeter",
               {blueprint("hi", {block("trigger", "api_trigger", {}, {{"trigger", "reply"}}),
                                 block("reply", "return_value",
                                       {{"value", "hello @{payload.inputs.name}"}})})});
}

TestHostOptions hostWith(const Json& config) {
  TestHostOptions o;
  o.plugins = {corePluginPath()};
  o.config = config;
  o.agents["greeter"] = greeter();
  o.admin_key = kAdminKey;
  o.invoke_key = kInvokeKey;
  return o;
}

/// Polls `path` until it answers 200 or `bound` passes; the last answer.
HttpResponse getWhenThere(const HttpClient& client, const std::string& path,
                          std::chrono::milliseconds bound) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  HttpResponse r = client.get(path);
  while (r.status != 200 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    r = client.get(path);
  }
  return r;
}

void expectStoredRun(const HttpClient& client, const std::string& id, const std::string& name) {
  HttpResponse job = getWhenThere(client, "/v1/agents/jobs/" + id, std::chrono::seconds(10));
  ASSERT_EQ(job.status, 200) << job.body;
  const Json j = job.json();
  EXPECT_EQ(j["status"], "completed") << job.body;
  EXPECT_EQ(j["artifact"], "hello " + name) << job.body;
  EXPECT_EQ(j["agent_id"], "greeter");
  ASSERT_TRUE(j["trace"].is_array()) << job.body;
  EXPECT_FALSE(j["trace"].empty()) << job.body;
  HttpResponse events = client.get("/v1/agents/jobs/" + id + "/events");
  ASSERT_EQ(events.status, 200) << events.body;
  EXPECT_NE(events.body.find("hello " + name), std::string::npos) << events.body;
  EXPECT_NE(events.body.find("[DONE]"), std::string::npos) << events.body;
}

TEST(SyncRunsStored, AlwaysKeepsASyncRunAcrossARestart) {
  TestHost host(hostWith({{"store_sync_runs", "always"}}));
  ASSERT_TRUE(host.start());
  HttpClient client(host.port(), kInvokeKey);
  SyncRun run = runSync(client, "greeter", "hi", {{"name", "Ada"}});
  ASSERT_EQ(run.status, 200) << run.body;
  ASSERT_FALSE(run.job_id.empty());

  ASSERT_TRUE(host.restart());  // SIGTERM writes what is still queued before storage closes
  client = HttpClient(host.port(), kInvokeKey);
  expectStoredRun(client, run.job_id, "Ada");
}

TEST(SyncRunsStored, AutoOnSqliteKeepsThemInMemoryOnly) {
  TestHost host(hostWith(Json::object()));
  ASSERT_TRUE(host.start());
  HttpClient client(host.port(), kInvokeKey);
  SyncRun run = runSync(client, "greeter", "hi", {{"name", "Ada"}});
  ASSERT_EQ(run.status, 200) << run.body;
  EXPECT_EQ(client.get("/v1/agents/jobs/" + run.job_id).status, 200);  // from memory
  ASSERT_TRUE(host.restart());
  client = HttpClient(host.port(), kInvokeKey);
  EXPECT_EQ(client.get("/v1/agents/jobs/" + run.job_id).status, 404);
}

TEST(SyncRunsStored, AnyHostOnSharedPostgresFindsARunOfAnother) {
  std::unique_ptr<PostgresCluster::Database> database;
  ASSERT_NO_THROW(database = sharedPostgresCluster().createDatabase());
  TestHost a(hostWith({{"storage", database->url()}}));
  TestHost b(hostWith({{"storage", database->url()}}));
  ASSERT_TRUE(a.start(std::chrono::seconds(90)));
  ASSERT_TRUE(b.start(std::chrono::seconds(90)));
  HttpClient on_a(a.port(), kInvokeKey), on_b(b.port(), kInvokeKey);

  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i) {
    SyncRun run = runSync(on_a, "greeter", "hi", {{"name", "n" + std::to_string(i)}});
    ASSERT_EQ(run.status, 200) << run.body;
    ids.push_back(run.job_id);
  }
  for (int i = 0; i < 20; ++i)
    expectStoredRun(on_b, ids[static_cast<std::size_t>(i)], "n" + std::to_string(i));
}

TEST(SyncRunsStored, AnUnknownModeIsAConfigurationError) {
  TestHost host(hostWith({{"store_sync_runs", "sometimes"}}));
  EXPECT_FALSE(host.start(std::chrono::seconds(10)));
  EXPECT_NE(host.output().find("store_sync_runs must be \"auto\", \"always\" or \"never\""),
            std::string::npos)
      << host.output();
}

}  // namespace
}  // namespace blueprint::testing
