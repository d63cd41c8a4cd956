// SPDX-License-Identifier: Apache-2.0
// http_request_test.cpp: the `http_request` block through the real engine and the real
// http_blocks.so (DESIGN §8): api_trigger → http_request → one return_value per end state, against
// a Poco HTTPServer this test starts on 127.0.0.1 port 0. Nothing here talks to another host:
// addresses outside loopback appear only in tests where the block must refuse them unconnected.
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/NetSSL.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/StreamCopier.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/runner.hpp"
#include "plugins/plugin_manager.hpp"

namespace blueprint::host {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// ---- the local server ----

/// Lets the slow handler end early when the server shuts down.
struct SlowGate {
  std::mutex mutex;
  std::condition_variable cv;
  bool open = false;
};
SlowGate g_slow_gate;

class TestHandler final : public Poco::Net::HTTPRequestHandler {
 public:
  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    const std::string path = request.getURI();
    std::string body;
    Poco::StreamCopier::copyToString(request.stream(), body);
    if (path == "/json") {
      send(response, 200, "application/json; charset=utf-8", R"({"id":1,"tags":["a","b"]})");
    } else if (path == "/text") {
      send(response, 200, "text/plain", "hello");
    } else if (path == "/problem+json") {
      send(response, 200, "application/problem+json", R"({"title":"ok"})");
    } else if (path == "/missing") {
      send(response, 404, "application/json", R"({"error":"not found"})");
    } else if (path == "/badjson") {
      send(response, 200, "application/json", "{not json");
    } else if (path == "/slow") {
      std::unique_lock<std::mutex> lock(g_slow_gate.mutex);
      g_slow_gate.cv.wait_for(lock, std::chrono::seconds(2), [] { return g_slow_gate.open; });
      lock.unlock();
      send(response, 200, "text/plain", "late");
    } else if (path.rfind("/echo", 0) == 0) {
      Json headers = Json::object();
      for (const auto& [name, value] : request) {
        std::string key = name;
        for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        headers[key] = value;
      }
      send(
          response, 200, "application/json",
          Json{{"method", request.getMethod()}, {"uri", path}, {"headers", headers}, {"body", body}}
              .dump());
    } else if (path == "/redirect") {
      response.set("Location", "/json");
      send(response, 302, "text/plain", "moved");
    } else if (path == "/redirect-absolute") {
      response.set("Location", "http://127.0.0.1:" + std::to_string(port) + "/echo/after");
      send(response, 307, "text/plain", "moved");
    } else if (path == "/redirect-other-origin") {
      response.set("Location", "http://localhost:" + std::to_string(port) + "/echo/other");
      send(response, 302, "text/plain", "moved");
    } else if (path == "/loop") {
      response.set("Location", "/loop");
      send(response, 302, "text/plain", "again");
    } else if (path == "/big") {
      response.setStatus(Poco::Net::HTTPResponse::HTTP_OK);
      response.setContentType("text/plain");
      response.setChunkedTransferEncoding(true);
      std::ostream& out = response.send();
      const std::string chunk(1 << 20, 'x');
      for (int i = 0; i < 11 && out; ++i) out << chunk;
    } else if (path == "/big-declared") {
      // 11 MiB announced: refused on the head, before any of it is read.
      response.setStatus(Poco::Net::HTTPResponse::HTTP_OK);
      response.setContentType("text/plain");
      response.setContentLength64(11 << 20);
      std::ostream& out = response.send();
      out << std::string(1024, 'x');
    } else if (path == "/drip") {
      // Headers at once, then one byte per 100 ms for 3 s: no single read ever times out.
      response.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_OK);
      response.setContentType("text/plain");
      response.setContentLength(30);
      std::ostream& out = response.send();
      out.flush();
      for (int i = 0; i < 30 && out; ++i) {
        std::unique_lock<std::mutex> lock(g_slow_gate.mutex);
        if (g_slow_gate.cv.wait_for(lock, std::chrono::milliseconds(100),
                                    [] { return g_slow_gate.open; }))
          break;
        lock.unlock();
        out << 'x';
        out.flush();
      }
    } else if (path == "/nocontent") {
      response.setStatus(Poco::Net::HTTPResponse::HTTP_NO_CONTENT);
      response.setContentType("application/json");
      response.send();
    } else {
      send(response, 500, "text/plain", "no route " + path);
    }
  }

  static inline std::uint16_t port = 0;

 private:
  static void send(Poco::Net::HTTPServerResponse& response, int status, const std::string& type,
                   const std::string& body) {
    response.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
    response.setContentType(type);
    response.setContentLength(static_cast<std::streamsize>(body.size()));
    response.send() << body;
  }
};

