// SPDX-License-Identifier: Apache-2.0
// tenancy_test.cpp: who sees what (issue 11, Tenancy), through a real host over real HTTP. Two
// invoke keys each see and control only their own jobs (get, events, cancel, retry, list), an
// admin key sees all of them, a key limited to some agents gets the 404 of an unknown agent for
// every other one and a filtered GET /v1/agents, a malformed agent pattern stops the start, and
// job ids are random UUID v4.
#include <Poco/DigestEngine.h>
#include <Poco/SHA2Engine.h>
#include <gtest/gtest.h>

#include <bitset>
#include <fstream>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "hostile/hostile_support.hpp"
#include "support/api_helpers.hpp"
#include "support/http_client.hpp"
#include "support/test_host.hpp"

namespace blueprint::testing {
namespace {

std::string sha256Hex(const std::string& text) {
  Poco::SHA2Engine engine(Poco::SHA2Engine::SHA_256);
  engine.update(text);
  return Poco::DigestEngine::digestToHex(engine.digest());
}

/// One blueprint `id`: API trigger, then `then` (a block with id "work") when given, then a
/// Return Value of "<agent>:<inputs.n>".
Json runnable(const std::string& agent_id, const std::string& id, Json then = nullptr) {
  std::vector<Json> blocks;
  if (then.is_null()) {
    blocks.push_back(block("trigger", "api_trigger", {}, {{"trigger", "reply"}}));
  } else {
    blocks.push_back(block("trigger", "api_trigger", {}, {{"trigger", "work"}}));
    then["next"] = {{"success", "reply"}};
    blocks.push_back(std::move(then));
  }
  blocks.push_back(block("reply", "return_value", {{"value", agent_id + ":@{payload.inputs.n}"}}));
  return blueprint(id, std::move(blocks));
}

Json tenantAgent(const std::string& agent_id) {
  return agent(agent_id,
               {runnable(agent_id, "ok"),
                runnable(agent_id, "fail", block("work", "test.fail", {{"message", "no"}})),
                runnable(agent_id, "slow", block("work", "test.sleep", {{"ms", 30000}}))});
}

const char* const kMissingJob = "00000000-0000-4000-8000-000000000000";

/// A host with agents billing, support-eu and hr, and five keys: ops (admin), client and
/// client2 (invoke), billing-ops (admin, agents billing and support-*) and billing-app (invoke,
/// agent billing).
class Tenancy : public ::testing::Test {
 protected:
  void SetUp() override {
    TestHostOptions options;
    options.plugins = {corePluginPath(), fixturePluginPath("test_blocks")};
    for (const char* id : {"billing", "support-eu", "hr"}) options.agents[id] = tenantAgent(id);
    host_ = std::make_unique<TestHost>(options);
    const Json keys = {
        {"keys",
         {{{"name", "ops"},
           {"sha256", sha256Hex(host_->adminKey())},
           {"scopes", {"admin", "invoke"}}},
          {{"name", "client"}, {"sha256", sha256Hex(host_->invokeKey())}, {"scopes", {"invoke"}}},
          {{"name", "client2"}, {"sha256", sha256Hex(kClient2Key)}, {"scopes", {"invoke"}}},
          {{"name", "billing-ops"},
           {"sha256", sha256Hex(kBillingOpsKey)},
           {"scopes", {"admin", "invoke"}},
           {"agents", {"billing", "support-*"}}},
          {{"name", "billing-app"},
           {"sha256", sha256Hex(kBillingAppKey)},
           {"scopes", {"invoke"}},
           {"agents", {"billing"}}}}}};
    std::ofstream(host_->dir() / "api-keys.json") << keys.dump(2);
    ASSERT_TRUE(host_->start());
  }

  HttpClient ops() const { return HttpClient(host_->port(), host_->adminKey()); }
  HttpClient client() const { return HttpClient(host_->port(), host_->invokeKey()); }
  HttpClient client2() const { return HttpClient(host_->port(), kClient2Key); }
  HttpClient billingOps() const { return HttpClient(host_->port(), kBillingOpsKey); }
  HttpClient billingApp() const { return HttpClient(host_->port(), kBillingAppKey); }

  static std::string createJob(const HttpClient& as, const std::string& agent_id,
                               const std::string& blueprint_id, int n) {
    HttpResponse r =
        as.postJson(triggerPath(agent_id, blueprint_id) + "/jobs", Json{{"inputs", {{"n", n}}}});
    EXPECT_EQ(r.status, 202) << r.body;
    return r.json().value("job_id", "");
  }

