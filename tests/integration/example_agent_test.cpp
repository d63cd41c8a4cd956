// SPDX-License-Identifier: Apache-2.0
// example_agent_test.cpp: the README's "An example workflow" as shipped. The real blueprint-host
// deploys examples/agents/host_status.json (copied byte for byte into its agents directory) with
// the http_request settings of examples/host.json, and the README's curl body runs it: HTTP call
// → parse_json → for_each → return_value against the host's own /readyz on 127.0.0.1.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "support/api_helpers.hpp"
#include "support/http_client.hpp"
#include "support/test_host.hpp"

namespace blueprint::testing {
namespace {

namespace fs = std::filesystem;

std::string readText(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

const fs::path kSource = BLUEPRINT_SOURCE_DIR;

/// The JSON body of the README's curl line for the example, and the path it posts to.
struct ReadmeCall {
  std::string path;
  std::string body;
};

ReadmeCall readmeCall() {
  const std::string readme = readText(kSource / "README.md");
  const std::size_t section = readme.find("## An example workflow");
  if (section == std::string::npos) return {};
  const std::string rest = readme.substr(section);
  std::smatch body, url;
  static const std::regex kBody(R"(-d '(\{[^']*\})')");
  static const std::regex kUrl(R"(http://127\.0\.0\.1:8080(/v1/agents/[^\s]+))");
  if (!std::regex_search(rest, body, kBody) || !std::regex_search(rest, url, kUrl)) return {};
  return {url[1].str(), body[1].str()};
}

/// A host with both first-party plugins, the example host's block settings and the example
/// agent file.
TestHostOptions exampleHostOptions() {
  TestHostOptions options;
  options.plugins = {corePluginPath(), fs::path(BLUEPRINT_HTTP_PLUGIN)};
  const Json host_config = Json::parse(readText(kSource / "examples/host.json"));
  options.config["block_settings"] = host_config.at("block_settings");
  return options;
}

/// Starts `host` with examples/agents/host_status.json copied into its agents directory.
::testing::AssertionResult startWithExample(TestHost& host) {
  fs::copy_file(kSource / "examples/agents/host_status.json", host.agentsDir() / "host_status.json",
                fs::copy_options::overwrite_existing);
  return host.start();
}

TEST(ExampleAgent, TheReadmeCallDescribesTheHostsReadiness) {
  const ReadmeCall call = readmeCall();
  ASSERT_FALSE(call.path.empty()) << "README.md needs a section \"## An example workflow\" with "
                                     "a curl -d '{…}' line to http://127.0.0.1:8080/v1/agents/…";
  EXPECT_EQ(call.path, "/v1/agents/host_status/blueprints/status");

  TestHost host(exampleHostOptions());
  ASSERT_TRUE(startWithExample(host));
  HttpClient client(host.port(), host.invokeKey());

  // The README's body, pointed at this host's port instead of the quickstart's 8080.
  std::string body = call.body;
  body = std::regex_replace(body, std::regex("127\\.0\\.0\\.1:8080"),
                            "127.0.0.1:" + std::to_string(host.port()));
  SyncRun run = streamPost(client, call.path, body);
  ASSERT_EQ(run.status, 200) << run.body;
  ASSERT_FALSE(run.events.empty());
  EXPECT_EQ(run.events.back(), "[DONE]");

  // One line per entry of GET /readyz, keyed like it.
  HttpResponse ready = client.get("/readyz");
  ASSERT_EQ(ready.status, 200) << ready.body;
  Json expected = Json::object();
  const Json readiness = ready.json();
  for (const auto& [key, value] : readiness.items())
    expected[key] = key + " is " + (value.is_string() ? value.get<std::string>() : value.dump());
  EXPECT_EQ(expected.at("status"), "status is ready");
  const Json returned = Json::parse(returnedText(run.events), nullptr, false);
  EXPECT_EQ(returned, expected) << "events: " << Json(run.events).dump();
}

TEST(ExampleAgent, AnUnreachableUrlTakesTheFailureBranch) {
  TestHost host(exampleHostOptions());
  ASSERT_TRUE(startWithExample(host));
  HttpClient client(host.port(), host.invokeKey());
  // Port 1 on loopback: nothing listens there, so the connection is refused at once.
  SyncRun run = runSync(client, "host_status", "status", {{"url", "http://127.0.0.1:1/readyz"}});
  ASSERT_EQ(run.status, 200) << run.body;
  const std::string text = returnedText(run.events);
  EXPECT_EQ(text.rfind("Could not describe http://127.0.0.1:1/readyz: ", 0), 0u) << text;
}

}  // namespace
}  // namespace blueprint::testing