class TestHandlerFactory final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new TestHandler;
  }
};

// ---- plugins and server for the whole suite ----

/// core_blocks.so and http_blocks.so copied into a temp plugin dir and loaded through a
/// PluginManager, plus the local HTTP server.
class HttpEnvironment final : public ::testing::Environment {
 public:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "bp_http_request_test_XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    fs::create_directories(root_ / "plugins");
    fs::copy_file(fs::path(BLUEPRINT_PLUGIN_DIR) / "core_blocks.so",
                  root_ / "plugins/core_blocks.so");
    fs::copy_file(fs::path(BLUEPRINT_HTTP_PLUGIN), root_ / "plugins/http_blocks.so");
    PluginManager manager(root_ / "plugins", root_ / "cache");
    ReloadReport report = manager.reload();
    ASSERT_TRUE(report.rejected.empty()) << report.toJson().dump();
    catalog_ = manager.current();

    Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0));
    TestHandler::port = socket.address().port();
    auto* params = new Poco::Net::HTTPServerParams;
    params->setKeepAlive(false);
    params->setMaxThreads(8);
    server_ = std::make_unique<Poco::Net::HTTPServer>(new TestHandlerFactory, socket, params);
    server_->start();
  }
  void TearDown() override {
    {
      std::lock_guard<std::mutex> lock(g_slow_gate.mutex);
      g_slow_gate.open = true;
    }
    g_slow_gate.cv.notify_all();
    server_->stopAll(true);
    server_.reset();
    catalog_.reset();
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  static std::shared_ptr<const Catalog> catalog() { return catalog_; }
  static const fs::path& root() { return root_; }

 private:
  static inline fs::path root_;
  static inline std::shared_ptr<const Catalog> catalog_;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
};

::testing::Environment* const kHttpEnvironment =
    ::testing::AddGlobalTestEnvironment(new HttpEnvironment);

std::string local(const std::string& path) {
  return "http://127.0.0.1:" + std::to_string(TestHandler::port) + path;
}

const Json kAllowPrivate = {{"http_request", {{"allow_private_networks", true}}}};

class NullObserver final : public RunObserver {
 public:
  void onDelta(std::string_view) override {}
};

/// trigger → request (`fields`) → success / response_error / connection_error, each to its own
/// return_value that shows the end state, the result and the message.
RunResult runRequest(const Json& fields, const Json* settings = &kAllowPrivate,
                     const Json& inputs = Json::object()) {
  Json blocks = Json::parse(R"([
    {"id": "trigger", "type": "api_trigger", "next": {"trigger": "call"}},
    {"id": "call", "type": "http_request", "fields": {},
     "next": {"success": "ok", "response_error": "bad_response", "connection_error": "no_connection"}},
    {"id": "ok", "type": "return_value", "fields": {"value": {"state": "success", "result": "@{result}"}}},
    {"id": "bad_response", "type": "return_value",
     "fields": {"value": {"state": "response_error", "status": "@{result.status_code}",
                          "result": "@{result}", "message": "@{message}"}}},
    {"id": "no_connection", "type": "return_value",
     "fields": {"value": {"state": "connection_error", "result": "@{result}", "message": "@{message}"}}}
  ])");
  blocks[1]["fields"] = fields;
  const Json agent = {{"name", "http_request test"},
                      {"blueprints", Json::array({{{"id", "main"}, {"blocks", blocks}}})}};
  auto compiled = CompiledAgent::compile("http_request_test", 1, agent, HttpEnvironment::catalog());
  RunOptions options;
  options.block_settings = settings;
  NullObserver observer;
  RunControl control;
  return Runner::run(*compiled, *compiled->find("main"), {{"inputs", inputs}}, options, observer,
                     control);
}

