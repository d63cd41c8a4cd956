// SPDX-License-Identifier: Apache-2.0
// The HTTP API of DESIGN §2 through real HTTP against the real blueprint-host binary and the
// real plugin .so files: sync and async runs, jobs, agents, validation, bad input, operations.
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "support/api_helpers.hpp"
#include "support/http_client.hpp"
#include "support/sse_client.hpp"
#include "support/test_host.hpp"

namespace blueprint::testing {
namespace {

/// The agent most tests use: a streamed greeting, an object return, a failing return, and a
/// blueprint without an API trigger.
Json demoAgent() {
  return agent(
      "Demo",
      {blueprint(
           "hello",
           {block("trigger", "api_trigger", {{"default_result", R"({"inputs":{"name":"World"}})"}},
                  {{"trigger", "emit"}}),
            block("emit", "test.emit", {{"parts", {"one", "two"}}}, {{"success", "reply"}}),
            block("reply", "return_value", {{"value", "Hello, @{results.trigger.inputs.name}!"}})}),
       blueprint("object", {block("trigger", "api_trigger", {}, {{"trigger", "reply"}}),
                            block("reply", "return_value", {{"value", "@{result.inputs}"}})}),
       blueprint("fail", {block("trigger", "api_trigger", {}, {{"trigger", "reply"}}),
                          block("reply", "return_value", {{"value", "@{result.inputs.missing}"}})}),
       blueprint("no_trigger", {block("log", "log_message", {{"message", "hi"}})})});
}

TestHostOptions demoOptions() {
  TestHostOptions o;
  o.plugins = {corePluginPath(), fixturePluginPath("test_blocks")};
  o.agents["demo"] = demoAgent();
  return o;
}

/// A started host with the demo agent deployed, and clients for both keys.
class HttpApi : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(host_.start()); }

  HttpClient invoke() const { return HttpClient(host_.port(), host_.invokeKey()); }
  HttpClient admin() const { return HttpClient(host_.port(), host_.adminKey()); }

  std::string createJob(const std::string& blueprint_id, const Json& inputs) {
    HttpResponse r =
        invoke().postJson(triggerPath("demo", blueprint_id) + "/jobs", Json{{"inputs", inputs}});
    EXPECT_EQ(r.status, 202) << r.body;
    return r.json().value("job_id", "");
  }

  TestHost host_{demoOptions()};
};

TEST_F(HttpApi, SyncRunStreamsTheDocumentedEventsInOrder) {
  SseClient sse(host_.port(), host_.invokeKey());
  ASSERT_EQ(sse.open("POST", triggerPath("demo", "hello"), R"({"inputs":{"name":"Ada"}})"), 200);
  EXPECT_EQ(sse.header("Content-Type"), "text/event-stream");
  EXPECT_EQ(sse.header("Cache-Control"), "no-cache");
  EXPECT_EQ(sse.header("X-Accel-Buffering"), "no");
  const std::string job_id = sse.header("X-Job-Id");
  ASSERT_FALSE(job_id.empty());
  const std::vector<std::string> expected = {inProgressEvent(),         executingEvent("hello"),
                                             deltaEvent("one"),         deltaEvent("two"),
                                             deltaEvent("Hello, Ada!"), "[DONE]"};
  EXPECT_EQ(sse.readToDone(), expected);

  HttpResponse r = invoke().get("/v1/agents/jobs/" + job_id);
  ASSERT_EQ(r.status, 200) << r.body;
  Json job = r.json();
  EXPECT_EQ(job["job_id"], job_id);
  EXPECT_EQ(job["agent_id"], "demo");
  EXPECT_EQ(job["blueprint_id"], "hello");
  EXPECT_EQ(job["agent_version"], 1);
  EXPECT_EQ(job["status"], "completed");
  EXPECT_EQ(job["artifact"], "Hello, Ada!");
  EXPECT_TRUE(job["error"].is_null());
  EXPECT_EQ(job["attempts"], 1);
  EXPECT_TRUE(isIsoTime(job["created_at"])) << job.dump();
  EXPECT_TRUE(isIsoTime(job["started_at"])) << job.dump();
  EXPECT_TRUE(isIsoTime(job["finished_at"])) << job.dump();
  // The trace is kept compact during the run and built when the job is first read.
  ASSERT_TRUE(job["trace"].is_array()) << job.dump();
  ASSERT_EQ(job["trace"].size(), 3u) << job.dump();
  const char* blocks[] = {"trigger", "emit", "reply"};
  const char* types[] = {"api_trigger", "test.emit", "return_value"};
  const char* end_states[] = {"trigger", "success", "success"};
  for (std::size_t i = 0; i < 3; ++i) {
    const Json& entry = job["trace"][i];
    EXPECT_EQ(entry["block"], blocks[i]) << entry.dump();
    EXPECT_EQ(entry["type"], types[i]) << entry.dump();
    EXPECT_EQ(entry["end_state"], end_states[i]) << entry.dump();
    EXPECT_TRUE(entry["duration_us"].is_number_integer()) << entry.dump();
  }
  EXPECT_EQ(invoke().get("/v1/agents/jobs/" + job_id).json()["trace"], job["trace"]);
}

