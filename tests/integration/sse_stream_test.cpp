// SPDX-License-Identifier: Apache-2.0
// The SSE stream of a sync run (DESIGN §2) against the real host: keep-alive comments during
// silence, a caller that leaves mid-run, cancel of a running sync run, and idle keep-alive
// connections that must not starve new clients.
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <gtest/gtest.h>

#include <memory>
#include <thread>

#include "support/api_helpers.hpp"
#include "support/http_client.hpp"
#include "support/sse_client.hpp"
#include "support/test_host.hpp"

namespace blueprint::testing {
namespace {

/// trigger → test.sleep(`ms`) → return_value `reply`.
Json sleepyBlueprint(const std::string& id, int ms, const std::string& reply) {
  return blueprint(id, {block("trigger", "api_trigger", {}, {{"trigger", "nap"}}),
                        block("nap", "test.sleep", {{"ms", ms}}, {{"success", "reply"}}),
                        block("reply", "return_value", {{"value", reply}})});
}

TestHostOptions sleepyOptions() {
  TestHostOptions o;
  o.plugins = {corePluginPath(), fixturePluginPath("test_blocks")};
  o.config = {{"sse_keepalive_ms", 200}};
  o.agents["sleepy"] =
      agent("Sleepy", {sleepyBlueprint("short", 900, "rested"),
                       sleepyBlueprint("medium", 600, "finished @{payload.inputs.tag}"),
                       sleepyBlueprint("long", 20000, "too late")});
  return o;
}

class SseStream : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(host_.start()); }
  HttpClient invoke() const { return HttpClient(host_.port(), host_.invokeKey()); }

  TestHost host_{sleepyOptions()};
};

TEST_F(SseStream, KeepAliveCommentArrivesWhileARunIsSilent) {
  SseClient sse(host_.port(), host_.invokeKey(), std::chrono::seconds(5));
  ASSERT_EQ(sse.open("POST", triggerPath("sleepy", "short"), R"({"inputs":{}})"), 200);
  std::vector<std::string> events;
  int comments_before_result = 0;
  while (std::optional<SseItem> item = sse.next()) {
    if (item->is_comment) {
      EXPECT_EQ(item->data, "keep-alive");
      if (events.size() == 2) ++comments_before_result;
      continue;
    }
    events.push_back(item->data);
    if (item->data == "[DONE]") break;
  }
  // 900 ms of silence with a 200 ms keep-alive: at least two comments while the block sleeps.
  EXPECT_GE(comments_before_result, 2) << "comments in total: " << sse.comments();
  EXPECT_EQ(events, (std::vector<std::string>{inProgressEvent(), executingEvent("short"),
                                              deltaEvent("rested"), "[DONE]"}));
  EXPECT_FALSE(sse.next()) << "nothing may follow [DONE]";
  EXPECT_TRUE(sse.ended());
}

TEST_F(SseStream, RunGoesOnWhenTheCallerDisconnects) {
  SseClient sse(host_.port(), host_.invokeKey(), std::chrono::seconds(5));
  ASSERT_EQ(sse.open("POST", triggerPath("sleepy", "medium"), R"({"inputs":{"tag":"alone"}})"),
            200);
  const std::string id = sse.header("X-Job-Id");
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(sse.nextEvent(), inProgressEvent());
  EXPECT_EQ(sse.nextEvent(), executingEvent("medium"));
  sse.disconnect();

  HttpResponse during = invoke().get("/v1/agents/jobs/" + id);
  ASSERT_EQ(during.status, 200) << during.body;
  EXPECT_EQ(during.json()["status"], "in_progress") << during.body;

  Json job = waitForJob(invoke(), id, std::chrono::seconds(10));
  EXPECT_EQ(job["status"], "completed") << job.dump();
  EXPECT_EQ(job["artifact"], "finished alone");

  SseClient replay(host_.port(), host_.invokeKey(), std::chrono::seconds(5));
  ASSERT_EQ(replay.open("GET", "/v1/agents/jobs/" + id + "/events"), 200);
  EXPECT_EQ(replay.readToDone(),
            (std::vector<std::string>{inProgressEvent(), executingEvent("medium"),
                                      deltaEvent("finished alone"), "[DONE]"}));
}