/// The return value of a request run ({"state", "result", "message"?, "status"?}).
Json call(const Json& fields, const Json* settings = &kAllowPrivate,
          const Json& inputs = Json::object()) {
  RunResult r = runRequest(fields, settings, inputs);
  if (r.status != RunResult::Status::Completed || !r.return_value)
    return {{"state", "run failed"}, {"error", r.error}, {"trace", r.trace}};
  return *r.return_value;
}

bool contains(const Json& text, const std::string& part) {
  return text.is_string() && text.get<std::string>().find(part) != std::string::npos;
}

// ---- success ----

TEST(HttpRequest, GetParsesAJsonBody) {
  const Json out = call({{"url", local("/json")}});
  ASSERT_EQ(out.value("state", ""), "success") << out.dump();
  EXPECT_EQ(out["result"]["status_code"], 200);
  EXPECT_EQ(out["result"]["body"], Json::parse(R"({"id":1,"tags":["a","b"]})"));
  EXPECT_EQ(out["result"]["headers"]["content-type"], "application/json; charset=utf-8");
}

TEST(HttpRequest, GetReturnsTextBodiesAsText) {
  Json out = call({{"url", local("/text")}});
  ASSERT_EQ(out.value("state", ""), "success") << out.dump();
  EXPECT_EQ(out["result"]["body"], "hello");
  out = call({{"url", local("/problem+json")}});
  EXPECT_EQ(out["result"]["body"], Json::parse(R"({"title":"ok"})")) << out.dump();
}

TEST(HttpRequest, PostSendsAJsonBodyAndHeaders) {
  const Json out =
      call({{"method", "POST"},
            {"url", local("/echo")},
            {"headers", R"({"X-Token": "@{result.inputs.token}", "X-Count": 2})"},
            {"body_type", "json"},
            {"body", R"({"name": "@{result.inputs.name}", "tags": @{result.inputs.tags}})"}},
           &kAllowPrivate, {{"token", "t-1"}, {"name", "A \"quoted\" name"}, {"tags", {"x", "y"}}});
  ASSERT_EQ(out.value("state", ""), "success") << out.dump();
  const Json& echo = out["result"]["body"];
  EXPECT_EQ(echo["method"], "POST");
  EXPECT_EQ(echo["headers"]["x-token"], "t-1");
  EXPECT_EQ(echo["headers"]["x-count"], "2");
  EXPECT_EQ(echo["headers"]["content-type"], "application/json");
  EXPECT_EQ(echo["headers"]["host"], "127.0.0.1:" + std::to_string(TestHandler::port));
  EXPECT_EQ(Json::parse(echo["body"].get<std::string>()),
            Json::parse(R"({"name": "A \"quoted\" name", "tags": ["x", "y"]})"));
}

TEST(HttpRequest, PutSendsATextBodyAsWritten) {
  const Json out = call({{"method", "PUT"},
                         {"url", local("/echo?q=1")},
                         {"headers", R"({"Content-Type": "text/csv"})"},
                         {"body", "a,b\n@{result.inputs.n},2"}},
                        &kAllowPrivate, {{"n", 1}});
  ASSERT_EQ(out.value("state", ""), "success") << out.dump();
  const Json& echo = out["result"]["body"];
  EXPECT_EQ(echo["method"], "PUT");
  EXPECT_EQ(echo["uri"], "/echo?q=1");
  EXPECT_EQ(echo["headers"]["content-type"], "text/csv");
  EXPECT_EQ(echo["body"], "a,b\n1,2");
}

TEST(HttpRequest, HeadAndNoContentHaveANullOrEmptyBody) {
  Json out = call({{"method", "HEAD"}, {"url", local("/json")}});
  ASSERT_EQ(out.value("state", ""), "success") << out.dump();
  EXPECT_EQ(out["result"]["body"], "");
  out = call({{"method", "DELETE"}, {"url", local("/nocontent")}});
  ASSERT_EQ(out.value("state", ""), "success") << out.dump();
  EXPECT_EQ(out["result"]["status_code"], 204);
  EXPECT_EQ(out["result"]["body"], "");
}