TEST_F(HttpApi, AHostOnSqliteMapsNoPostgresqlLibraries) {
  // PostgreSQL storage is a module loaded only for postgresql:// URLs: libpq and the libraries
  // it needs (TLS, Kerberos, LDAP, …) stay out of the default host's memory.
  std::ifstream maps("/proc/" + std::to_string(host_.pid()) + "/maps");
  ASSERT_TRUE(maps) << "cannot read the host's memory map";
  std::string line;
  std::size_t lines = 0;
  while (std::getline(maps, line)) {
    ++lines;
    EXPECT_EQ(line.find("libpq"), std::string::npos) << line;
    EXPECT_EQ(line.find("blueprint_storage_postgres"), std::string::npos) << line;
    EXPECT_EQ(line.find("libgssapi"), std::string::npos) << line;
  }
  EXPECT_GT(lines, 10u);
}

TEST_F(HttpApi, SyncRunSerialisesANonStringReturnValue) {
  const Json inputs = {{"a", 1}, {"b", {true, nullptr}}, {"c", "x"}};
  SyncRun run = runSync(invoke(), "demo", "object", inputs);
  ASSERT_EQ(run.status, 200) << run.body;
  ASSERT_EQ(run.events.size(), 4u);
  EXPECT_EQ(run.events[0], inProgressEvent());
  EXPECT_EQ(run.events[1], executingEvent("object"));
  EXPECT_EQ(run.events[3], "[DONE]");
  const std::string text = returnedText(run.events);
  EXPECT_EQ(Json::parse(text, nullptr, false), inputs) << text;
  EXPECT_EQ(run.events[2], deltaEvent(inputs.dump()));

  Json job = invoke().get("/v1/agents/jobs/" + run.job_id).json();
  EXPECT_EQ(job["status"], "completed");
  ASSERT_TRUE(job["artifact"].is_string()) << job.dump();
  EXPECT_EQ(Json::parse(job["artifact"].get<std::string>(), nullptr, false), inputs);
}

TEST_F(HttpApi, FailingRunEndsWithErrorEventNamingTheBlock) {
  SyncRun run = runSync(invoke(), "demo", "fail", Json::object());
  ASSERT_EQ(run.status, 200) << run.body;
  ASSERT_EQ(run.events.size(), 4u);
  EXPECT_EQ(run.events[0], inProgressEvent());
  EXPECT_EQ(run.events[1], executingEvent("fail"));
  Json error = Json::parse(run.events[2], nullptr, false);
  ASSERT_TRUE(error.is_object()) << run.events[2];
  EXPECT_EQ(error.size(), 2u) << run.events[2];
  EXPECT_EQ(error["status"], "error");
  ASSERT_TRUE(error["message"].is_string());
  EXPECT_EQ(error["message"].get<std::string>().rfind("reply: ", 0), 0u) << run.events[2];
  EXPECT_EQ(run.events[2].rfind(R"({"status":"error","message":)", 0), 0u) << run.events[2];
  EXPECT_EQ(run.events[3], "[DONE]");

  Json job = invoke().get("/v1/agents/jobs/" + run.job_id).json();
  EXPECT_EQ(job["status"], "error");
  EXPECT_TRUE(job["artifact"].is_null());
  ASSERT_TRUE(job["error"].is_string()) << job.dump();
  EXPECT_NE(job["error"].get<std::string>().find("reply"), std::string::npos) << job.dump();
}

