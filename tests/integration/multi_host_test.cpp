// SPDX-License-Identifier: Apache-2.0
// Several hosts on one PostgreSQL database (DESIGN §6), all real: a throwaway cluster from
// support/postgres_cluster and blueprint-host processes from support/test_host.
//  - Jobs: three hosts take 1,000 async jobs round-robin; one is SIGKILLed mid-way; every job
//    ends completed with its own artifact, and no job reached its end more often than its
//    `attempts` admit. Each run appends "job-<n>" to a ledger file (test.record) just before its
//    Return Value, so the ledger counts the runs that got to the end, on whichever host.
//  - Agents: a draft save, deploy, rollback, undeploy, and delete-and-recreate through host A are
//    served by host B within a second (AgentService checks every 250 ms).
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/api_helpers.hpp"
#include "support/http_client.hpp"
#include "support/postgres_cluster.hpp"
#include "support/test_host.hpp"

namespace blueprint::testing {
namespace {

using Clock = std::chrono::steady_clock;

/// Hosts behind one load balancer share their keys.
constexpr const char* kAdminKey = "bp_ops_multi_host_test_admin_key";
constexpr const char* kInvokeKey = "bp_client_multi_host_test_invoke_key";

/// Start-up takes well under a second, but three sanitizer builds next to a PostgreSQL server on
/// a busy 2-core machine have taken over 20 s.
constexpr std::chrono::seconds kStartBound{90};

/// The database of one test: dropped when the test ends.
std::unique_ptr<PostgresCluster::Database> freshDatabase() {
  return sharedPostgresCluster().createDatabase();
}

TestHostOptions hostOn(const std::string& storage_url) {
  TestHostOptions o;
  o.plugins = {corePluginPath(), fixturePluginPath("test_blocks")};
  // Short leases so a killed host's jobs come back within seconds; the fallback poll is what
  // finds them (an expired lease is announced by nobody).
  o.config = {
      {"storage", storage_url}, {"job_workers", 4}, {"job_lease_ms", 2000}, {"job_poll_ms", 200}};
  o.admin_key = kAdminKey;
  o.invoke_key = kInvokeKey;
  return o;
}

/// trigger → test.sleep 50 ms → test.record "job-<n>" into `ledger` → return_value "job-<n>".
Json ledgerAgent(const std::string& ledger) {
  return agent(
      "Ledger",
      {blueprint(
          "work",
          {block("trigger", "api_trigger", {}, {{"trigger", "nap"}}),
           block("nap", "test.sleep", {{"ms", 50}}, {{"success", "note"}}),
           block("note", "test.record", {{"path", ledger}, {"line", "job-@{payload.inputs.n}"}},
                 {{"success", "reply"}}),
           block("reply", "return_value", {{"value", "job-@{payload.inputs.n}"}})})});
}

std::map<std::string, int> countLines(const std::string& path) {
  std::map<std::string, int> counts;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) ++counts[line];
  return counts;
}

TEST(MultiHost, ThousandJobsOnThreeHostsSurviveAKilledHost) {
  std::unique_ptr<PostgresCluster::Database> database;
  ASSERT_NO_THROW(database = freshDatabase());
  const std::string ledger = (std::filesystem::temp_directory_path() /
                              ("bp-multi-host-ledger-" + std::to_string(::getpid())))
                                 .string();
  std::filesystem::remove(ledger);

  std::vector<std::unique_ptr<TestHost>> hosts;
  for (int h = 0; h < 3; ++h) {
    TestHostOptions o = hostOn(database->url());
    // Every host loads the same agent file: the first deploys version 1, the others find it
    // unchanged in the shared database.
    o.agents["ledger"] = ledgerAgent(ledger);
    hosts.push_back(std::make_unique<TestHost>(o));
    ASSERT_TRUE(hosts.back()->start(kStartBound));
  }
  std::vector<HttpClient> clients;
  for (auto& host : hosts) clients.emplace_back(host->port(), kInvokeKey);

  constexpr int kJobs = 1000;
  constexpr int kKillAfter = kJobs / 2;
  constexpr std::size_t kVictim = 2;
  std::map<std::string, int> job_number;
  const HttpClient victim_ops(hosts[kVictim]->port(), "");
  auto victimIsRunningJobs = [&] {
    const std::string metrics = victim_ops.get("/metrics").body;
    const auto at = metrics.find("\nblueprint_runs_active ");
    return at != std::string::npos && metrics[at + 23] != '0';
  };
  bool killed = false;
  for (int n = 0; n < kJobs; ++n) {
    // From half-way on, the victim is SIGKILLed the moment it is seen running jobs (its runs
    // are then interrupted and must come back on the others when their leases expire), or at
    // the last job whatever it does. Submitting is usually faster than draining, so this is at
    // once; a slow build (sanitizers) may drain as fast as it submits, hence the check.
    if (!killed && n >= kKillAfter && (n == kJobs - 1 || victimIsRunningJobs())) {
      hosts[kVictim]->kill9();
      ASSERT_FALSE(hosts[kVictim]->running());
      killed = true;
    }
    const std::size_t live_hosts = killed ? 2 : 3;
    const HttpClient& client = clients[static_cast<std::size_t>(n) % live_hosts];
    HttpResponse r =
        client.postJson(triggerPath("ledger", "work") + "/jobs", {{"inputs", {{"n", n}}}});
    ASSERT_EQ(r.status, 202) << "job " << n << ": " << r.body;
    const std::string id = r.json().value("job_id", "");
    ASSERT_FALSE(id.empty()) << r.body;
    ASSERT_TRUE(job_number.emplace(id, n).second) << "job id " << id << " was given twice";
  }

  // 1,000 × 50 ms on 8-12 workers is ~5 s of work; the bound is for a loaded 2-core machine.
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  std::int64_t finished = 0;
  while (Clock::now() < deadline) {
    finished = 0;
    for (const char* status : {"completed", "error", "cancelled"})
      finished += clients[0]
                      .get(std::string("/v1/agents/ledger/jobs?limit=1&status=") + status)
                      .json()
                      .value("totalCount", std::int64_t{0});
    if (finished == kJobs) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  ASSERT_EQ(finished, kJobs) << "not every job ended within the bound";

  std::vector<Json> jobs;
  for (int offset = 0; offset < kJobs; offset += 500) {
    Json page =
        clients[1].get("/v1/agents/ledger/jobs?limit=500&offset=" + std::to_string(offset)).json();
    for (const Json& job : page["result"]) jobs.push_back(job);
  }
  ASSERT_EQ(jobs.size(), static_cast<std::size_t>(kJobs));

  const std::map<std::string, int> runs_to_the_end = countLines(ledger);
  int interrupted = 0;
  std::int64_t total_attempts = 0;
  for (const Json& job : jobs) {
    const std::string id = job.value("job_id", "");
    ASSERT_EQ(job_number.count(id), 1U) << "unknown job " << job.dump();
    const std::string name = "job-" + std::to_string(job_number[id]);
    SCOPED_TRACE(name + " " + id);
    EXPECT_EQ(job["status"], "completed") << job.dump();
    EXPECT_EQ(job["artifact"], name) << job.dump();
    const int attempts = job.value("attempts", 0);
    total_attempts += attempts;
    const auto ran = runs_to_the_end.find(name);
    const int completions = ran == runs_to_the_end.end() ? 0 : ran->second;
    EXPECT_GE(completions, 1) << "completed without its run reaching the end";
    // A second run to the end is allowed only as a counted attempt (at-least-once).
    EXPECT_LE(completions, attempts)
        << "ran to the end " << completions << " times, but attempts says " << attempts;
    if (attempts > 1) ++interrupted;
  }
  EXPECT_GT(interrupted, 0) << "the SIGKILL interrupted no running job, so the takeover of "
                               "expired leases was not exercised";
  std::size_t ledger_lines = 0;
  for (const auto& [line, count] : runs_to_the_end) ledger_lines += static_cast<std::size_t>(count);
  RecordProperty("jobs_taken_over", interrupted);
  RecordProperty("total_attempts", static_cast<int>(total_attempts));
  RecordProperty("runs_to_the_end", static_cast<int>(ledger_lines));
  if (!::testing::Test::HasFailure()) std::filesystem::remove(ledger);
}

TEST(MultiHost, AJobWhoseHostsKeepDyingEndsInErrorOnceOutOfAttempts) {
  std::unique_ptr<PostgresCluster::Database> database;
  ASSERT_NO_THROW(database = freshDatabase());
  TestHostOptions options = hostOn(database->url());
  options.config["job_max_attempts"] = 2;
  options.agents["slow"] =
      agent("Slow",
            {blueprint("work", {block("trigger", "api_trigger", {}, {{"trigger", "nap"}}),
                                block("nap", "test.sleep", {{"ms", 60000}}, {{"success", "reply"}}),
                                block("reply", "return_value", {{"value", "woke up"}})})});
  std::vector<std::unique_ptr<TestHost>> hosts;
  for (int h = 0; h < 3; ++h) hosts.push_back(std::make_unique<TestHost>(options));
  ASSERT_TRUE(hosts[0]->start(kStartBound));
  HttpClient first(hosts[0]->port(), kInvokeKey);
  HttpResponse r =
      first.postJson(triggerPath("slow", "work") + "/jobs", {{"inputs", Json::object()}});
  ASSERT_EQ(r.status, 202) << r.body;
  const std::string id = r.json().value("job_id", "");

  // Each host claims the job and dies running it; the next one takes it once the lease expires.
  for (int h = 0; h < 2; ++h) {
    if (h > 0) {
      ASSERT_TRUE(hosts[static_cast<std::size_t>(h)]->start(kStartBound));
    }
    HttpClient client(hosts[static_cast<std::size_t>(h)]->port(), kInvokeKey);
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    Json job;
    while (Clock::now() < deadline) {
      job = client.get("/v1/agents/jobs/" + id).json();
      if (job.value("status", "") == "in_progress" && job.value("attempts", 0) == h + 1) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_EQ(job.value("attempts", 0), h + 1) << job.dump();
    hosts[static_cast<std::size_t>(h)]->kill9();
  }

  // The third host claims it a third time, which is past job_max_attempts: it ends the job.
  ASSERT_TRUE(hosts[2]->start(kStartBound));
  HttpClient last(hosts[2]->port(), kInvokeKey);
  Json job = waitForJob(last, id, std::chrono::seconds(60));
  EXPECT_EQ(job["status"], "error") << job.dump();
  EXPECT_EQ(job["attempts"], 3) << job.dump();
  const std::string error = job.value("error", "");
  EXPECT_NE(error.find("ran out of attempts"), std::string::npos) << error;
  EXPECT_NE(error.find("job_max_attempts is 2"), std::string::npos) << error;
}

/// An agent whose one blueprint returns `text`.
Json replyAgent(const std::string& text) {
  return agent("Propagated",
               {blueprint("main", {block("trigger", "api_trigger", {}, {{"trigger", "reply"}}),
                                   block("reply", "return_value", {{"value", text}})})});
}

/// What a sync run of prop/main on `client` gives: the returned text, or the error code.
std::string served(const HttpClient& client) {
  SyncRun run = runSync(client, "prop", "main");
  if (run.status == 200) return returnedText(run.events);
  Json body = Json::parse(run.body, nullptr, false);
  if (body.is_object() && body.contains("error")) return body["error"].value("code", "?");
  return "status " + std::to_string(run.status);
}

/// Asks `client` until it serves `expected`, for at most one second: the propagation bound the
/// hosts promise (their check runs every 250 ms).
::testing::AssertionResult servesWithinASecond(const HttpClient& client,
                                               const std::string& expected) {
  const auto start = Clock::now();
  std::string last;
  while (true) {
    last = served(client);
    if (last == expected) return ::testing::AssertionSuccess();
    if (Clock::now() - start >= std::chrono::seconds(1)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return ::testing::AssertionFailure()
         << "host B still serves '" << last << "' a second later, not '" << expected << "'";
}

TEST(MultiHost, AgentChangesThroughOneHostAreServedByTheOther) {
  std::unique_ptr<PostgresCluster::Database> database;
  ASSERT_NO_THROW(database = freshDatabase());
  TestHost host_a(hostOn(database->url()));
  TestHost host_b(hostOn(database->url()));
  ASSERT_TRUE(host_a.start(kStartBound));
  ASSERT_TRUE(host_b.start(kStartBound));
  HttpClient admin_a(host_a.port(), kAdminKey);
  HttpClient admin_b(host_b.port(), kAdminKey);

  // A draft saved through A: B sees it at once (drafts are read from the database) and B
  // remembers that it is not deployed.
  ASSERT_EQ(admin_a.put("/v1/agents/prop", replyAgent("one")).status, 200);
  EXPECT_EQ(admin_b.get("/v1/agents/prop").json()["draft"]["name"], "Propagated");
  EXPECT_EQ(served(admin_b), "agent_not_deployed");

  HttpResponse deployed = admin_a.post("/v1/agents/prop/deploy", "{}");
  ASSERT_EQ(deployed.status, 200) << deployed.body;
  EXPECT_TRUE(servesWithinASecond(admin_b, "one"));

  // A new draft is what B's "Run blueprint" button runs, while B still serves version 1.
  ASSERT_EQ(admin_a.put("/v1/agents/prop", replyAgent("two")).status, 200);
  SyncRun draft_run = streamPost(admin_b, "/v1/agents/prop/blueprints/main/test", "{}");
  ASSERT_EQ(draft_run.status, 200) << draft_run.body;
  EXPECT_EQ(returnedText(draft_run.events), "two");
  EXPECT_EQ(served(admin_b), "one");

  ASSERT_EQ(admin_a.post("/v1/agents/prop/deploy", "{}").status, 200);
  EXPECT_TRUE(servesWithinASecond(admin_b, "two"));

  HttpResponse rollback = admin_a.post("/v1/agents/prop/deploy", R"({"version":1})");
  ASSERT_EQ(rollback.status, 200) << rollback.body;
  EXPECT_TRUE(servesWithinASecond(admin_b, "one"));

  ASSERT_EQ(admin_a.post("/v1/agents/prop/undeploy", "{}").status, 200);
  EXPECT_TRUE(servesWithinASecond(admin_b, "agent_not_deployed"));

  // Deleted and created again, the agent's numbers start over: B must not run its compiled
  // copy of the old version 1.
  ASSERT_EQ(admin_a.del("/v1/agents/prop").status, 200);
  EXPECT_TRUE(servesWithinASecond(admin_b, "agent_not_found"));
  ASSERT_EQ(admin_a.put("/v1/agents/prop", replyAgent("three")).status, 200);
  HttpResponse again = admin_a.post("/v1/agents/prop/deploy", "{}");
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.json()["deployed_version"], 1);
  EXPECT_TRUE(servesWithinASecond(admin_b, "three"));
}

}  // namespace
}  // namespace blueprint::testing