TEST(HttpRequest, FollowsRedirectsForGet) {
  Json out = call({{"url", local("/redirect")}});
  ASSERT_EQ(out.value("state", ""), "success") << out.dump();
  EXPECT_EQ(out["result"]["body"]["id"], 1);
  out = call({{"url", local("/redirect-absolute")}, {"headers", R"({"Authorization": "secret"})"}});
  ASSERT_EQ(out.value("state", ""), "success") << out.dump();
  EXPECT_EQ(out["result"]["body"]["uri"], "/echo/after");
  // Same origin: the credentials go along.
  EXPECT_EQ(out["result"]["body"]["headers"]["authorization"], "secret");
}

TEST(HttpRequest, DropsCredentialsWhenARedirectChangesOrigin) {
  const Json out =
      call({{"url", local("/redirect-other-origin")},
            {"headers", R"({"Authorization": "secret", "Cookie": "c=1", "X-Keep": "k"})"}});
  ASSERT_EQ(out.value("state", ""), "success") << out.dump();
  const Json& headers = out["result"]["body"]["headers"];
  EXPECT_EQ(out["result"]["body"]["uri"], "/echo/other");
  EXPECT_EQ(headers["host"], "localhost:" + std::to_string(TestHandler::port));
  EXPECT_FALSE(headers.contains("authorization")) << headers.dump();
  EXPECT_FALSE(headers.contains("cookie")) << headers.dump();
  EXPECT_EQ(headers["x-keep"], "k");
}

// ---- response_error ----

TEST(HttpRequest, NotFoundIsAResponseErrorWithTheResultStillAvailable) {
  const Json out = call({{"url", local("/missing")}});
  ASSERT_EQ(out.value("state", ""), "response_error") << out.dump();
  EXPECT_EQ(out["status"], 404);  // @{result.status_code} in the next block
  EXPECT_EQ(out["result"]["body"], Json::parse(R"({"error":"not found"})"));
  EXPECT_TRUE(contains(out["message"], "answered 404 Not Found")) << out.dump();
  EXPECT_TRUE(contains(out["message"], "/missing")) << out.dump();
}

TEST(HttpRequest, InvalidJsonWithAJsonContentTypeIsAResponseError) {
  const Json out = call({{"url", local("/badjson")}});
  ASSERT_EQ(out.value("state", ""), "response_error") << out.dump();
  EXPECT_EQ(out["status"], 200);
  EXPECT_EQ(out["result"]["body"], "{not json");
  EXPECT_TRUE(contains(out["message"], "not valid JSON")) << out.dump();
}

TEST(HttpRequest, DoesNotFollowRedirectsForPost) {
  const Json out = call({{"method", "POST"}, {"url", local("/redirect")}, {"body", "x"}});
  ASSERT_EQ(out.value("state", ""), "response_error") << out.dump();
  EXPECT_EQ(out["status"], 302);
  EXPECT_EQ(out["result"]["headers"]["location"], "/json");
}

TEST(HttpRequest, StopsAfterFiveRedirects) {
  const Json out = call({{"url", local("/loop")}});
  ASSERT_EQ(out.value("state", ""), "response_error") << out.dump();
  EXPECT_TRUE(contains(out["message"], "more than 5 times")) << out.dump();
}

TEST(HttpRequest, CapsTheResponseBody) {
  const Json out = call({{"url", local("/big")}});
  ASSERT_EQ(out.value("state", ""), "response_error") << out.dump().substr(0, 500);
  EXPECT_TRUE(contains(out["message"], "exceeds the limit of 10 MiB")) << out["message"];
  EXPECT_EQ(out["result"]["body"], nullptr);
}

TEST(HttpRequest, RefusesABodyWhoseDeclaredLengthIsOverTheLimit) {
  const Json out = call({{"url", local("/big-declared")}});
  ASSERT_EQ(out.value("state", ""), "response_error") << out.dump().substr(0, 500);
  EXPECT_TRUE(
      contains(out["message"], "the response body of 11534336 bytes exceeds the limit of 10 MiB"))
      << out["message"];
  EXPECT_EQ(out["status"], 200);
  EXPECT_EQ(out["result"]["body"], nullptr);
}

// ---- connection_error ----