TEST_F(HttpApi, AsyncJobIsQueuedThenCompletesWithItsArtifact) {
  HttpResponse r =
      invoke().postJson(triggerPath("demo", "hello") + "/jobs", {{"inputs", {{"name", "Bob"}}}});
  ASSERT_EQ(r.status, 202) << r.body;
  Json accepted = r.json();
  ASSERT_TRUE(accepted.is_object());
  EXPECT_EQ(accepted.size(), 3u) << r.body;
  EXPECT_EQ(accepted["status"], "queued");
  EXPECT_TRUE(isIsoTime(accepted["created_at"])) << r.body;
  const std::string id = accepted.value("job_id", "");
  ASSERT_FALSE(id.empty());

  Json job = waitForJob(invoke(), id);
  EXPECT_EQ(job["status"], "completed") << job.dump();
  EXPECT_EQ(job["artifact"], "Hello, Bob!");
  EXPECT_EQ(job["agent_id"], "demo");
  EXPECT_EQ(job["blueprint_id"], "hello");
  EXPECT_EQ(job["agent_version"], 1);
  EXPECT_EQ(job["attempts"], 1);
  EXPECT_EQ(job["created_at"], accepted["created_at"]);
  EXPECT_TRUE(isIsoTime(job["started_at"]));
  EXPECT_TRUE(isIsoTime(job["finished_at"]));

  // The stored events replay the same stream a sync caller would have seen.
  SseClient sse(host_.port(), host_.invokeKey());
  ASSERT_EQ(sse.open("GET", "/v1/agents/jobs/" + id + "/events"), 200);
  EXPECT_EQ(sse.header("Content-Type"), "text/event-stream");
  const std::vector<std::string> expected = {inProgressEvent(),         executingEvent("hello"),
                                             deltaEvent("one"),         deltaEvent("two"),
                                             deltaEvent("Hello, Bob!"), "[DONE]"};
  EXPECT_EQ(sse.readToDone(), expected);

  // Counted as an async run (before its result was stored, so already visible now).
  const std::string metrics = HttpClient(host_.port(), "").get("/metrics").body;
  EXPECT_NE(metrics.find("blueprint_runs_total{kind=\"async\",status=\"completed\"} 1\n"),
            std::string::npos)
      << metrics;
}

TEST_F(HttpApi, ListsJobsNewestFirstWithPaginationAndStatusFilter) {
  // created_at has millisecond resolution: space the jobs so "newest" is well defined.
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(createJob(i % 2 == 0 ? "hello" : "fail", {{"name", std::to_string(i)}}));
    std::this_thread::sleep_for(std::chrono::milliseconds(3));
  }
  for (const auto& id : ids) waitForJob(invoke(), id);

  HttpResponse all = invoke().get("/v1/agents/demo/jobs");
  ASSERT_EQ(all.status, 200) << all.body;
  Json page = all.json();
  EXPECT_EQ(page["totalCount"], 5);
  ASSERT_EQ(page["result"].size(), 5u);
  for (std::size_t i = 0; i < 5; ++i) EXPECT_EQ(page["result"][i]["job_id"], ids[4 - i]);

  auto pageIds = [&](const std::string& query, Json* out = nullptr) {
    HttpResponse r = invoke().get("/v1/agents/demo/jobs?" + query);
    EXPECT_EQ(r.status, 200) << query << ": " << r.body;
    Json j = r.json();
    if (out != nullptr) *out = j;
    std::vector<std::string> got;
    for (const Json& job : j["result"]) got.push_back(job["job_id"]);
    return got;
  };
  Json p;
  EXPECT_EQ(pageIds("limit=2&offset=0", &p), (std::vector<std::string>{ids[4], ids[3]}));
  EXPECT_EQ(p["pagination"], (Json{{"limit", 2}, {"offset", 0}}));
  EXPECT_EQ(p["totalCount"], 5);
  EXPECT_EQ(pageIds("limit=2&offset=2", &p), (std::vector<std::string>{ids[2], ids[1]}));
  EXPECT_EQ(p["pagination"], (Json{{"limit", 2}, {"offset", 2}}));
  EXPECT_EQ(pageIds("limit=2&offset=4"), (std::vector<std::string>{ids[0]}));
  EXPECT_EQ(pageIds("limit=2&offset=6"), (std::vector<std::string>{}));

  EXPECT_EQ(pageIds("status=error", &p), (std::vector<std::string>{ids[3], ids[1]}));
  EXPECT_EQ(p["totalCount"], 2);
  EXPECT_EQ(pageIds("status=completed&limit=1&offset=1", &p), (std::vector<std::string>{ids[2]}));
  EXPECT_EQ(p["totalCount"], 3);
  for (const Json& job : p["result"]) EXPECT_EQ(job["status"], "completed");

  HttpResponse bad = invoke().get("/v1/agents/demo/jobs?status=sleeping");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.errorCode(), "invalid_request");
  HttpResponse unknown = invoke().get("/v1/agents/nobody/jobs");
  EXPECT_EQ(unknown.status, 404);
}