  /// The job ids of a GET /v1/agents/{agent}/jobs page, and its totalCount.
  static std::pair<std::set<std::string>, std::int64_t> listed(const HttpClient& as,
                                                               const std::string& agent_id) {
    HttpResponse r = as.get("/v1/agents/" + agent_id + "/jobs?limit=1000");
    EXPECT_EQ(r.status, 200) << r.body;
    std::set<std::string> ids;
    const Json page = r.json();
    for (const Json& job : page.value("result", Json::array())) ids.insert(job.value("job_id", ""));
    return {ids, page.value("totalCount", std::int64_t{-1})};
  }

  /// Asserts that `r` is exactly the answer for a job id that does not exist: 404 job_not_found
  /// and the same message, so another key's job is indistinguishable from no job.
  static void expectLikeAMissingJob(const HttpResponse& r, const std::string& id,
                                    const std::string& what) {
    EXPECT_EQ(r.status, 404) << what << ": " << r.body;
    EXPECT_EQ(r.errorCode(), "job_not_found") << what << ": " << r.body;
    EXPECT_EQ(r.json()["error"].value("message", ""),
              "job '" + id + "' does not exist (or has expired)")
        << what;
  }

  /// Asserts the answer of an agent that does not exist: 404 agent_not_found naming it.
  static void expectLikeAMissingAgent(const HttpResponse& r, const std::string& agent_id,
                                      const std::string& what) {
    EXPECT_EQ(r.status, 404) << what << ": " << r.body;
    EXPECT_EQ(r.errorCode(), "agent_not_found") << what << ": " << r.body;
    EXPECT_EQ(r.json()["error"].value("message", ""), "agent '" + agent_id + "' does not exist")
        << what;
  }

  /// Every way a key can reach a job by its id; each must answer as for a missing job.
  void expectNoAccess(const HttpClient& as, const std::string& id, const std::string& who) {
    const std::string path = "/v1/agents/jobs/" + id;
    expectLikeAMissingJob(as.get(path), id, who + " GET");
    expectLikeAMissingJob(as.get(path + "/events"), id, who + " events");
    expectLikeAMissingJob(as.post(path + "/cancel"), id, who + " cancel");
    expectLikeAMissingJob(as.post(path + "/retry"), id, who + " retry");
  }

