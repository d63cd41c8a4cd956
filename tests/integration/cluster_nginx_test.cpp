// SPDX-License-Identifier: Apache-2.0
// examples/cluster as shipped (DESIGN §6): two blueprint-host processes configured by
// examples/cluster/host-a.json and host-b.json on one PostgreSQL database, behind a real nginx
// running examples/cluster/nginx.conf with free loopback ports put in place of its three
// addresses. Sync runs stream through nginx without being held back, jobs submitted through
// nginx are polled and replayed through it whichever host answers, and both hosts serve.
// nginx missing is a failure that says to run scripts/install-deps, never a skip.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "support/api_helpers.hpp"
#include "support/http_client.hpp"
#include "support/nginx_process.hpp"
#include "support/postgres_cluster.hpp"
#include "support/sse_client.hpp"
#include "support/test_host.hpp"

namespace blueprint::testing {
namespace {

namespace fs = std::filesystem;

constexpr int kRuns = 10;
constexpr int kPollsPerJob = 4;
constexpr int kSlowRunMs = 1500;

fs::path clusterDir() { return fs::path(BLUEPRINT_SOURCE_DIR) / "examples" / "cluster"; }

std::string readText(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

/// Replaces the one occurrence of `from` in `text`; throws when there is not exactly one, so a
/// change to the example that this test no longer understands fails loudly.
void replaceOnce(std::string& text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  if (at == std::string::npos || text.find(from, at + 1) != std::string::npos)
    throw std::runtime_error("examples/cluster/nginx.conf must contain `" + from +
                             "` exactly once");
  text.replace(at, from.size(), to);
}

/// examples/cluster/nginx.conf with this test's ports in place of 8080, 8081 and 8082.
std::string nginxConfig(int listen_port, int port_a, int port_b) {
  std::string config = readText(clusterDir() / "nginx.conf");
  replaceOnce(config, "listen 127.0.0.1:8080;",
              "listen 127.0.0.1:" + std::to_string(listen_port) + ";");
  replaceOnce(config, "server 127.0.0.1:8081 ", "server 127.0.0.1:" + std::to_string(port_a) + " ");
  replaceOnce(config, "server 127.0.0.1:8082 ", "server 127.0.0.1:" + std::to_string(port_b) + " ");
  return config;
}

/// trigger → delay → test.emit "tick" → delay → return_value: a delta goes out mid-run, well
/// after the response head, then the stream stays open (and silent) for `kSlowRunMs`.
Json slowAgent() {
  return agent(
      "Slow",
      {blueprint("slow", {block("trigger", "api_trigger", {}, {{"trigger", "settle"}}),
                          block("settle", "delay", {{"ms", 300}}, {{"success", "tick"}}),
                          block("tick", "test.emit", {{"parts", {"tick"}}}, {{"success", "wait"}}),
                          block("wait", "delay", {{"ms", kSlowRunMs}}, {{"success", "reply"}}),
                          block("reply", "return_value", {{"value", "slept"}})})});
}

/// `blueprint_http_requests_total{route="<route>",code="2xx"}` on one host, read directly.
long successfulRequests(const TestHost& host, const std::string& route) {
  HttpResponse r = httpRequest(host.port(), "GET", "/metrics");
  EXPECT_EQ(r.status, 200) << r.body;
  const std::string series = "blueprint_http_requests_total{route=\"" + route + "\",code=\"2xx\"} ";
  const auto at = r.body.find(series);
  if (at == std::string::npos) {
    ADD_FAILURE() << "no " << series << "in /metrics:\n" << r.body;
    return 0;
  }
  return std::stol(r.body.substr(at + series.size()));
}

class ClusterNginx : public ::testing::Test {
 protected:
  void SetUp() override {
    try {
      findNginx();
    } catch (const std::exception& e) {
      FAIL() << e.what();
    }
    try {
      database_ = sharedPostgresCluster().createDatabase();
    } catch (const std::exception& e) {
      FAIL() << e.what();
    }
    host_a_ = makeHost("host-a.json");
    host_b_ = makeHost("host-b.json");
    // One after the other: each deploys the agents directory at start-up, and the second finds
    // the versions the first stored unchanged.
    ASSERT_TRUE(host_a_->start());
    ASSERT_TRUE(host_b_->start());

    nginx_ = std::make_unique<NginxProcess>();
    ::testing::AssertionResult started = ::testing::AssertionFailure();
    for (int attempt = 0; attempt < 5; ++attempt) {
      const int port = freeLoopbackPort();
      started = nginx_->start(nginxConfig(port, host_a_->port(), host_b_->port()), port);
      if (started || !nginx_->addressInUse()) break;  // else the port was taken meanwhile
    }
    ASSERT_TRUE(started);
    client_ = std::make_unique<HttpClient>(nginx_->port(), host_a_->invokeKey());
  }

  std::unique_ptr<TestHost> makeHost(const std::string& config_file) {
    TestHostOptions options;
    // The example host configuration, on this test's database. Listen address, plugins, agents,
    // data and keys are the test host's own (flags win over the config file).
    options.config = Json::parse(readText(clusterDir() / config_file));
    options.config["storage"] = database_->url();
    for (const auto& entry :
         fs::directory_iterator(fs::path(BLUEPRINT_SOURCE_DIR) / "examples" / "agents"))
      if (entry.path().extension() == ".json")
        options.agents[entry.path().stem().string()] = Json::parse(readText(entry.path()));
    options.agents["slow"] = slowAgent();
    // All of examples/agents is deployed, as in the example; host_status needs http_blocks.
    options.plugins = {corePluginPath(), std::filesystem::path(BLUEPRINT_HTTP_PLUGIN),
                       fixturePluginPath("test_blocks")};
    options.admin_key = admin_key_;
    options.invoke_key = invoke_key_;
    return std::make_unique<TestHost>(std::move(options));
  }

  std::string upstream(const TestHost& host) const {
    return "upstream=127.0.0.1:" + std::to_string(host.port());
  }

  /// The access log once it holds at least `lines` lines matching `pattern` (bounded: nginx
  /// writes a line when it finalizes the request, which can be just after the client has the
  /// response).
  std::vector<std::string> accessLogLines(const std::regex& pattern, std::size_t lines) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    std::vector<std::string> matching;
    while (true) {
      matching.clear();
      std::istringstream log(nginx_->accessLog());
      for (std::string line; std::getline(log, line);)
        if (std::regex_search(line, pattern)) matching.push_back(line);
      if (matching.size() >= lines || std::chrono::steady_clock::now() >= deadline) return matching;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  const std::string admin_key_ = "bp_ops_cluster_nginx_test_key";
  const std::string invoke_key_ = "bp_client_cluster_nginx_test_key";
  std::unique_ptr<PostgresCluster::Database> database_;
  std::unique_ptr<TestHost> host_a_;
  std::unique_ptr<TestHost> host_b_;
  std::unique_ptr<NginxProcess> nginx_;
  std::unique_ptr<HttpClient> client_;

  void TearDown() override {
    // The hosts first, while nginx still holds idle keep-alive connections to them: SIGTERM must
    // still end each one cleanly (DESIGN §7), as in a rolling restart behind the balancer.
    for (TestHost* host : {host_a_.get(), host_b_.get()}) {
      if (host != nullptr && host->running()) {
        EXPECT_EQ(host->stop(), 0) << host->output();
      }
    }
    nginx_.reset();
    host_b_.reset();
    host_a_.reset();
    database_.reset();
  }
};

TEST_F(ClusterNginx, SyncRunsStreamThroughNginxFromBothHosts) {
  for (int i = 0; i < kRuns; ++i) {
    SCOPED_TRACE("run " + std::to_string(i));
    const std::string name = "Ada " + std::to_string(i);
    SseClient sse(client_->port(), client_->key());
    ASSERT_EQ(
        sse.open("POST", triggerPath("hello", "hello"), Json{{"inputs", {{"name", name}}}}.dump()),
        200)
        << sse.readBody();
    EXPECT_EQ(sse.header("Content-Type").rfind("text/event-stream", 0), 0u)
        << sse.header("Content-Type");
    EXPECT_EQ(sse.header("Cache-Control"), "no-cache");
    EXPECT_FALSE(sse.header("X-Job-Id").empty());
    EXPECT_EQ(sse.readToDone(),
              (std::vector<std::string>{inProgressEvent(), executingEvent("hello"),
                                        deltaEvent("Hello, " + name + "!"), "[DONE]"}));
  }
  const long on_a = successfulRequests(*host_a_, "trigger");
  const long on_b = successfulRequests(*host_b_, "trigger");
  EXPECT_GT(on_a, 0) << "host A served no sync run";
  EXPECT_GT(on_b, 0) << "host B served no sync run";
  EXPECT_EQ(on_a + on_b, kRuns);
}

TEST_F(ClusterNginx, StreamReachesTheClientWhileTheRunIsStillGoing) {
  // Both hosts in turn (least_conn alternates between idle hosts).
  for (int i = 0; i < 2; ++i) {
    SCOPED_TRACE("run " + std::to_string(i));
    SseClient sse(client_->port(), client_->key(), std::chrono::seconds(20));
    ASSERT_EQ(sse.open("POST", triggerPath("slow", "slow"), R"({"inputs":{}})"), 200)
        << sse.readBody();
    EXPECT_EQ(sse.nextEvent(), inProgressEvent());
    EXPECT_EQ(sse.nextEvent(), executingEvent("slow"));
    // The events above may travel with the response head; this one is written on its own,
    // 300 ms later, and must be passed on at once.
    ASSERT_EQ(sse.nextEvent(), deltaEvent("tick"));
    const auto tick = std::chrono::steady_clock::now();
    EXPECT_EQ(sse.readToDone(), (std::vector<std::string>{deltaEvent("slept"), "[DONE]"}));
    // A buffering proxy would hand "tick" over together with the end of the run.
    const auto held = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - tick);
    EXPECT_GE(held.count(), kSlowRunMs - 500)
        << "the tick delta came only " << held.count() << " ms before [DONE]";
  }
}

TEST_F(ClusterNginx, JobsSubmittedThroughNginxAreServedByEitherHost) {
  std::vector<std::string> ids;
  for (int i = 0; i < kRuns; ++i) {
    HttpResponse r = client_->postJson(triggerPath("hello", "hello") + "/jobs",
                                       {{"inputs", {{"name", "Job " + std::to_string(i)}}}});
    ASSERT_EQ(r.status, 202) << r.body;
    Json created = r.json();
    EXPECT_EQ(created["status"], "queued");
    ids.push_back(created.value("job_id", ""));
    ASSERT_FALSE(ids.back().empty()) << r.body;
  }

  for (int i = 0; i < kRuns; ++i) {
    SCOPED_TRACE("job " + std::to_string(i));
    const std::string& id = ids[static_cast<std::size_t>(i)];
    const std::string greeting = "Hello, Job " + std::to_string(i) + "!";
    Json job = waitForJob(*client_, id, std::chrono::seconds(20));
    EXPECT_EQ(job["status"], "completed") << job.dump();
    EXPECT_EQ(job["artifact"], greeting) << job.dump();
    EXPECT_EQ(job["attempts"], 1) << job.dump();
    // The same answer whichever host nginx picks.
    for (int poll = 0; poll < kPollsPerJob; ++poll) {
      HttpResponse r = client_->get("/v1/agents/jobs/" + id);
      ASSERT_EQ(r.status, 200) << r.body;
      EXPECT_EQ(r.json(), job);
    }
    // The stored events replay through nginx from either host.
    SseClient events(client_->port(), client_->key());
    ASSERT_EQ(events.open("GET", "/v1/agents/jobs/" + id + "/events"), 200) << events.readBody();
    const std::vector<std::string> replayed = events.readToDone();
    EXPECT_EQ(returnedText(replayed), greeting);
  }

  // Every job was polled through nginx on both hosts, whichever host took it in and ran it.
  for (const std::string& id : ids) {
    const std::regex polls("\"GET /v1/agents/jobs/" + id + " HTTP/1\\.1\" 200 ");
    std::set<std::string> answered_by;
    for (const std::string& line : accessLogLines(polls, kPollsPerJob + 1)) {
      if (line.find(upstream(*host_a_) + " ") != std::string::npos) answered_by.insert("A");
      if (line.find(upstream(*host_b_) + " ") != std::string::npos) answered_by.insert("B");
    }
    EXPECT_EQ(answered_by, (std::set<std::string>{"A", "B"}))
        << "polls of job " << id << " did not reach both hosts; access log:\n"
        << nginx_->accessLog();
  }
  const long created_a = successfulRequests(*host_a_, "create_job");
  const long created_b = successfulRequests(*host_b_, "create_job");
  EXPECT_GT(created_a, 0) << "host A took in no job";
  EXPECT_GT(created_b, 0) << "host B took in no job";
  EXPECT_EQ(created_a + created_b, kRuns);
}

}  // namespace
}  // namespace blueprint::testing