TEST_F(HttpApi, RetryRerunsAnErroredJobAndRefusesOthers) {
  const std::string failed = createJob("fail", Json::object());
  Json job = waitForJob(invoke(), failed);
  ASSERT_EQ(job["status"], "error") << job.dump();
  EXPECT_EQ(job["attempts"], 1);

  HttpResponse retry = invoke().post("/v1/agents/jobs/" + failed + "/retry");
  ASSERT_EQ(retry.status, 202) << retry.body;
  EXPECT_EQ(retry.json()["job_id"], failed);
  EXPECT_EQ(retry.json()["status"], "queued");
  job = waitForJob(invoke(), failed);
  EXPECT_EQ(job["status"], "error") << job.dump();
  EXPECT_EQ(job["attempts"], 2) << job.dump();

  const std::string done = createJob("hello", {{"name", "Cy"}});
  ASSERT_EQ(waitForJob(invoke(), done)["status"], "completed");
  HttpResponse no_retry = invoke().post("/v1/agents/jobs/" + done + "/retry");
  EXPECT_EQ(no_retry.status, 409) << no_retry.body;
  EXPECT_EQ(no_retry.errorCode(), "job_not_retryable");

  for (const std::string& id : {done, failed}) {
    HttpResponse cancel = invoke().post("/v1/agents/jobs/" + id + "/cancel");
    EXPECT_EQ(cancel.status, 409) << cancel.body;
    EXPECT_EQ(cancel.errorCode(), "job_finished");
  }
  EXPECT_EQ(waitForJob(invoke(), done)["status"], "completed");
}

TEST_F(HttpApi, IdempotencyKeyReturnsTheSameJobPerApiKey) {
  const std::string path = triggerPath("demo", "hello") + "/jobs";
  const Json body = {{"inputs", {{"name", "Dee"}}}};
  HttpResponse first = invoke().postJson(path, body, {{"Idempotency-Key", "order-17"}});
  HttpResponse again = invoke().postJson(path, body, {{"Idempotency-Key", "order-17"}});
  HttpResponse other = invoke().postJson(path, body, {{"Idempotency-Key", "order-18"}});
  HttpResponse other_key = admin().postJson(path, body, {{"Idempotency-Key", "order-17"}});
  ASSERT_EQ(first.status, 202) << first.body;
  ASSERT_EQ(again.status, 202) << again.body;
  ASSERT_EQ(other.status, 202) << other.body;
  ASSERT_EQ(other_key.status, 202) << other_key.body;
  const std::string id = first.json()["job_id"];
  EXPECT_EQ(again.json()["job_id"], id);
  EXPECT_EQ(again.json()["created_at"], first.json()["created_at"]);
  EXPECT_NE(other.json()["job_id"], id);
  EXPECT_NE(other_key.json()["job_id"], id);
  EXPECT_EQ(waitForJob(invoke(), id)["artifact"], "Hello, Dee!");
  // An invoke key lists only its own jobs; the admin key sees the other key's job too.
  Json page = invoke().get("/v1/agents/demo/jobs").json();
  EXPECT_EQ(page["totalCount"], 2) << page.dump();
  page = admin().get("/v1/agents/demo/jobs").json();
  EXPECT_EQ(page["totalCount"], 3) << page.dump();
}