TEST(HttpRequest, AClosedPortIsAConnectionError) {
  std::uint16_t closed = 0;
  {
    Poco::Net::ServerSocket probe(Poco::Net::SocketAddress("127.0.0.1", 0));
    closed = probe.address().port();
  }
  const Json out = call({{"url", "http://127.0.0.1:" + std::to_string(closed) + "/"}});
  ASSERT_EQ(out.value("state", ""), "connection_error") << out.dump();
  EXPECT_TRUE(contains(out["message"], "127.0.0.1")) << out.dump();
  EXPECT_TRUE(contains(out["message"], "refused")) << out.dump();
}

TEST(HttpRequest, ATimeoutIsAConnectionError) {
  const auto started = Clock::now();
  const Json out = call({{"url", local("/slow")}, {"timeout_s", 0.3}});
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  ASSERT_EQ(out.value("state", ""), "connection_error") << out.dump();
  EXPECT_TRUE(contains(out["message"], "timed out after 0.3 s")) << out.dump();
  EXPECT_TRUE(contains(out["message"], "127.0.0.1")) << out.dump();
  EXPECT_LT(took.count(), 1500);
}

TEST(HttpRequest, TheTimeoutBoundsTheWholeExchange) {
  const auto started = Clock::now();
  const Json out = call({{"url", local("/drip")}, {"timeout_s", 0.5}});
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  ASSERT_EQ(out.value("state", ""), "connection_error") << out.dump();
  EXPECT_TRUE(contains(out["message"], "timed out after 0.5 s")) << out.dump();
  EXPECT_LT(took.count(), 1500);
}

TEST(HttpRequest, AReturnValueOnAnotherBranchDoesNotWaitForASlowServer) {
  Json blocks = Json::parse(R"([
    {"id": "trigger", "type": "api_trigger", "next": {"trigger": ["call", "fast"]}},
    {"id": "call", "type": "http_request", "fields": {"url": null, "timeout_s": 30},
     "next": {"success": "late"}},
    {"id": "late", "type": "return_value", "fields": {"value": "late"}},
    {"id": "fast", "type": "return_value", "fields": {"value": "fast"}}])");
  blocks[1]["fields"]["url"] = local("/slow");
  const Json agent = {{"name", "http_request test"},
                      {"blueprints", Json::array({{{"id", "main"}, {"blocks", blocks}}})}};
  auto compiled = CompiledAgent::compile("http_request_test", 1, agent, HttpEnvironment::catalog());
  RunOptions options;
  options.block_settings = &kAllowPrivate;
  NullObserver observer;
  RunControl control;
  const auto started = Clock::now();
  RunResult r = Runner::run(*compiled, *compiled->find("main"), {{"inputs", Json::object()}},
                            options, observer, control);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  ASSERT_EQ(r.status, RunResult::Status::Completed) << r.error << r.trace.dump();
  EXPECT_EQ(r.return_value, Json("fast"));
  EXPECT_LT(took.count(), 1500) << r.trace.dump();
}

TEST(HttpRequest, CancellingTheRunStopsAWaitingRequest) {
  Json blocks = Json::parse(R"([
    {"id": "trigger", "type": "api_trigger", "next": {"trigger": "call"}},
    {"id": "call", "type": "http_request", "fields": {"url": null, "timeout_s": 30},
     "next": {"success": "done"}},
    {"id": "done", "type": "return_value", "fields": {"value": "@{result}"}}])");
  blocks[1]["fields"]["url"] = local("/slow");
  const Json agent = {{"name", "http_request test"},
                      {"blueprints", Json::array({{{"id", "main"}, {"blocks", blocks}}})}};
  auto compiled = CompiledAgent::compile("http_request_test", 1, agent, HttpEnvironment::catalog());
  RunOptions options;
  options.block_settings = &kAllowPrivate;
  NullObserver observer;
  RunControl control;
  std::thread canceller([&control] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    control.cancel();
  });
  const auto started = Clock::now();
  RunResult r = Runner::run(*compiled, *compiled->find("main"), {{"inputs", Json::object()}},
                            options, observer, control);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  canceller.join();
  EXPECT_EQ(r.status, RunResult::Status::Cancelled) << r.error << r.trace.dump();
  EXPECT_LT(took.count(), 1500);
}

