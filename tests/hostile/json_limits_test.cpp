// SPDX-License-Identifier: Apache-2.0
// JSON depth and invalid UTF-8 wherever data enters or leaves a run (issue 11, H1 and H2;
// docs/security.md). Before the fix each of these killed the host (SIGSEGV in a recursive copy
// or dump of a deep value; SIGABRT from a type_error thrown out of a job worker) or left a run
// without an end.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "hostile/hostile_support.hpp"
#include "support/api_helpers.hpp"

namespace blueprint::testing {
namespace {

namespace fs = std::filesystem;

/// A one-route HTTP server on 127.0.0.1 that answers every request with `response` (raw bytes)
/// and closes: the remote server `http_request` talks to, as hostile as a test needs it.
class CannedServer {
 public:
  explicit CannedServer(std::string response) : response_(std::move(response)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(fd_, 16);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~CannedServer() {
    stopping_ = true;
    thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }

 private:
  void serve() {
    while (!stopping_) {
      pollfd pfd{fd_, POLLIN, 0};
      if (::poll(&pfd, 1, 50) <= 0) continue;
      const int client = ::accept(fd_, nullptr, nullptr);
      if (client < 0) continue;
      std::string request;
      char buf[4096];
      while (request.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = ::recv(client, buf, sizeof(buf), 0);
        if (n <= 0) break;
        request.append(buf, static_cast<std::size_t>(n));
      }
      std::size_t sent = 0;
      while (sent < response_.size()) {
        const ssize_t n =
            ::send(client, response_.data() + sent, response_.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) break;
        sent += static_cast<std::size_t>(n);
      }
      ::close(client);
    }
  }

  std::string response_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

/// `trigger` → `step` (fields given) → return_value of `@{result}`.
Json chain(const std::string& id, const std::string& type, const Json& fields) {
  return blueprint(id, {block("trigger", "api_trigger", Json::object(), {{"trigger", "step"}}),
                        block("step", type, fields, {{"success", "reply"}}),
                        block("reply", "return_value", {{"value", "@{result}"}})});
}

TestHostOptions limitsHost() {
  TestHostOptions o;
  o.plugins = {corePluginPath(), fs::path(BLUEPRINT_HTTP_PLUGIN), fixturePluginPath("test_blocks")};
  // A Json-mode field whose text nests 200 levels around a template: parsed at every run.
  const std::string nested_items =
      std::string(200, '[') + "@{payload.inputs.x}" + std::string(200, ']');
  o.agents["deep"] = agent(
      "Deep", {chain("echo", "set_state", {{"key", "x"}, {"value", "@{payload.inputs}"}}),
               chain("parse", "parse_json", {{"text", "@{payload.inputs.text}"}}),
               chain("items", "for_each", {{"items", nested_items}}),
               chain("emit", "test.emit", {{"parts", "@{payload.inputs.text}"}}),
               chain("state", "set_state", {{"key", "@{payload.inputs.key}"}, {"value", "1"}}),
               chain("fetch", "http_request", {{"url", "@{payload.inputs.url}"}})});
  return o;
}

/// The last status event of a stream ({"status":"error",…}), or null.
Json lastStatus(const std::vector<std::string>& events) {
  for (auto it = events.rbegin(); it != events.rend(); ++it) {
    Json e = Json::parse(*it, nullptr, false);
    if (!e.is_discarded() && e.is_object() && e.contains("status")) return e;
  }
  return nullptr;
}

/// blueprint_runs_active from /metrics, or -1.
long runsActive(int port) {
  const HttpResponse r = httpRequest(port, "GET", "/metrics");
  const std::string series = "\nblueprint_runs_active ";
  const std::size_t at = r.body.find(series);
  return at == std::string::npos ? -1 : std::stol(r.body.substr(at + series.size()));
}

class JsonLimits : public ::testing::Test {
 protected:
  void SetUp() override {
    host_ = std::make_unique<TestHost>(options());
    ASSERT_TRUE(host_->start());
  }
  virtual TestHostOptions options() { return limitsHost(); }
  HttpClient client() const { return HttpClient(host_->port(), host_->invokeKey()); }
  HttpClient admin() const { return HttpClient(host_->port(), host_->adminKey()); }
  SyncRun run(const std::string& blueprint_id, const Json& inputs) const {
    return runSync(client(), "deep", blueprint_id, inputs);
  }

  std::unique_ptr<TestHost> host_;
};

// ---- H1: nesting depth where JSON enters ----

TEST_F(JsonLimits, DeepSyncAndJobBodiesAre400NamingTheLimit) {
  // 200,000 levels is 400 KB: far under the body size limit.
  const std::string sync_body = R"({"inputs":{"x":)" + nestedArrays(200000) + "}}";
  const HttpResponse sync = client().post(triggerPath("deep", "echo"), sync_body);
  EXPECT_EQ(sync.status, 400) << sync.body.substr(0, 300);
  EXPECT_EQ(sync.errorCode(), "invalid_request");
  EXPECT_NE(sync.body.find("deeper than the limit of 128 levels"), std::string::npos) << sync.body;

  const std::string job_body = R"({"inputs":{"x":)" + nestedObjects(100000) + "}}";
  const HttpResponse job = client().post(triggerPath("deep", "echo") + "/jobs", job_body);
  EXPECT_EQ(job.status, 400) << job.body.substr(0, 300);
  EXPECT_NE(job.body.find("json_max_depth"), std::string::npos) << job.body;
  EXPECT_TRUE(stillServing(*host_));
}

TEST_F(JsonLimits, ABodyAtTheLimitRunsAndOneLevelMoreIsRefused) {
  // The body object and `inputs` are two levels: 126 more make 128.
  const SyncRun at = streamPost(client(), triggerPath("deep", "echo"),
                                R"({"inputs":{"x":)" + nestedArrays(126) + "}}");
  ASSERT_EQ(at.status, 200) << at.body;
  EXPECT_EQ(at.events.back(), "[DONE]");
  EXPECT_FALSE(lastStatus(at.events).value("status", "") == "error") << at.events.size();
  const HttpResponse past =
      client().post(triggerPath("deep", "echo"), R"({"inputs":{"x":)" + nestedArrays(127) + "}}");
  EXPECT_EQ(past.status, 400) << past.body;
  EXPECT_TRUE(stillServing(*host_));
}

TEST_F(JsonLimits, AnAdminPutWithADeepDefaultResultIsA400) {
  Json flow = chain("flow", "set_state", {{"key", "x"}, {"value", "1"}});
  flow["blocks"][0]["fields"]["default_result"] = "__DEEP__";
  std::string body = agent("Deep put", {flow}).dump();
  body.replace(body.find("\"__DEEP__\""), 10, nestedObjects(150000));
  const HttpResponse put = admin().request("PUT", "/v1/agents/deep_put", body);
  EXPECT_EQ(put.status, 400) << put.body.substr(0, 300);
  EXPECT_EQ(put.errorCode(), "invalid_request");
  EXPECT_TRUE(stillServing(*host_));
}

TEST_F(JsonLimits, DeepTextParsedInsideARunIsThatBlocksError) {
  const std::string deep = nestedArrays(100000);
  // parse_json: a block that parses text from the payload.
  const SyncRun parsed = run("parse", {{"text", deep}});
  ASSERT_EQ(parsed.status, 200) << parsed.body;
  EXPECT_EQ(parsed.events.back(), "[DONE]");
  Json error = lastStatus(parsed.events);
  EXPECT_EQ(error.value("status", ""), "error") << error;
  EXPECT_NE(error.value("message", "")
                .find("step: text nests objects and lists deeper than the "
                      "limit of 128 levels"),
            std::string::npos)
      << error;
  // A list field given text: the host converts (parses) it before the block runs.
  const SyncRun emit = run("emit", {{"text", deep}});
  ASSERT_EQ(emit.status, 200) << emit.body;
  error = lastStatus(emit.events);
  EXPECT_EQ(error.value("status", ""), "error") << error;
  EXPECT_NE(error.value("message", "")
                .find("step: field 'parts' is not usable JSON: it nests "
                      "objects and lists deeper than the limit of 128"),
            std::string::npos)
      << error;
  // A Json-mode field (for_each `items`) whose rendered text nests too deep.
  const SyncRun items = run("items", {{"x", 1}});
  ASSERT_EQ(items.status, 200) << items.body;
  error = lastStatus(items.events);
  EXPECT_EQ(error.value("status", ""), "error") << error;
  EXPECT_NE(error.value("message", "")
                .find("step: field 'items': template value is not usable "
                      "JSON: it nests objects and lists deeper than the "
                      "limit of 128 levels"),
            std::string::npos)
      << error;
  EXPECT_TRUE(stillServing(*host_));
}

TEST_F(JsonLimits, AStateKeyOfManySegmentsIsTheBlocksErrorNotADeepObject) {
  std::string key = "k";
  for (int i = 0; i < 100000; ++i) key += ".k";
  const SyncRun r = run("state", {{"key", key}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.events.back(), "[DONE]");
  const Json error = lastStatus(r.events);
  EXPECT_EQ(error.value("status", ""), "error") << error;
  EXPECT_NE(error.value("message", "").find("state key with 100001 segments"), std::string::npos)
      << error.dump().substr(0, 300);
  EXPECT_TRUE(stillServing(*host_));
}

class JsonLimitsRemote : public JsonLimits {
 protected:
  TestHostOptions options() override {
    TestHostOptions o = limitsHost();
    o.config["block_settings"] = {{"http_request", {{"allow_private_networks", true}}}};
    return o;
  }
};

TEST_F(JsonLimitsRemote, ARemoteServersDeepJsonIsAResponseErrorNotACrash) {
  const std::string deep = nestedArrays(200000);
  CannedServer server("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                      std::to_string(deep.size()) + "\r\nConnection: close\r\n\r\n" + deep);
  const SyncRun r =
      run("fetch", {{"url", "http://127.0.0.1:" + std::to_string(server.port()) + "/status"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.events.back(), "[DONE]");
  const Json error = lastStatus(r.events);
  EXPECT_EQ(error.value("status", ""), "error") << error;
  EXPECT_NE(error.value("message", "").find("nests objects and lists deeper than the limit of 127"),
            std::string::npos)
      << error;
  EXPECT_TRUE(stillServing(*host_));
}

// ---- H2: text that is not UTF-8 in a run's error ----

TEST_F(JsonLimitsRemote, ANonUtf8ReasonPhraseEndsTheSyncStreamWithAnErrorAndDone) {
  CannedServer server(
      "HTTP/1.1 500 Bad \xFF\xFE Thing\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  const SyncRun r =
      run("fetch", {{"url", "http://127.0.0.1:" + std::to_string(server.port()) + "/x"}});
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_FALSE(r.events.empty());
  EXPECT_EQ(r.events.back(), "[DONE]");
  const Json error = lastStatus(r.events);
  EXPECT_EQ(error.value("status", ""), "error") << error;
  // Poco keeps what it reads of the phrase; what came through is U+FFFD, never a raw byte (the
  // event parsed as JSON, so it is UTF-8).
  const std::string message = error.value("message", "");
  EXPECT_NE(message.find("answered 500 Bad \xEF\xBF\xBD"), std::string::npos) << message;
  EXPECT_EQ(runsActive(host_->port()), 0);
  EXPECT_TRUE(stillServing(*host_));
}

TEST_F(JsonLimits, AJobWhoseErrorHoldsABadByteEndsInErrorOnceAndTheHostLives) {
  // The private-network guard refuses 127.0.0.1; its message names the URL, whose path Poco
  // decodes to the byte 0xFF. Before the fix: type_error.316 out of the worker, SIGABRT, and
  // every restart claimed the job and aborted again.
  const HttpResponse created = client().postJson(triggerPath("deep", "fetch") + "/jobs",
                                                 {{"inputs", {{"url", "http://127.0.0.1:9/%FF"}}}});
  ASSERT_EQ(created.status, 202) << created.body;
  const std::string id = created.json().value("job_id", "");
  const Json job = waitForJob(client(), id, std::chrono::seconds(20));
  EXPECT_EQ(job.value("status", ""), "error") << job.dump();
  EXPECT_EQ(job.value("attempts", 0), 1) << job.dump();
  EXPECT_NE(job.value("error", "").find("/\xEF\xBF\xBD"), std::string::npos) << job.dump();
  // Its stored events end like every run's.
  SseClient events(host_->port(), host_->invokeKey());
  ASSERT_EQ(events.open("GET", "/v1/agents/jobs/" + id + "/events", ""), 200);
  const std::vector<std::string> replay = events.readToDone();
  ASSERT_GE(replay.size(), 2u);
  EXPECT_EQ(replay.back(), "[DONE]");
  EXPECT_EQ(lastStatus(replay).value("status", ""), "error");
  EXPECT_EQ(runsActive(host_->port()), 0);
  EXPECT_TRUE(host_->running());
  EXPECT_TRUE(stillServing(*host_));
}

TEST_F(JsonLimits, TheSyncVariantEndsItsStreamWithAnErrorAndRetiresTheRun) {
  const SyncRun r = run("fetch", {{"url", "http://127.0.0.1:9/%FF"}});
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_FALSE(r.events.empty());
  EXPECT_EQ(r.events.back(), "[DONE]");
  const Json error = lastStatus(r.events);
  EXPECT_EQ(error.value("status", ""), "error") << error;
  EXPECT_NE(error.value("message", "").find("step: "), std::string::npos) << error;
  EXPECT_EQ(runsActive(host_->port()), 0);
  const Json job = waitForJob(client(), r.job_id);
  EXPECT_EQ(job.value("status", ""), "error") << job.dump();
  EXPECT_TRUE(stillServing(*host_));
}

}  // namespace
}  // namespace blueprint::testing