TEST_F(HttpApi, AgentLifecycleFromDraftToDeletion) {
  const HttpClient ops = admin();
  auto def = [](const std::string& reply) {
    return agent("Life",
                 {blueprint("main", {block("trigger", "api_trigger", {}, {{"trigger", "reply"}}),
                                     block("reply", "return_value", {{"value", reply}})})});
  };
  auto lastDelta = [&](int expected_version) {
    SyncRun run = runSync(invoke(), "life", "main");
    EXPECT_EQ(run.status, 200) << run.body;
    Json job = invoke().get("/v1/agents/jobs/" + run.job_id).json();
    EXPECT_EQ(job["agent_version"], expected_version) << job.dump();
    return returnedText(run.events);
  };
  auto deployedIds = [&]() {
    HttpResponse r = ops.get("/v1/agents");
    EXPECT_EQ(r.status, 200) << r.body;
    std::map<std::string, Json> out;
    const Json body = r.json();
    for (const Json& a : body["agents"]) out[a["id"]] = a;
    return out;
  };

  HttpResponse put = ops.put("/v1/agents/life", def("v1"));
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(put.json()["id"], "life");
  EXPECT_TRUE(put.json()["deployed_version"].is_null()) << put.body;
  HttpResponse got = ops.get("/v1/agents/life");
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(got.json()["name"], "Life");
  EXPECT_EQ(got.json()["draft"]["blueprints"], def("v1")["blueprints"]);
  EXPECT_EQ(deployedIds().count("life"), 0u);

  HttpResponse before =
      invoke().postJson(triggerPath("life", "main"), {{"inputs", Json::object()}});
  EXPECT_EQ(before.status, 409);
  EXPECT_EQ(before.errorCode(), "agent_not_deployed");

  HttpResponse d1 = ops.post("/v1/agents/life/deploy");
  ASSERT_EQ(d1.status, 200) << d1.body;
  EXPECT_EQ(d1.json()["deployed_version"], 1);
  EXPECT_EQ(lastDelta(1), "v1");

  ASSERT_EQ(ops.put("/v1/agents/life", def("v2")).status, 200);
  EXPECT_EQ(lastDelta(1), "v1") << "a saved draft must not change the deployed version";
  HttpResponse d2 = ops.post("/v1/agents/life/deploy");
  ASSERT_EQ(d2.status, 200) << d2.body;
  EXPECT_EQ(d2.json()["deployed_version"], 2);
  EXPECT_EQ(lastDelta(2), "v2");
  auto listed = deployedIds();
  ASSERT_EQ(listed.count("life"), 1u);
  EXPECT_EQ(listed["life"]["version"], 2);
  EXPECT_EQ(listed["life"]["blueprints"], (Json{{{"id", "main"}, {"name", "main"}}}));
  ASSERT_EQ(listed.count("demo"), 1u);
  std::set<std::string> demo_bps;
  for (const Json& bp : listed["demo"]["blueprints"]) demo_bps.insert(bp["id"]);
  EXPECT_EQ(demo_bps, (std::set<std::string>{"hello", "object", "fail"}))
      << "only API-triggered blueprints are listed";

  HttpResponse rollback = ops.postJson("/v1/agents/life/deploy", {{"version", 1}});
  ASSERT_EQ(rollback.status, 200) << rollback.body;
  EXPECT_EQ(rollback.json()["deployed_version"], 1);
  EXPECT_EQ(lastDelta(1), "v1");
  EXPECT_EQ(deployedIds()["life"]["version"], 1);
  HttpResponse no_version = ops.postJson("/v1/agents/life/deploy", {{"version", 9}});
  EXPECT_EQ(no_version.status, 404) << no_version.body;

  HttpResponse undeploy = ops.post("/v1/agents/life/undeploy");
  ASSERT_EQ(undeploy.status, 200) << undeploy.body;
  EXPECT_TRUE(undeploy.json()["deployed_version"].is_null()) << undeploy.body;
  HttpResponse after = invoke().postJson(triggerPath("life", "main"), {{"inputs", Json::object()}});
  EXPECT_EQ(after.status, 409);
  EXPECT_EQ(after.errorCode(), "agent_not_deployed");
  HttpResponse after_job =
      invoke().postJson(triggerPath("life", "main") + "/jobs", {{"inputs", Json::object()}});
  EXPECT_EQ(after_job.status, 409);
  EXPECT_EQ(after_job.errorCode(), "agent_not_deployed");
  EXPECT_EQ(deployedIds().count("life"), 0u);

  HttpResponse del = ops.del("/v1/agents/life");
  ASSERT_EQ(del.status, 200) << del.body;
  EXPECT_EQ(ops.get("/v1/agents/life").status, 404);
  EXPECT_EQ(ops.get("/v1/agents/life").errorCode(), "agent_not_found");
  EXPECT_EQ(ops.del("/v1/agents/life").status, 404);
  HttpResponse gone = invoke().postJson(triggerPath("life", "main"), {{"inputs", Json::object()}});
  EXPECT_EQ(gone.status, 404);
  EXPECT_EQ(gone.errorCode(), "agent_not_found");
}

TEST_F(HttpApi, TestRunRunsTheDraftWithTheDefaultResult) {
  const HttpClient ops = admin();
  auto def = [](const std::string& greeting) {
    return agent("Draft",
                 {blueprint("main", {block("trigger", "api_trigger",
                                           {{"default_result", R"({"inputs":{"name":"Default"}})"}},
                                           {{"trigger", "reply"}}),
                                     block("reply", "return_value",
                                           {{"value", greeting + " @{result.inputs.name}"}})})});
  };
  ASSERT_EQ(ops.put("/v1/agents/drafty", def("Deployed")).status, 200);
  ASSERT_EQ(ops.post("/v1/agents/drafty/deploy").status, 200);
  ASSERT_EQ(ops.put("/v1/agents/drafty", def("Draft")).status, 200);

  const std::string test_path = triggerPath("drafty", "main") + "/test";
  SyncRun run = streamPost(ops, test_path, "");
  ASSERT_EQ(run.status, 200) << run.body;
  const std::vector<std::string> expected = {inProgressEvent(), executingEvent("main"),
                                             deltaEvent("Draft Default"), "[DONE]"};
  EXPECT_EQ(run.events, expected);
  EXPECT_FALSE(run.job_id.empty());

  // Given inputs run the draft with them; `{}` is the empty payload (the Default result).
  SyncRun with_body = streamPost(ops, test_path, R"({"inputs":{"name":"Given"}})");
  EXPECT_EQ(returnedText(with_body.events), "Draft Given");
  EXPECT_EQ(returnedText(streamPost(ops, test_path, "{}").events), "Draft Default");

  // The trigger still runs the deployed version with the real payload.
  EXPECT_EQ(returnedText(runSync(invoke(), "drafty", "main", {{"name", "Eve"}}).events),
            "Deployed Eve");
  // The test run is an editor action: admin scope.
  EXPECT_EQ(invoke().post(test_path).status, 403);
}