TEST(HttpRequest, RefusesLoopbackUnlessTheOperatorAllowsIt) {
  const Json empty = Json::object();
  for (const Json* settings : {static_cast<const Json*>(nullptr), &empty}) {
    const Json out = call({{"url", local("/json")}}, settings);
    ASSERT_EQ(out.value("state", ""), "connection_error") << out.dump();
    EXPECT_TRUE(contains(out["message"], "127.0.0.1")) << out.dump();
    EXPECT_TRUE(contains(out["message"], "loopback")) << out.dump();
    EXPECT_TRUE(contains(out["message"], "block_settings.http_request.allow_private_networks"))
        << out.dump();
  }
  const Json no = {{"http_request", {{"allow_private_networks", false}}}};
  EXPECT_EQ(call({{"url", local("/json")}}, &no).value("state", ""), "connection_error");
}

TEST(HttpRequest, RefusesNonPublicAddressesBeforeConnecting) {
  // Never contacted: each is refused after resolution, before any socket is opened.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"http://localhost:1/", ""},  // 127.0.0.1 or ::1, whichever the resolver lists first
      {"http://[::1]:1/", "::1"},
      {"http://10.1.2.3:1/", "10.1.2.3"},
      {"http://172.16.0.1:1/", "172.16.0.1"},
      {"http://192.168.1.1:1/", "192.168.1.1"},
      {"http://169.254.169.254/latest/meta-data/", "169.254.169.254"},
      {"http://0.0.0.0:1/", "0.0.0.0"},
      {"http://100.64.0.1:1/", "100.64.0.1"},
      {"http://[fe80::1]:1/", "fe80::1"},
      {"http://[fd00::1]:1/", "fd00::1"},
      {"http://[::ffff:127.0.0.1]:1/", "::ffff:127.0.0.1"},
      {"http://[::]:1/", "::"},
      {"https://127.0.0.2/", "127.0.0.2"}};
  for (const auto& [url, address] : cases) {
    const auto started = Clock::now();
    const Json out = call({{"url", url}, {"timeout_s", 1}}, nullptr);
    EXPECT_EQ(out.value("state", ""), "connection_error") << url << " " << out.dump();
    EXPECT_TRUE(contains(out["message"],
                         "refused to connect to " + address + (address.empty() ? "" : " (")))
        << url << " " << out.dump();
    EXPECT_TRUE(contains(out["message"], "allow_private_networks")) << out.dump();
    EXPECT_LT(Clock::now() - started, std::chrono::milliseconds(900)) << url;
  }
}

TEST(HttpRequest, RejectsUrlsThatAreNotHttp) {
  Json out = call({{"url", "ftp://127.0.0.1/file"}});
  EXPECT_EQ(out.value("state", ""), "connection_error") << out.dump();
  EXPECT_TRUE(contains(out["message"], "url 'ftp://127.0.0.1/file' is not an http or https URL"))
      << out.dump();
  out = call({{"url", "just text"}});
  EXPECT_EQ(out.value("state", ""), "connection_error") << out.dump();
  EXPECT_TRUE(contains(out["message"], "url 'just text' is not")) << out.dump();
}

TEST(HttpRequest, RejectsHeaderInjection) {
  RunResult r = runRequest({{"url", local("/echo")}, {"headers", R"({"X-A": "a\r\nX-B: b"})"}});
  EXPECT_EQ(r.status, RunResult::Status::Error);
  EXPECT_NE(r.error.find("call: headers: the value of 'X-A' contains a line break"),
            std::string::npos)
      << r.error;
}

TEST(HttpRequest, VerifiesServerCertificates) {
  // A self-signed certificate is not in the system CA store: the handshake must fail, and the
  // server never sees a request.
  const fs::path dir = HttpEnvironment::root() / "tls";
  fs::create_directories(dir);
  const std::string key = (dir / "key.pem").string(), cert = (dir / "cert.pem").string();
  const std::string command =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -keyout " + key +
      " -out " + cert + " >/dev/null 2>&1";
  if (std::system(command.c_str()) != 0) GTEST_SKIP() << "the openssl command is not available";
  Poco::Net::initializeSSL();
  {
    Poco::Net::Context::Ptr context = new Poco::Net::Context(
        Poco::Net::Context::SERVER_USE, key, cert, "", Poco::Net::Context::VERIFY_NONE);
    Poco::Net::SecureServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0), 64, context);
    const std::uint16_t port = socket.address().port();
    Poco::Net::HTTPServer server(new TestHandlerFactory, socket, new Poco::Net::HTTPServerParams);
    server.start();
    const Json out =
        call({{"url", "https://127.0.0.1:" + std::to_string(port) + "/json"}, {"timeout_s", 5}});
    server.stopAll(true);
    ASSERT_EQ(out.value("state", ""), "connection_error") << out.dump();
    EXPECT_TRUE(contains(out["message"], "TLS with 127.0.0.1")) << out.dump();
  }
  Poco::Net::uninitializeSSL();
}

