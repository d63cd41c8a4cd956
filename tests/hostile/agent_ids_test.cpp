// SPDX-License-Identifier: Apache-2.0
// agent_ids_test.cpp: one grammar for agent and blueprint ids (issue 11, L7):
// [A-Za-z0-9_][A-Za-z0-9_.-]{0,127} without "..". `.` and `..` (raw or percent-encoded) and
// their kin are refused on PUT with 400 invalid_request naming the id, and in agent files and
// Writer Framework apps of the agents directory with a log line naming it.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "hostile/hostile_support.hpp"
#include "support/api_helpers.hpp"
#include "support/http_client.hpp"
#include "support/test_host.hpp"

namespace blueprint::testing {
namespace {

namespace fs = std::filesystem;

Json replyBlueprint(const std::string& id) {
  return blueprint(id, {block("trigger", "api_trigger", {}, {{"trigger", "r"}}),
                        block("r", "return_value", {{"value", "ran " + id}})});
}

/// PUT `target` as raw bytes (a client library might normalise `.` and `..` away).
std::string rawPut(const TestHost& host, const std::string& target, const std::string& body) {
  RawConnection connection(host.port());
  connection.send("PUT " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
                  host.adminKey() + "\r\nContent-Type: application/json\r\nContent-Length: " +
                  std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
  return connection.readResponse().value_or("");
}

std::set<std::string> listedAgents(const TestHost& host) {
  std::set<std::string> ids;
  HttpResponse r = HttpClient(host.port(), host.adminKey()).get("/v1/agents");
  const Json body = r.json();
  for (const Json& a : body["agents"]) ids.insert(a["id"].get<std::string>());
  return ids;
}

TEST(AgentIds, PutRefusesDotsAndOtherIdsOutsideTheGrammar) {
  TestHost host;
  ASSERT_TRUE(host.start());
  const std::string body = agent("A", {replyBlueprint("main")}).dump();
  const std::vector<std::pair<std::string, std::string>> refused = {
      {"/v1/agents/.", "."},
      {"/v1/agents/..", ".."},
      {"/v1/agents/%2e%2e", ".."},
      {"/v1/agents/%2E", "."},
      {"/v1/agents/...", "..."},
      {"/v1/agents/a..b", "a..b"},
      {"/v1/agents/.hidden", ".hidden"},
      {"/v1/agents/-rf", "-rf"},
      {"/v1/agents/" + std::string(129, 'a'), std::string(129, 'a')},
  };
  for (const auto& [target, id] : refused) {
    const std::string response = rawPut(host, target, body);
    EXPECT_EQ(statusOf(response), 400) << target << "\n" << response;
    const Json error = Json::parse(bodyOf(response), nullptr, false);
    ASSERT_TRUE(error.is_object()) << target << "\n" << response;
    EXPECT_EQ(error["error"].value("code", ""), "invalid_request") << target;
    EXPECT_NE(error["error"].value("message", "").find("agent id '" + id + "' is not valid"),
              std::string::npos)
        << target << "\n"
        << response;
  }

  // A blueprint id is a path segment too.
  const HttpClient admin(host.port(), host.adminKey());
  for (const std::string bad : {"..", ".", "-x", "a..b"}) {
    HttpResponse r = admin.put("/v1/agents/fine", agent("Fine", {replyBlueprint(bad)}));
    EXPECT_EQ(r.status, 400) << bad << ": " << r.body;
    EXPECT_EQ(r.errorCode(), "invalid_request") << bad;
    EXPECT_NE(r.body.find("blueprint id '" + bad + "' of agent 'fine' is not valid"),
              std::string::npos)
        << r.body;
  }

  // Ids inside the grammar still work, dots and all.
  for (const std::string& good :
       std::vector<std::string>{"a.b-c_d", "_private", "A1", std::string(128, 'z')}) {
    const std::string response =
        rawPut(host, "/v1/agents/" + good, agent("Good", {replyBlueprint("v1.2_main")}).dump());
    EXPECT_EQ(statusOf(response), 200) << good << "\n" << response;
  }
  EXPECT_EQ(admin.post("/v1/agents/a.b-c_d/deploy").status, 200);
  EXPECT_EQ(returnedText(
                runSync(HttpClient(host.port(), host.invokeKey()), "a.b-c_d", "v1.2_main").events),
            "ran v1.2_main");
  EXPECT_EQ(admin.get("/v1/agents/..").status, 404);
  EXPECT_TRUE(stillServing(host));
}

TEST(AgentIds, TheAgentsDirectoryRefusesThemNamingTheId) {
  TestHostOptions options;
  options.agents["good"] = agent("Good", {replyBlueprint("main")});
  // A file may name its agent itself: "id" wins over the file name.
  Json dotdot = agent("Dots", {replyBlueprint("main")});
  dotdot["id"] = "..";
  options.agents["dotdot"] = dotdot;
  options.agents["badbp"] = agent("Bad blueprint", {replyBlueprint("..")});
  TestHost host(options);
  // A Writer Framework app whose blueprint key is "..".
  const fs::path app = host.agentsDir() / "wfapp";
  fs::create_directories(app / ".wf");
  std::ofstream(app / ".wf/components-blueprints_blueprint-0-b.jsonl")
      << R"({"id": "b", "type": "blueprints_blueprint", "content": {"key": ".."}, "parentId": "blueprints_root"})"
      << "\n"
      << R"({"id": "t", "type": "blueprints_apitrigger", "parentId": "b", "content": {}, "outs": [{"outId": "trigger", "toNodeId": "r"}]})"
      << "\n"
      << R"({"id": "r", "type": "blueprints_returnvalue", "parentId": "b", "content": {"value": "x"}})"
      << "\n";
  ASSERT_TRUE(host.start());
  const std::string log = host.output();
  EXPECT_NE(log.find("agent id '..' is not valid"), std::string::npos) << log;
  EXPECT_NE(log.find("blueprint id '..' of agent 'badbp' is not valid"), std::string::npos) << log;
  EXPECT_NE(log.find("blueprint id '..' of agent 'wfapp' is not valid"), std::string::npos) << log;
  EXPECT_EQ(listedAgents(host), (std::set<std::string>{"good"}));
  EXPECT_TRUE(stillServing(host));
}

}  // namespace
}  // namespace blueprint::testing