struct InvalidCase {
  const char* name;
  Json blocks;
  std::set<std::string> blocks_named;  ///< the issue names one of these blocks
  std::string field;                   ///< the issue's field, when it is about a field
  std::string mentions;                ///< text the message must contain
};

TEST_F(HttpApi, InvalidBlueprintIsRejectedNamingBlueprintBlockAndField) {
  const Json trigger_to_reply = block("trigger", "api_trigger", {}, {{"trigger", "reply"}});
  const Json reply = block("reply", "return_value", {{"value", "ok"}});
  const std::vector<InvalidCase> cases = {
      {"unknown type",
       {trigger_to_reply, block("reply", "no_such_type", {{"value", "x"}})},
       {"reply"},
       "",
       "no_such_type"},
      {"dangling next",
       {block("trigger", "api_trigger", {}, {{"trigger", "ghost"}}), reply},
       {"trigger"},
       "",
       "ghost"},
      {"unknown end state",
       {block("trigger", "api_trigger", {}, {{"finished", "reply"}}), reply},
       {"trigger"},
       "",
       "finished"},
      {"cycle",
       {block("trigger", "api_trigger", {}, {{"trigger", "a"}}),
        block("a", "set_state", {{"key", "k"}, {"value", "1"}}, {{"success", "b"}}),
        block("b", "set_state", {{"key", "k"}, {"value", "2"}}, {{"success", "a"}})},
       {"a", "b"},
       "",
       "cycle"},
      {"missing required field",
       {trigger_to_reply, block("reply", "return_value", Json::object())},
       {"reply"},
       "value",
       "required"},
  };
  for (const InvalidCase& c : cases) {
    SCOPED_TRACE(c.name);
    HttpResponse r =
        admin().put("/v1/agents/broken", agent("Broken", {blueprint("flow", c.blocks)}));
    ASSERT_EQ(r.status, 400) << r.body;
    Json body = r.json();
    EXPECT_EQ(body["error"]["code"], "invalid_blueprint") << r.body;
    const std::string message = body["error"].value("message", "");
    EXPECT_NE(message.find("flow"), std::string::npos) << message;
    EXPECT_NE(message.find(c.mentions), std::string::npos) << message;
    if (!c.field.empty()) {
      EXPECT_NE(message.find(c.field), std::string::npos) << message;
    }
    bool named = false;
    for (const Json& issue : body["error"].value("details", Json::array())) {
      if (issue.value("blueprint", "") != "flow") continue;
      if (c.blocks_named.count(issue.value("block", "")) == 0) continue;
      if (!c.field.empty() && issue.value("field", "") != c.field) continue;
      const std::string text = issue.value("message", "");
      if (text.find(issue.value("block", "")) == std::string::npos) continue;
      named = true;
    }
    EXPECT_TRUE(named) << "no issue names blueprint 'flow', the block and the field: " << r.body;
  }
  EXPECT_EQ(admin().get("/v1/agents/broken").status, 404) << "a rejected draft must not be saved";
}

TEST_F(HttpApi, OperationsEndpointsAnswerWithoutAKey) {
  HttpResponse health = httpRequest(host_.port(), "GET", "/healthz");
  EXPECT_EQ(health.status, 200);
  HttpResponse ready = httpRequest(host_.port(), "GET", "/readyz");
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(ready.json()["status"], "ready");

  ASSERT_EQ(runSync(invoke(), "demo", "hello").status, 200);
  HttpResponse metrics = httpRequest(host_.port(), "GET", "/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.header("Content-Type").rfind("text/plain", 0), 0u)
      << metrics.header("Content-Type");
  EXPECT_NE(metrics.body.find("blueprint_http_requests_total"), std::string::npos) << metrics.body;
  // Prometheus text: comments and `name[{labels}] value` samples only.
  static const std::regex kSample(R"([a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? [-+0-9.eEInfa]+)");
  std::istringstream lines(metrics.body);
  std::string line;
  while (std::getline(lines, line))
    if (!line.empty() && line[0] != '#') {
      EXPECT_TRUE(std::regex_match(line, kSample)) << line;
    }

  HttpResponse blocks = admin().get("/v1/blocks");
  ASSERT_EQ(blocks.status, 200) << blocks.body;
  std::map<std::string, Json> types;
  const Json catalogue = blocks.json();
  for (const Json& b : catalogue["blocks"]) types[b.value("type", "")] = b;
  for (const char* t : {"api_trigger", "return_value", "set_state", "log_message", "parse_json"}) {
    ASSERT_EQ(types.count(t), 1u) << t << " missing from " << blocks.body;
    EXPECT_EQ(types[t]["plugin"]["id"], "dev.blueprint.core") << t;
    EXPECT_TRUE(types[t]["plugin"]["generation"].is_number()) << t;
    EXPECT_TRUE(types[t].contains("fields")) << t;
  }
  EXPECT_EQ(types.count("test.sleep"), 1u);
}

// ---- bad input: a host with a small body limit ----

/// Sends raw bytes and reads one response (bounded): the whole response when it has a
/// Content-Length, else until the server closes.
std::string rawExchange(int port, const std::string& bytes, std::chrono::milliseconds timeout) {
  Poco::Net::StreamSocket socket;
  socket.connect(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port)));
  socket.setReceiveTimeout(Poco::Timespan(static_cast<long>(timeout.count()) * 1000));
  socket.sendBytes(bytes.data(), static_cast<int>(bytes.size()));
  std::string response;
  char buf[4096];
  while (true) {
    const auto head_end = response.find("\r\n\r\n");
    if (head_end != std::string::npos) {
      std::smatch m;
      static const std::regex kLength(R"(\r\nContent-Length: *(\d+)\r\n)", std::regex::icase);
      const std::string head = response.substr(0, head_end + 2);
      if (std::regex_search(head, m, kLength) &&
          response.size() >= head_end + 4 + std::stoul(m[1].str()))
        break;
    }
    int n = 0;
    try {
      n = socket.receiveBytes(buf, sizeof(buf));
    } catch (const Poco::TimeoutException&) {
      ADD_FAILURE() << "no complete response within " << timeout.count()
                    << " ms; got: " << response;
      break;
    } catch (const Poco::Exception& e) {
      break;  // reset after the response: what came before still counts
    }
    if (n <= 0) break;
    response.append(buf, static_cast<std::size_t>(n));
  }
  return response;
}