// ---- the library ----

TEST(HttpRequest, UnloadsCleanlyAfterUse) {
  // Its own load of the library (one generation), used for a plain and a TLS request, then
  // released: deinit runs, and the loader checks the file is really unmapped (no zombie).
  const fs::path dir = HttpEnvironment::root() / "unload";
  fs::create_directories(dir / "plugins");
  fs::copy_file(fs::path(BLUEPRINT_PLUGIN_DIR) / "core_blocks.so", dir / "plugins/core_blocks.so");
  fs::copy_file(fs::path(BLUEPRINT_HTTP_PLUGIN), dir / "plugins/http_blocks.so");
  const int zombies_before = zombieGenerations("http_blocks.so");
  {
    PluginManager manager(dir / "plugins", dir / "cache");
    ASSERT_TRUE(manager.reload().rejected.empty());
    const Json agent = Json::parse(R"({"name": "unload", "blueprints": [{"id": "main", "blocks": [
      {"id": "trigger", "type": "api_trigger", "next": {"trigger": ["plain", "tls"]}},
      {"id": "plain", "type": "http_request", "fields": {"url": "@{payload.inputs.plain}"}},
      {"id": "tls", "type": "http_request", "fields": {"url": "@{payload.inputs.tls}"}}]}]})");
    auto compiled = CompiledAgent::compile("unload", 1, agent, manager.current());
    RunOptions options;
    options.block_settings = &kAllowPrivate;
    NullObserver observer;
    RunControl control;
    // The TLS request fails (the server speaks plain HTTP); it still sets OpenSSL up.
    RunResult r = Runner::run(
        *compiled, *compiled->find("main"),
        {{"inputs",
          {{"plain", local("/json")},
           {"tls", "https://127.0.0.1:" + std::to_string(TestHandler::port) + "/json"}}}},
        options, observer, control);
    EXPECT_EQ(r.status, RunResult::Status::Error) << r.trace.dump();
    EXPECT_NE(r.error.find("tls: GET https://127.0.0.1"), std::string::npos) << r.error;
  }
  // A deferred call (ABI 1.3) may outlive its run, which ended at the first error: the
  // generation stays loaded until that call completes, a moment later.
  std::error_code ec;
  const auto unloaded_by = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < unloaded_by && !fs::is_empty(dir / "cache", ec))
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(zombieGenerations("http_blocks.so"), zombies_before);
  for (const auto& entry : fs::directory_iterator(dir / "cache", ec))
    ADD_FAILURE() << "left in the plugin cache: " << entry.path();
}

// ---- manifest ----

TEST(HttpRequest, DeclaresItsManifest) {
  const BlockType* type = HttpEnvironment::catalog()->find("http_request");
  ASSERT_NE(type, nullptr);
  EXPECT_EQ(type->end_states,
            (std::vector<std::string>{"success", "response_error", "connection_error"}));
  EXPECT_FALSE(type->instant);
  std::vector<std::string> names;
  for (const auto& f : type->fields) names.push_back(f.name);
  EXPECT_EQ(names, (std::vector<std::string>{"method", "url", "headers", "body_type", "body",
                                             "timeout_s"}));
  EXPECT_EQ(type->field("method")->options,
            (std::vector<std::string>{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}));
  EXPECT_EQ(type->field("method")->default_value, Json("GET"));
  EXPECT_TRUE(type->field("url")->required);
  EXPECT_EQ(type->field("headers")->type, "json");
  EXPECT_EQ(type->field("body")->json_when_field, "body_type");
  EXPECT_EQ(type->field("timeout_s")->default_value, Json(30));
}

}  // namespace
}  // namespace blueprint::host
