// SPDX-License-Identifier: Apache-2.0
// JSON logs and the access log (issue 15): the real blueprint-host with `log_format: "json"`
// and `access_log: true` writes one JSON object per line, and every kind of event is there with
// its fields: start-up, plugin load, agent deploy, a failed job, a log_message block, an access
// line and shutdown. Hostile text through a log_message block stays inside its one object.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "support/api_helpers.hpp"
#include "support/http_client.hpp"
#include "support/test_host.hpp"

namespace blueprint::testing {
namespace {

Json loggingAgent() {
  return agent(
      "Logging",
      {blueprint("say", {block("trigger", "api_trigger", {}, {{"trigger", "log"}}),
                         block("log", "log_message",
                               {{"level", "warning"}, {"message", "@{result.inputs.text}"}},
                               {{"success", "reply"}}),
                         block("reply", "return_value", {{"value", "ok"}})}),
       blueprint("broken", {block("trigger", "api_trigger", {}, {{"trigger", "parse"}}),
                            block("parse", "parse_json", {{"text", "this is not json"}})})});
}

/// Every line of `output` parsed; a line that is not a JSON object fails the test.
std::vector<Json> jsonLines(const std::string& output) {
  std::vector<Json> lines;
  std::istringstream in(output);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    Json parsed = Json::parse(line, nullptr, false);
    EXPECT_TRUE(!parsed.is_discarded() && parsed.is_object()) << "not a JSON object: " << line;
    if (!parsed.is_discarded() && parsed.is_object()) lines.push_back(std::move(parsed));
  }
  return lines;
}

/// The first line whose `msg` contains `text` (and, when given, whose logger is `logger`).
const Json* findLine(const std::vector<Json>& lines, const std::string& text,
                     const std::string& logger = "") {
  for (const Json& line : lines)
    if (line.value("msg", "").find(text) != std::string::npos &&
        (logger.empty() || line.value("logger", "") == logger))
      return &line;
  return nullptr;
}

TEST(JsonLog, EveryEventKindIsOneJsonObjectWithItsFields) {
  TestHostOptions options;
  options.agents["logging"] = loggingAgent();
  options.config = {{"log_format", "json"}, {"access_log", true}, {"job_workers", 1}};
  TestHost host(options);
  ASSERT_TRUE(host.start());
  HttpClient admin(host.port(), host.adminKey());

  // A log_message block with hostile text: newlines, a forged object, quotes, backslashes,
  // NUL, ESC and other control characters, a line separator, non-ASCII.
  const std::string hostile =
      std::string("first\nsecond\r\n{\"level\":\"error\",\"msg\":\"forged\"}\t\"q\" \\ ") +
      std::string(1, '\0') + "\x01\x1b[31mred\x7f \xe2\x80\xa8 \xc3\xa9\xf0\x9f\x99\x82";
  SyncRun said = runSync(admin, "logging", "say", {{"text", hostile}});
  ASSERT_EQ(said.status, 200);
  const std::string said_job = said.job_id;
  ASSERT_FALSE(said_job.empty());

  // A job whose run fails.
  HttpResponse created =
      admin.postJson(triggerPath("logging", "broken") + "/jobs", {{"inputs", Json::object()}});
  ASSERT_EQ(created.status, 202) << created.body;
  const std::string failed_job = created.json()["job_id"];
  EXPECT_EQ(waitForJob(admin, failed_job)["status"], "error");
  ASSERT_EQ(host.stop(), 0);

  const std::vector<Json> lines = jsonLines(host.output());
  ASSERT_FALSE(lines.empty());
  const std::regex rfc3339(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
  for (const Json& line : lines) {
    ASSERT_TRUE(line.contains("ts") && line["ts"].is_string()) << line.dump();
    EXPECT_TRUE(std::regex_match(line["ts"].get<std::string>(), rfc3339)) << line.dump();
    EXPECT_TRUE(line.contains("level") && line["level"].is_string()) << line.dump();
    EXPECT_TRUE(line.contains("msg") && line["msg"].is_string()) << line.dump();
  }

  const Json* startup = findLine(lines, "blueprint-host listening on http://");
  ASSERT_NE(startup, nullptr) << host.output();
  EXPECT_EQ((*startup)["level"], "info");
  EXPECT_EQ((*startup)["address"], "127.0.0.1:" + std::to_string(host.port()));
  EXPECT_EQ((*startup)["storage"], "sqlite");
  EXPECT_TRUE((*startup)["block_types"].is_number_integer());

  const Json* plugin = findLine(lines, "plugin loaded: core_blocks.so");
  ASSERT_NE(plugin, nullptr) << host.output();
  EXPECT_EQ((*plugin)["logger"], "blueprint.plugins");

  const Json* deploy = findLine(lines, "agent logging deployed as version 1");
  ASSERT_NE(deploy, nullptr) << host.output();
  EXPECT_EQ((*deploy)["agent"], "logging");
  EXPECT_EQ((*deploy)["agent_version"], 1);

  const Json* run_error = findLine(lines, "job failed: parse:");
  ASSERT_NE(run_error, nullptr) << host.output();
  EXPECT_EQ((*run_error)["level"], "warning");
  EXPECT_EQ((*run_error)["job_id"], failed_job);
  EXPECT_EQ((*run_error)["agent"], "logging");
  EXPECT_EQ((*run_error)["blueprint"], "broken");
  EXPECT_EQ((*run_error)["block"], "parse");

  // The hostile message arrives whole, in one object, byte for byte.
  const Json* block_line = nullptr;
  for (const Json& line : lines)
    if (line.value("logger", "") == "blueprint.blocks") block_line = &line;
  ASSERT_NE(block_line, nullptr) << host.output();
  EXPECT_EQ((*block_line)["msg"], hostile);
  EXPECT_EQ((*block_line)["level"], "warning");
  EXPECT_EQ((*block_line)["job_id"], said_job);
  EXPECT_EQ((*block_line)["agent"], "logging");
  EXPECT_EQ((*block_line)["blueprint"], "say");
  EXPECT_EQ((*block_line)["block"], "log");
  EXPECT_EQ((*block_line)["block_type"], "log_message");
  EXPECT_EQ(findLine(lines, "forged"), block_line) << "the forged object became a line of its own";

  const Json* access = nullptr;
  for (const Json& line : lines)
    if (line.value("logger", "") == "blueprint.access" &&
        line.value("route", "") == "/v1/agents/:agent_id/blueprints/:blueprint_id")
      access = &line;
  ASSERT_NE(access, nullptr) << host.output();
  EXPECT_EQ((*access)["method"], "POST");
  EXPECT_EQ((*access)["status"], 200);
  EXPECT_TRUE((*access)["bytes"].is_number_integer());
  EXPECT_GT((*access)["bytes"].get<long>(), 0);
  EXPECT_TRUE((*access)["duration_us"].is_number_integer());
  EXPECT_EQ((*access)["key"], "ops");
  EXPECT_EQ(host.output().find(host.adminKey()), std::string::npos) << "a key text was logged";

  EXPECT_NE(findLine(lines, "shutting down"), nullptr) << host.output();
  EXPECT_NE(findLine(lines, "stopped", "blueprint.host"), nullptr) << host.output();
}

TEST(JsonLog, TextStaysTheDefaultAndHasNoAccessLog) {
  TestHostOptions options;
  options.agents["logging"] = loggingAgent();
  TestHost host(options);
  ASSERT_TRUE(host.start());
  HttpClient admin(host.port(), host.adminKey());
  SyncRun said = runSync(admin, "logging", "say", {{"text", "one\ntwo"}});
  ASSERT_EQ(said.status, 200);
  ASSERT_EQ(host.stop(), 0);
  const std::string out = host.output();
  EXPECT_NE(out.find("blueprint-host listening on http://"), std::string::npos) << out;
  EXPECT_EQ(out.find("{\"ts\""), std::string::npos) << out;
  EXPECT_EQ(out.find("blueprint.access"), std::string::npos) << out;
  EXPECT_EQ(out.find("route="), std::string::npos) << out;
  // The block's line is one line: its newline is escaped, its run's fields follow.
  EXPECT_NE(out.find("one\\x0atwo job_id=" + said.job_id), std::string::npos) << out;
}

TEST(JsonLog, UnknownFormatIsAConfigurationError) {
  TestHostOptions options;
  options.config = {{"log_format", "xml"}};
  TestHost host(options);
  EXPECT_FALSE(host.start());
  EXPECT_EQ(host.waitExit(std::chrono::seconds(5)), 78);  // EX_CONFIG
  EXPECT_NE(host.output().find("log_format must be \"text\" or \"json\""), std::string::npos)
      << host.output();
}

}  // namespace
}  // namespace blueprint::testing