TEST(HttpApiBadInput, EachGetsItsStatusAndCodeAndTheHostKeepsServing) {
  TestHostOptions options;
  options.config = {{"body_limit_bytes", 1024}};
  options.agents["demo"] = agent(
      "Demo", {blueprint("hello", {block("trigger", "api_trigger", {}, {{"trigger", "reply"}}),
                                   block("reply", "return_value",
                                         {{"value", "Hello, @{result.inputs.name}!"}})}),
               blueprint("no_trigger", {block("log", "log_message", {{"message", "hi"}})})});
  TestHost host(options);
  ASSERT_TRUE(host.start());
  const int port = host.port();
  const HttpClient client(port, host.invokeKey());
  const HttpClient ops(port, host.adminKey());
  const HttpClient nobody(port, "");
  const HttpClient wrong(port, "bp_" + std::string(64, '0'));
  ASSERT_EQ(
      ops.put("/v1/agents/shelved",
              agent("Shelved",
                    {blueprint("main", {block("trigger", "api_trigger", {}, {{"trigger", "r"}}),
                                        block("r", "return_value", {{"value", "x"}})})}))
          .status,
      200);

  const std::string hello = triggerPath("demo", "hello");
  const std::string ok_body = R"({"inputs":{"name":"Ada"}})";
  struct Case {
    const char* name;
    std::function<HttpResponse()> send;
    int status;
    const char* code;
  };
  const std::vector<Case> cases = {
      {"missing key", [&] { return nobody.post(hello, ok_body); }, 401, "unauthorized"},
      {"wrong key", [&] { return wrong.post(hello, ok_body); }, 401, "unauthorized"},
      {"not a bearer key",
       [&] {
         return httpRequest(port, "POST", hello, ok_body,
                            {{"Authorization", "Basic b3BzOm9wcw=="}});
       },
       401, "unauthorized"},
      {"invoke key on an admin route", [&] { return client.put("/v1/agents/x", agent("X", {})); },
       403, "forbidden"},
      {"invoke key on the catalogue", [&] { return client.get("/v1/blocks"); }, 403, "forbidden"},
      {"malformed JSON", [&] { return client.post(hello, R"({"inputs":)"); }, 400,
       "invalid_request"},
      {"non-object body", [&] { return client.post(hello, "[1,2]"); }, 400, "invalid_request"},
      {"empty body", [&] { return client.post(hello, ""); }, 400, "invalid_request"},
      {"missing inputs", [&] { return client.post(hello, R"({"input":{}})"); }, 400,
       "invalid_request"},
      {"inputs not an object", [&] { return client.post(hello, R"({"inputs":"Ada"})"); }, 400,
       "invalid_request"},
      {"inputs a list", [&] { return client.post(hello, R"({"inputs":[1]})"); }, 400,
       "invalid_request"},
      {"async: malformed JSON", [&] { return client.post(hello + "/jobs", "{"); }, 400,
       "invalid_request"},
      {"async: missing inputs", [&] { return client.post(hello + "/jobs", "{}"); }, 400,
       "invalid_request"},
      {"unknown agent", [&] { return client.post(triggerPath("nope", "hello"), ok_body); }, 404,
       "agent_not_found"},
      {"unknown blueprint", [&] { return client.post(triggerPath("demo", "nope"), ok_body); }, 404,
       "blueprint_not_found"},
      {"unknown agent, async",
       [&] { return client.post(triggerPath("nope", "hello") + "/jobs", ok_body); }, 404,
       "agent_not_found"},
      {"unknown job", [&] { return client.get("/v1/agents/jobs/no-such-job"); }, 404,
       "job_not_found"},
      {"cancel unknown job", [&] { return client.post("/v1/agents/jobs/no-such-job/cancel"); }, 404,
       "job_not_found"},
      {"retry unknown job", [&] { return client.post("/v1/agents/jobs/no-such-job/retry"); }, 404,
       "job_not_found"},
      {"events of unknown job", [&] { return client.get("/v1/agents/jobs/no-such-job/events"); },
       404, "job_not_found"},
      {"blueprint without an API trigger",
       [&] { return client.post(triggerPath("demo", "no_trigger"), ok_body); }, 404,
       "blueprint_not_triggerable"},
      {"agent not deployed", [&] { return client.post(triggerPath("shelved", "main"), ok_body); },
       409, "agent_not_deployed"},
      {"unknown route", [&] { return client.get("/v1/nothing/here"); }, 404, "not_found"},
      {"unknown route outside /v1", [&] { return nobody.get("/index.html"); }, 404, "not_found"},
      {"wrong method on a trigger", [&] { return client.get(hello); }, 405, "method_not_allowed"},
      {"wrong method on healthz", [&] { return nobody.del("/healthz"); }, 405,
       "method_not_allowed"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    HttpResponse r = c.send();
    EXPECT_EQ(r.status, c.status) << r.body;
    EXPECT_EQ(r.header("Content-Type"), "application/json");
    Json body = r.json();
    ASSERT_TRUE(body.is_object() && body.contains("error")) << r.body;
    EXPECT_EQ(body["error"].value("code", ""), c.code) << r.body;
    EXPECT_FALSE(body["error"].value("message", "").empty()) << r.body;
    if (c.status == 401) {
      EXPECT_EQ(r.header("WWW-Authenticate").rfind("Bearer", 0), 0u);
    }
    if (c.status == 405) {
      EXPECT_FALSE(r.header("Allow").empty());
    }
  }

  // Over the limit: the answer comes after the headers and a small part of a declared 1 MiB
  // body, so the host cannot have read the rest.
  const std::string head =
      "POST " + hello + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
      host.invokeKey() + "\r\nContent-Type: application/json\r\nContent-Length: 1048576\r\n\r\n";
  const std::string response = rawExchange(
      port, head + R"({"inputs":{"pad":")" + std::string(200, 'x'), std::chrono::seconds(5));
  EXPECT_EQ(response.rfind("HTTP/1.1 413", 0), 0u) << response;
  EXPECT_NE(response.find("payload_too_large"), std::string::npos) << response;

  SyncRun run = runSync(client, "demo", "hello", {{"name", "Ada"}});
  ASSERT_EQ(run.status, 200) << run.body;
  EXPECT_EQ(run.events, (std::vector<std::string>{inProgressEvent(), executingEvent("hello"),
                                                  deltaEvent("Hello, Ada!"), "[DONE]"}));
}

}  // namespace
}  // namespace blueprint::testing

