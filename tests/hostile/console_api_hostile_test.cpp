// SPDX-License-Identifier: Apache-2.0
// What the web console's API gaps added (issue 14), with hostile bytes: version numbers that are
// not numbers (or too big for one), keys without the scope, and /test bodies that are huge, cut
// short, deeply nested or not a trigger body. Each gets its status and JSON error, nothing is
// parsed loosely, and the host still serves afterwards.
#include <string>
#include <vector>

#include "hostile/hostile_support.hpp"
#include "support/api_helpers.hpp"
#include "support/http_client.hpp"

namespace blueprint::testing {
namespace {

Json greeter() {
  return agent(
      "Greeter",
      {blueprint("main",
                 {block("trigger", "api_trigger", {{"default_result", R"({"inputs":{}})"}},
                        {{"trigger", "reply"}}),
                  block("reply", "return_value", {{"value", "Hi @{result.inputs.name}"}})})});
}

TestHostOptions smallLimits() {
  TestHostOptions o;
  o.agents["greeter"] = greeter();
  o.config["body_limit_bytes"] = 64 * 1024;
  o.config["json_max_depth"] = 64;
  return o;
}

/// One request over its own connection, with the admin key; the raw response ("" for none).
std::string rawRequest(int port, const std::string& key, const std::string& method,
                       const std::string& target, const std::string& extra_head = "",
                       const std::string& body = "") {
  RawConnection connection(port);
  std::string head = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  if (!key.empty()) head += "Authorization: Bearer " + key + "\r\n";
  EXPECT_TRUE(connection.send(head + extra_head + "Connection: close\r\n\r\n" + body));
  return connection.readResponse().value_or("");
}

std::string errorCodeOf(const std::string& response) {
  const Json body = Json::parse(bodyOf(response), nullptr, false);
  if (!body.is_object() || !body.contains("error")) return "";
  return body["error"].value("code", "");
}

TEST(HostileConsoleApi, VersionNumbersThatAreNotPlainPositiveNumbersAre400) {
  TestHost host(smallLimits());
  ASSERT_TRUE(host.start());
  const std::vector<std::string> bad = {"0",
                                        "00",
                                        "01",
                                        "-1",
                                        "+1",
                                        "1.0",
                                        "1e3",
                                        "0x10",
                                        "%201",
                                        "1%20",
                                        "1%00",
                                        "%E2%91%A0",  // ① CIRCLED DIGIT ONE
                                        "%FF%FE",
                                        "abc",
                                        "9223372036854775807",  // INT64_MAX: 19 digits
                                        "99999999999999999999999999",
                                        std::string(3000, '9')};
  for (const std::string& version : bad) {
    SCOPED_TRACE(version.substr(0, 40));
    const std::string response =
        rawRequest(host.port(), host.adminKey(), "GET", "/v1/agents/greeter/versions/" + version);
    const int status = statusOf(response);
    // 400 from the handler; a framing limit (414/431) may refuse the longest first.
    EXPECT_TRUE(status == 400 || status == 414 || status == 431) << response.substr(0, 300);
    if (status == 400) {
      EXPECT_EQ(errorCodeOf(response), "invalid_request") << bodyOf(response);
    }
  }
  // The largest accepted number is looked up, and simply does not exist.
  const std::string largest = rawRequest(host.port(), host.adminKey(), "GET",
                                         "/v1/agents/greeter/versions/999999999999999999");
  EXPECT_EQ(statusOf(largest), 404) << largest;
  EXPECT_EQ(errorCodeOf(largest), "version_not_found");
  // Extra segments are another path, not a version.
  EXPECT_EQ(statusOf(rawRequest(host.port(), host.adminKey(), "GET",
                                "/v1/agents/greeter/versions/1/definition")),
            404);
  EXPECT_EQ(
      statusOf(rawRequest(host.port(), host.adminKey(), "GET", "/v1/agents/greeter/versions/")),
      404);
  EXPECT_TRUE(stillServing(host));
}

TEST(HostileConsoleApi, AVersionNeedsTheAdminScopeBeforeAnythingIsRead) {
  TestHost host(smallLimits());
  ASSERT_TRUE(host.start());
  for (const char* version : {"1", "abc", "999"}) {
    SCOPED_TRACE(version);
    const std::string target = std::string("/v1/agents/greeter/versions/") + version;
    const std::string invoke = rawRequest(host.port(), host.invokeKey(), "GET", target);
    EXPECT_EQ(statusOf(invoke), 403) << invoke;
    EXPECT_EQ(errorCodeOf(invoke), "forbidden");
    EXPECT_EQ(statusOf(rawRequest(host.port(), "", "GET", target)), 401);
    EXPECT_EQ(statusOf(rawRequest(host.port(), "bp_wrong_key", "GET", target)), 401);
  }
  EXPECT_TRUE(stillServing(host));
}

TEST(HostileConsoleApi, TestBodiesGetTheTriggersLimitsAndErrors) {
  TestHost host(smallLimits());
  ASSERT_TRUE(host.start());
  const int port = host.port();
  const std::string path = triggerPath("greeter", "main") + "/test";
  const std::string json = "Content-Type: application/json\r\n";

  // Declared past the limit: 413 without the body being read.
  std::string response = rawRequest(port, host.adminKey(), "POST", path,
                                    json + "Content-Length: 100000000\r\n", "{\"inputs\":{");
  EXPECT_EQ(statusOf(response), 413) << response.substr(0, 300);
  EXPECT_EQ(errorCodeOf(response), "payload_too_large");

  // Chunked past the limit: 413 once the limit is crossed.
  const std::string big = "{\"inputs\":{\"name\":\"" + std::string(70 * 1024, 'a') + "\"}}";
  char size[32];
  std::snprintf(size, sizeof(size), "%zx", big.size());
  response =
      rawRequest(port, host.adminKey(), "POST", path, json + "Transfer-Encoding: chunked\r\n",
                 std::string(size) + "\r\n" + big + "\r\n0\r\n\r\n");
  EXPECT_EQ(statusOf(response), 413) << response.substr(0, 300);

  // Nested past json_max_depth inside inputs (40 KB, under the size limit): 400, the host does
  // not recurse into it.
  const std::string deep = "{\"inputs\":{\"a\":" + nestedArrays(20000) + "}}";
  response = rawRequest(port, host.adminKey(), "POST", path,
                        json + "Content-Length: " + std::to_string(deep.size()) + "\r\n", deep);
  EXPECT_EQ(statusOf(response), 400) << response.substr(0, 300);
  EXPECT_EQ(errorCodeOf(response), "invalid_request");

  // Not a trigger body, cut short, invalid UTF-8: 400 each.
  for (const std::string& bad :
       {std::string("{\"inputs\":null}"), std::string("{\"inputs\":{\"a\":1}"),
        std::string("{\"inputs\":{\"name\":\"\xff\xfe\"}}"), std::string("\"inputs\""),
        std::string("{\"other\":{}}")}) {
    SCOPED_TRACE(bad);
    response = rawRequest(port, host.adminKey(), "POST", path,
                          json + "Content-Length: " + std::to_string(bad.size()) + "\r\n", bad);
    EXPECT_EQ(statusOf(response), 400) << response.substr(0, 300);
    EXPECT_EQ(errorCodeOf(response), "invalid_request");
  }

  // Inputs just under the limit run, and the job shows them back whole.
  const std::string name(60 * 1024, 'n');
  const std::string fits = Json{{"inputs", {{"name", name}}}}.dump();
  SyncRun run = streamPost(HttpClient(port, host.adminKey()), path, fits);
  ASSERT_EQ(run.status, 200) << run.body;
  EXPECT_EQ(returnedText(run.events), "Hi " + name);
  HttpResponse job = HttpClient(port, host.adminKey()).get("/v1/agents/jobs/" + run.job_id);
  ASSERT_EQ(job.status, 200);
  EXPECT_EQ(job.json()["inputs"]["name"], name);

  // The test run is an editor action: an invoke key is refused before the body matters.
  response = rawRequest(port, host.invokeKey(), "POST", path,
                        json + "Content-Length: " + std::to_string(fits.size()) + "\r\n", fits);
  EXPECT_EQ(statusOf(response), 403);
  EXPECT_TRUE(stillServing(host));
}

}  // namespace
}  // namespace blueprint::testing