  static constexpr const char* kClient2Key = "bp_client2_7f3a9c1e5b2d4f6a8c0e1b3d5f7a9c2e";
  static constexpr const char* kBillingOpsKey = "bp_billing_ops_2c4e6a8b0d1f3a5c7e9b1d3f5a7c9e0b";
  static constexpr const char* kBillingAppKey = "bp_billing_app_9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b";
  std::unique_ptr<TestHost> host_;
};

TEST_F(Tenancy, EachInvokeKeySeesAndControlsOnlyItsOwnJobs) {
  const std::string done = createJob(client(), "billing", "ok", 1);
  const std::string failed = createJob(client(), "billing", "fail", 2);
  const std::string running = createJob(client(), "billing", "slow", 3);
  const std::string other = createJob(client2(), "billing", "ok", 4);
  EXPECT_EQ(waitForJob(client(), done).value("status", ""), "completed");
  EXPECT_EQ(waitForJob(client(), failed).value("status", ""), "error");
  EXPECT_EQ(waitForJob(client2(), other).value("artifact", ""), "billing:4");

  // The missing job's own answer, then each of client's jobs seen by client2, and back.
  expectNoAccess(client2(), kMissingJob, "anyone");
  for (const std::string& id : {done, failed, running}) expectNoAccess(client2(), id, "client2");
  expectNoAccess(client(), other, "client");

  // Nothing changed: client2's cancel and retry reached nothing.
  EXPECT_EQ(client().get("/v1/agents/jobs/" + failed).json().value("status", ""), "error");
  const std::string running_status =
      client().get("/v1/agents/jobs/" + running).json().value("status", "");
  EXPECT_TRUE(running_status == "queued" || running_status == "in_progress") << running_status;

  // The owner still controls them: its own answers are the real ones.
  EXPECT_EQ(client().post("/v1/agents/jobs/" + done + "/cancel").status, 409);
  EXPECT_EQ(client().post("/v1/agents/jobs/" + failed + "/retry").status, 202);
  const HttpResponse cancelled = client().post("/v1/agents/jobs/" + running + "/cancel");
  EXPECT_TRUE(cancelled.status == 200 || cancelled.status == 202) << cancelled.body;

  // Listing: each key its own jobs, with a total that counts only those; an admin all of them.
  const auto [client_ids, client_total] = listed(client(), "billing");
  EXPECT_EQ(client_ids, (std::set<std::string>{done, failed, running}));
  EXPECT_EQ(client_total, 3);
  const auto [client2_ids, client2_total] = listed(client2(), "billing");
  EXPECT_EQ(client2_ids, (std::set<std::string>{other}));
  EXPECT_EQ(client2_total, 1);
  const auto [all_ids, all_total] = listed(ops(), "billing");
  EXPECT_EQ(all_ids, (std::set<std::string>{done, failed, running, other}));
  EXPECT_EQ(all_total, 4);

  // An admin key sees and follows every key's jobs.
  for (const std::string& id : {done, other}) {
    HttpResponse job = ops().get("/v1/agents/jobs/" + id);
    EXPECT_EQ(job.status, 200) << job.body;
    EXPECT_EQ(ops().get("/v1/agents/jobs/" + id + "/events").status, 200);
  }
  EXPECT_TRUE(stillServing(*host_));
}

TEST_F(Tenancy, ASyncRunIsItsCallersJobToo) {
  // Sync runs live in the host's memory, not in storage: the same rule holds there.
  const SyncRun run = runSync(client(), "billing", "ok", {{"n", 7}});
  ASSERT_EQ(run.status, 200) << run.body;
  ASSERT_FALSE(run.job_id.empty());
  EXPECT_EQ(client().get("/v1/agents/jobs/" + run.job_id).json().value("artifact", ""),
            "billing:7");
  expectNoAccess(client2(), run.job_id, "client2");
  EXPECT_EQ(ops().get("/v1/agents/jobs/" + run.job_id).status, 200);

  // A failed sync run: only its caller may retry it.
  const SyncRun failed = runSync(client(), "billing", "fail", {{"n", 8}});
  ASSERT_FALSE(failed.job_id.empty());
  expectLikeAMissingJob(client2().post("/v1/agents/jobs/" + failed.job_id + "/retry"),
                        failed.job_id, "client2 retry of a sync run");
  EXPECT_EQ(client().get("/v1/agents/jobs/" + failed.job_id).json().value("status", ""), "error");
  EXPECT_TRUE(stillServing(*host_));
}

TEST_F(Tenancy, AKeyLimitedToSomeAgentsFindsNoOtherAgent) {
  // GET /v1/agents lists only the agents on the key's list ("billing", "support-*").
  std::set<std::string> ids;
  const Json limited = billingOps().get("/v1/agents").json();
  for (const Json& a : limited["agents"]) ids.insert(a["id"].get<std::string>());
  EXPECT_EQ(ids, (std::set<std::string>{"billing", "support-eu"}));
  ids.clear();
  const Json all = ops().get("/v1/agents").json();
  for (const Json& a : all["agents"]) ids.insert(a["id"].get<std::string>());
  EXPECT_EQ(ids, (std::set<std::string>{"billing", "hr", "support-eu"}));

  const std::string hr_job = createJob(ops(), "hr", "ok", 1);
  const std::string billing_job = createJob(client(), "billing", "ok", 2);
  waitForJob(ops(), hr_job);
  waitForJob(client(), billing_job);

  // Every route that names an agent answers for "hr" as for an agent that does not exist.
  const std::string trigger = Json{{"inputs", {{"n", 1}}}}.dump();
  struct Call {
    std::string method, path, body;
  };
  const std::vector<Call> calls = {
      {"GET", "/v1/agents/hr", ""},
      {"PUT", "/v1/agents/hr", tenantAgent("hr").dump()},
      {"DELETE", "/v1/agents/hr", ""},
      {"POST", "/v1/agents/hr/deploy", ""},
      {"POST", "/v1/agents/hr/undeploy", ""},
      {"GET", "/v1/agents/hr/versions/1", ""},
      {"POST", "/v1/agents/hr/blueprints/ok", trigger},
      {"POST", "/v1/agents/hr/blueprints/ok/jobs", trigger},
      {"POST", "/v1/agents/hr/blueprints/ok/test", ""},
      {"GET", "/v1/agents/hr/jobs", ""},
  };
  for (const Call& call : calls) {
    expectLikeAMissingAgent(billingOps().request(call.method, call.path, call.body), "hr",
                            "billing-ops " + call.method + " " + call.path);
  }
  expectLikeAMissingAgent(
      billingApp().request("POST", "/v1/agents/support-eu/blueprints/ok", trigger), "support-eu",
      "billing-app trigger");
  expectLikeAMissingAgent(billingApp().get("/v1/agents/support-eu/jobs"), "support-eu",
                          "billing-app list");
  // An agent that really does not exist answers the same way.
  expectLikeAMissingAgent(ops().get("/v1/agents/nope"), "nope", "ops GET of a missing agent");

  // Nothing happened to hr, and a job of hr is as hidden as the agent, even from an admin key.
  HttpResponse hr = ops().get("/v1/agents/hr");
  ASSERT_EQ(hr.status, 200) << hr.body;
  EXPECT_EQ(hr.json()["deployed_version"], 1);
  EXPECT_EQ(runSync(ops(), "hr", "ok", {{"n", 3}}).status, 200);
  expectNoAccess(billingOps(), hr_job, "billing-ops");

  // Inside their lists the keys work as before: an exact id, a prefix, an admin's view of
  // another key's job.
  EXPECT_EQ(returnedText(runSync(billingApp(), "billing", "ok", {{"n", 4}}).events), "billing:4");
  EXPECT_EQ(returnedText(runSync(billingOps(), "support-eu", "ok", {{"n", 5}}).events),
            "support-eu:5");
  EXPECT_EQ(billingOps().get("/v1/agents/jobs/" + billing_job).status, 200);
  EXPECT_EQ(billingOps().get("/v1/agents/billing").status, 200);
  EXPECT_TRUE(stillServing(*host_));
}

TEST_F(Tenancy, JobIdsAreDistinctRandomUuidV4) {
  static const std::regex kUuidV4(
      "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  std::set<std::string> ids;
  std::size_t ones = 0;
  constexpr int kIds = 1000;
  const HttpClient as = client();
  const std::string body = Json{{"inputs", {{"n", 0}}}}.dump();
  for (int i = 0; i < kIds; ++i) {
    HttpResponse r = as.post(triggerPath("billing", "ok"), body);
    ASSERT_EQ(r.status, 200) << r.body;
    const std::string id = r.header("X-Job-Id");
    ASSERT_TRUE(std::regex_match(id, kUuidV4)) << id;
    ids.insert(id);
    // The 122 random bits: every hex digit but the version digit, and the variant digit's two
    // low bits.
    for (std::size_t at = 0; at < id.size(); ++at) {
      if (id[at] == '-' || at == 14) continue;
      const unsigned digit = static_cast<unsigned>(std::stoul(std::string(1, id[at]), nullptr, 16));
      ones += std::bitset<4>(at == 19 ? (digit & 3U) : digit).count();
    }
  }
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(kIds)) << "a job id came twice";
  // Fair coin flips: 61,000 expected ones, standard deviation ~175; 6 deviations is a bug.
  const double expected = kIds * 122 / 2.0;
  EXPECT_NEAR(static_cast<double>(ones), expected, 6 * 175.0);
  EXPECT_TRUE(stillServing(*host_));
}

TEST(TenancyKeysFile, AMalformedAgentPatternStopsTheStartNamingTheKey) {
  TestHost host;
  const Json keys = {
      {"keys",
       {{{"name", "ops"}, {"sha256", sha256Hex(host.adminKey())}, {"scopes", {"admin", "invoke"}}},
        {{"name", "tenant-b"},
         {"sha256", sha256Hex(host.invokeKey())},
         {"scopes", {"invoke"}},
         {"agents", {"billing", "sup*port"}}}}}};
  std::ofstream(host.dir() / "api-keys.json") << keys.dump(2);
  EXPECT_FALSE(host.start());
  const std::optional<int> code = host.waitExit(std::chrono::seconds(5));
  ASSERT_TRUE(code.has_value());
  EXPECT_NE(*code, 0);
  const std::string output = host.output();
  EXPECT_NE(output.find("key 'tenant-b'"), std::string::npos) << output;
  EXPECT_NE(output.find("'sup*port'"), std::string::npos) << output;
}

}  // namespace
}  // namespace blueprint::testing