TEST_F(SseStream, EventsFollowARunningSyncRunLive) {
  SseClient caller(host_.port(), host_.invokeKey(), std::chrono::seconds(5));
  ASSERT_EQ(caller.open("POST", triggerPath("sleepy", "medium"), R"({"inputs":{"tag":"x"}})"), 200);
  const std::string id = caller.header("X-Job-Id");
  EXPECT_EQ(caller.nextEvent(), inProgressEvent());

  SseClient follower(host_.port(), host_.invokeKey(), std::chrono::seconds(5));
  ASSERT_EQ(follower.open("GET", "/v1/agents/jobs/" + id + "/events"), 200);
  const std::vector<std::string> expected = {inProgressEvent(), executingEvent("medium"),
                                             deltaEvent("finished x"), "[DONE]"};
  EXPECT_EQ(follower.readToDone(), expected);
  std::vector<std::string> rest = caller.readToDone();
  rest.insert(rest.begin(), inProgressEvent());
  EXPECT_EQ(rest, expected);
}

TEST_F(SseStream, CancelStopsARunningSyncRun) {
  SseClient sse(host_.port(), host_.invokeKey(), std::chrono::seconds(5));
  ASSERT_EQ(sse.open("POST", triggerPath("sleepy", "long"), R"({"inputs":{}})"), 200);
  const std::string id = sse.header("X-Job-Id");
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(sse.nextEvent(), inProgressEvent());
  EXPECT_EQ(sse.nextEvent(), executingEvent("long"));

  const auto asked = std::chrono::steady_clock::now();
  HttpResponse cancel = invoke().post("/v1/agents/jobs/" + id + "/cancel");
  ASSERT_TRUE(cancel.status == 200 || cancel.status == 202) << cancel.body;

  std::optional<std::string> closing = sse.nextEvent();
  ASSERT_TRUE(closing.has_value());
  Json event = Json::parse(*closing, nullptr, false);
  EXPECT_EQ(event.value("status", ""), "cancelled") << *closing;
  EXPECT_EQ(sse.nextEvent(), "[DONE]");
  EXPECT_FALSE(sse.next());
  EXPECT_TRUE(sse.ended());
  EXPECT_LT(std::chrono::steady_clock::now() - asked, std::chrono::seconds(5))
      << "the sleep is cancellable: the run must stop well before its 20 s";

  Json job = waitForJob(invoke(), id, std::chrono::seconds(5));
  EXPECT_EQ(job["status"], "cancelled") << job.dump();
  EXPECT_TRUE(job["artifact"].is_null());
  HttpResponse again = invoke().post("/v1/agents/jobs/" + id + "/cancel");
  EXPECT_EQ(again.status, 409) << again.body;
}

TEST_F(SseStream, IdleKeepAliveConnectionsDoNotStarveNewClients) {
  constexpr int kIdle = 200;
  std::vector<std::unique_ptr<Poco::Net::HTTPClientSession>> idle;
  idle.reserve(kIdle);
  const auto open_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (int i = 0; i < kIdle && std::chrono::steady_clock::now() < open_deadline; ++i) {
    auto session = std::make_unique<Poco::Net::HTTPClientSession>(
        "127.0.0.1", static_cast<Poco::UInt16>(host_.port()));
    session->setTimeout(Poco::Timespan(5, 0));
    session->setKeepAlive(true);
    Poco::Net::HTTPRequest request("GET", "/healthz", Poco::Net::HTTPMessage::HTTP_1_1);
    request.setKeepAlive(true);
    session->sendRequest(request);
    Poco::Net::HTTPResponse response;
    std::string body;
    Poco::StreamCopier::copyToString(session->receiveResponse(response), body);
    ASSERT_EQ(response.getStatus(), Poco::Net::HTTPResponse::HTTP_OK) << "connection " << i;
    ASSERT_TRUE(response.getKeepAlive()) << "connection " << i;
    idle.push_back(std::move(session));  // stays open and idle
  }
  ASSERT_EQ(idle.size(), static_cast<std::size_t>(kIdle));

  const auto start = std::chrono::steady_clock::now();
  HttpResponse fresh =
      httpRequest(host_.port(), "GET", "/healthz", {}, {}, std::chrono::seconds(5));
  EXPECT_EQ(fresh.status, 200);
  SyncRun run = runSync(invoke(), "sleepy", "short");
  EXPECT_EQ(run.status, 200) << run.body;
  EXPECT_EQ(returnedText(run.events), "rested");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

}  // namespace
}  // namespace blueprint::testing
