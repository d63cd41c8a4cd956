// SPDX-License-Identifier: Apache-2.0
// --print-config and --check-config as functions (app/config_report): the printed configuration
// reads back as a config file, secrets never print, and the check lists every problem at once.
#include "app/config_report.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace blueprint::host {
namespace {

namespace fs = std::filesystem;

class ConfigReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("config-report-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "plugins");
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& text) {
    const fs::path path = dir_ / name;
    std::ofstream(path) << text;
    return path.string();
  }
  /// A config file whose directories exist, plus `extra` keys.
  std::string goodConfig(const nlohmann::json& extra = nlohmann::json::object()) {
    nlohmann::json j = {{"plugins", (dir_ / "plugins").string()},
                        {"data", (dir_ / "data").string()}};
    j.update(extra);
    return write("host.json", j.dump());
  }

  static bool mentions(const std::vector<std::string>& problems, const std::string& text) {
    return std::any_of(problems.begin(), problems.end(),
                       [&](const std::string& p) { return p.find(text) != std::string::npos; });
  }

  fs::path dir_;
};

TEST_F(ConfigReportTest, PrintedConfigurationReadsBackAsAConfigFile) {
  HostConfig config;
  config.applyJson({{"threads", 64}, {"env_allow", {"HOME"}}, {"limits", {{"max_steps", 7}}}},
                   "test");
  const nlohmann::ordered_json printed = printableConfig(config);
  // Every key HostConfig prints for itself is there too.
  const nlohmann::json own_keys = config.toJson();
  for (const auto& [key, value] : own_keys.items()) EXPECT_TRUE(printed.contains(key)) << key;
  for (const char* key : {"probe_plugins", "plugin_debounce_ms", "sync_runs_kept", "env_allow",
                          "block_settings", "listen_backlog", "max_keep_alive_requests"})
    EXPECT_TRUE(printed.contains(key)) << key;
  HostConfig read_back;
  ASSERT_NO_THROW(read_back.applyJson(nlohmann::json::parse(printed.dump()), "printed"));
  EXPECT_EQ(printableConfig(read_back), printed);
  EXPECT_EQ(read_back.threads, 64);
  EXPECT_EQ(read_back.limits.max_steps, 7);
}

TEST_F(ConfigReportTest, StoragePasswordNeverPrints) {
  HostConfig config;
  config.applyFlag("storage", "postgresql://blueprint:s3cret-pw@db.internal:5432/jobs");
  const std::string printed = printableConfig(config).dump();
  EXPECT_EQ(printed.find("s3cret-pw"), std::string::npos) << printed;
  // One redaction for every message and report (storage/storage_url.hpp).
  EXPECT_NE(printed.find("postgresql://blueprint@db.internal:5432/jobs"), std::string::npos)
      << printed;
  config.applyFlag("storage", "postgresql://db/jobs?user=bp&password=hunter2&sslmode=require");
  const std::string query_printed = printableConfig(config).dump();
  EXPECT_EQ(query_printed.find("hunter2"), std::string::npos) << query_printed;
}

TEST_F(ConfigReportTest, BlockSettingsNamedLikeCredentialsAreRedacted) {
  HostConfig config;
  config.applyJson({{"block_settings",
                     {{"http_request", {{"allow_private_networks", true}}},
                      {"acme.crm", {{"api_key", "k-123"}, {"auth", {{"client_secret", "x-9"}}}}}}}},
                   "test");
  const nlohmann::ordered_json printed = printableConfig(config);
  EXPECT_EQ(printed["block_settings"]["http_request"]["allow_private_networks"], true);
  EXPECT_EQ(printed["block_settings"]["acme.crm"]["api_key"], "***");
  EXPECT_EQ(printed["block_settings"]["acme.crm"]["auth"]["client_secret"], "***");
}

TEST_F(ConfigReportTest, GoodConfigurationHasNoProblems) {
  EXPECT_EQ(checkConfig({goodConfig(), {}, {}}), std::vector<std::string>{});
}

TEST_F(ConfigReportTest, ListsEveryProblemAtOnce) {
  const std::string keys = write("keys.json", R"({"keys":[{"name":"ops"}]})");
  const std::string file = goodConfig({{"listn", "127.0.0.1:1"},
                                       {"threads", "many"},
                                       {"agents", (dir_ / "no-agents").string()},
                                       {"api_keys", keys},
                                       {"storage", "mysql://db/x"},
                                       {"listen", "nowhere"}});
  const std::vector<std::string> problems = checkConfig({file, {}, {}});
  EXPECT_TRUE(mentions(problems, "unknown key \"listn\"")) << ::testing::PrintToString(problems);
  EXPECT_TRUE(mentions(problems, "\"threads\" has the wrong type"));
  EXPECT_TRUE(mentions(problems, "agents: directory"));
  EXPECT_TRUE(mentions(problems, "api_keys: "));
  EXPECT_TRUE(mentions(problems, "storage: \"mysql://db/x\""));
  EXPECT_TRUE(mentions(problems, "listen: \"nowhere\" is not HOST:PORT"));
  EXPECT_EQ(problems.size(), 6u) << ::testing::PrintToString(problems);
}

TEST_F(ConfigReportTest, KeysCheckedTogetherWhenOneNeedsAnother) {
  // min_threads 300 alone breaks min_threads <= threads (256); with threads 512 it is fine.
  EXPECT_EQ(checkConfig({goodConfig({{"threads", 512}, {"min_threads", 300}}), {}, {}}),
            std::vector<std::string>{});
  const auto problems = checkConfig({goodConfig({{"min_threads", 300}}), {}, {}});
  EXPECT_TRUE(mentions(problems, "min_threads <= threads")) << ::testing::PrintToString(problems);
}

TEST_F(ConfigReportTest, UnreadableAndMalformedFiles) {
  EXPECT_TRUE(mentions(checkConfig({(dir_ / "missing.json").string(), {}, {}}), "cannot be read"));
  EXPECT_TRUE(mentions(checkConfig({write("bad.json", "{\"listen\":"), {}, {}}), "not valid JSON"));
  EXPECT_TRUE(mentions(checkConfig({write("list.json", "[]"), {}, {}}), "must be a JSON object"));
}

TEST_F(ConfigReportTest, EnvironmentAndFlagsAreCheckedToo) {
  // A data directory below a regular file can never be created.
  const std::string under_a_file = write("plain.txt", "x") + "/data";
  const auto problems = checkConfig({goodConfig(),
                                     {{"BLUEPRINT_THREADS", "lots"}},
                                     {{"watch-plugins", "maybe"}, {"data", under_a_file}}});
  EXPECT_TRUE(mentions(problems, "BLUEPRINT_THREADS: ")) << ::testing::PrintToString(problems);
  EXPECT_TRUE(mentions(problems, "--watch-plugins: "));
  EXPECT_TRUE(mentions(problems, "data: directory \"" + under_a_file + "\" does not exist"));
}

TEST_F(ConfigReportTest, LoadAppliesFileThenEnvironmentThenFlags) {
  const std::string file = goodConfig({{"threads", 10}, {"listen", "127.0.0.1:1"}});
  const HostConfig config =
      loadConfig({file,
                  {{"BLUEPRINT_THREADS", "20"}, {"BLUEPRINT_LISTEN", "127.0.0.1:2"}},
                  {{"listen", "127.0.0.1:3"}}});
  EXPECT_EQ(config.threads, 20);
  EXPECT_EQ(config.listen, "127.0.0.1:3");
}

}  // namespace
}  // namespace blueprint::host