namespace blueprint::testing {
namespace {

TEST(HttpApiQueueLimit, A429WithRetryAfterOnceTheQueueHoldsItsLimitAndNothingIsLost) {
  TestHostOptions o = demoOptions();
  o.config = {{"job_queue_limit", 3}, {"job_workers", 0}};  // nothing drains the queue
  TestHost host(o);
  ASSERT_TRUE(host.start());
  HttpClient client(host.port(), host.invokeKey());
  const std::string path = triggerPath("demo", "hello") + "/jobs";
  std::vector<std::string> accepted;
  for (int i = 0; i < 3; ++i) {
    HttpResponse r = client.postJson(path, Json{{"inputs", {{"name", std::to_string(i)}}}});
    ASSERT_EQ(r.status, 202) << r.body;
    accepted.push_back(r.json()["job_id"]);
  }
  HttpResponse refused = client.postJson(path, Json{{"inputs", {{"name", "late"}}}});
  EXPECT_EQ(refused.status, 429) << refused.body;
  EXPECT_EQ(refused.header("Retry-After"), "1");
  EXPECT_EQ(refused.json()["error"]["code"], "queue_full") << refused.body;
  // Every accepted job is stored and still queued; the refused one left no trace.
  Json page = client.get("/v1/agents/demo/jobs").json();
  EXPECT_EQ(page["totalCount"], 3) << page.dump();
  for (const auto& id : accepted)
    EXPECT_EQ(client.get("/v1/agents/jobs/" + id).json()["status"], "queued");
}

}  // namespace
}  // namespace blueprint::testing
