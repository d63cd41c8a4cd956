// SPDX-License-Identifier: Apache-2.0
// api_keys_test.cpp: Bearer keys against their stored SHA-256 hashes, scopes, and the per-thread
// memory of the last verified key (it must never accept a key the key set does not hold); agent
// allow-lists and unique key names (issue 11, Tenancy); the generated key file's mode.
#include "auth/api_keys.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

namespace blueprint::host {
namespace {

namespace fs = std::filesystem;

class ApiKeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("bp_api_keys_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  /// A keys file holding `keys` as (name, plain key, scopes JSON).
  ApiKeys write(const std::string& file,
                std::initializer_list<std::tuple<std::string, std::string, std::string>> keys) {
    std::string text = R"({"keys":[)";
    bool first = true;
    for (const auto& [name, key, scopes] : keys) {
      if (!first) text += ",";
      first = false;
      text += R"({"name":")" + name + R"(","sha256":")" + ApiKeys::sha256Hex(key) +
              R"(","scopes":)" + scopes + "}";
    }
    text += "]}";
    std::ofstream(dir_ / file) << text;
    return ApiKeys::fromFile(dir_ / file);
  }

  fs::path dir_;
};

TEST_F(ApiKeysTest, AcceptsItsKeysWithTheirScopesAndNothingElse) {
  ApiKeys keys = write("keys.json", {{"ops", "bp_admin_key_1", R"(["admin","invoke"])"},
                                     {"app", "bp_invoke_key_2", R"(["invoke"])"}});
  auto ops = keys.authenticate("Bearer bp_admin_key_1");
  ASSERT_TRUE(ops);
  EXPECT_EQ(ops->name, "ops");
  EXPECT_TRUE(ops->admin);
  EXPECT_TRUE(ops->invoke);
  auto app = keys.authenticate("Bearer  bp_invoke_key_2 ");
  ASSERT_TRUE(app);
  EXPECT_EQ(app->name, "app");
  EXPECT_FALSE(app->admin);
  for (const char* bad : {"", "Bearer ", "Bearer", "Basic bp_admin_key_1", "bp_admin_key_1",
                          "Bearer bp_admin_key_2", "Bearer bp_admin_key_1x"})
    EXPECT_FALSE(keys.authenticate(bad)) << bad;
}

TEST_F(ApiKeysTest, TheRememberedKeyNeverLetsAnotherOneIn) {
  ApiKeys keys = write("keys.json", {{"app", "bp_right_key_0", R"(["invoke"])"}});
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(keys.authenticate("Bearer bp_right_key_0"));
    // Same length, one character off, right after a success on this thread.
    EXPECT_FALSE(keys.authenticate("Bearer bp_right_key_1"));
    EXPECT_FALSE(keys.authenticate("Bearer cp_right_key_0"));
    EXPECT_FALSE(keys.authenticate("Bearer bp_right_key_"));
  }
}

TEST_F(ApiKeysTest, AKeyVerifiedAgainstOneKeySetIsNotAcceptedByAnother) {
  ApiKeys first = write("first.json", {{"old", "bp_shared_thread_key", R"(["admin"])"}});
  ApiKeys second = write("second.json", {{"new", "bp_other_key", R"(["invoke"])"}});
  ASSERT_TRUE(first.authenticate("Bearer bp_shared_thread_key"));
  EXPECT_FALSE(second.authenticate("Bearer bp_shared_thread_key"));
  ASSERT_TRUE(second.authenticate("Bearer bp_other_key"));
  auto again = first.authenticate("Bearer bp_shared_thread_key");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->name, "old");
}

TEST_F(ApiKeysTest, EveryThreadVerifiesForItself) {
  ApiKeys keys =
      write("keys.json", {{"a", "bp_key_a", R"(["invoke"])"}, {"b", "bp_key_b", R"(["admin"])"}});
  std::string seen_a, seen_b;
  bool wrong_refused = false;
  std::thread ta([&] {
    for (int i = 0; i < 100; ++i) seen_a = keys.authenticate("Bearer bp_key_a")->name;
    wrong_refused = !keys.authenticate("Bearer bp_key_c");
  });
  std::thread tb([&] {
    for (int i = 0; i < 100; ++i) seen_b = keys.authenticate("Bearer bp_key_b")->name;
  });
  ta.join();
  tb.join();
  EXPECT_EQ(seen_a, "a");
  EXPECT_EQ(seen_b, "b");
  EXPECT_TRUE(wrong_refused);
}

/// The error fromFile gives for a keys file with this text, or "" when it loads.
std::string loadError(const fs::path& file, const std::string& text) {
  std::ofstream(file) << text;
  try {
    ApiKeys::fromFile(file);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

TEST(AgentAllowList, MatchesExactIdsAndPrefixes) {
  const AgentAllowList list = AgentAllowList::parse({"billing", "support-*", "a.b"});
  for (const char* allowed : {"billing", "support-", "support-eu", "support-eu.2", "a.b"})
    EXPECT_TRUE(list.allows(allowed)) << allowed;
  for (const char* refused :
       {"", "billing2", "billin", "Billing", "support", "supporteu", "xsupport-eu", "a.bc", "a"})
    EXPECT_FALSE(list.allows(refused)) << refused;
  EXPECT_TRUE(AgentAllowList::parse({"*"}).allows("anything"));
  EXPECT_FALSE(AgentAllowList::parse({}).allows("anything"));
}

TEST(AgentAllowList, RefusesMalformedPatternsNamingThem) {
  for (const std::string& bad : std::vector<std::string>{
           "", "*a", "sup*port", "support-**", "..", ".", "a..b", "-x", "x/y", "x y", "s*-*",
           "a..*", std::string(129, 'a'), std::string(128, 'a') + "*"}) {
    try {
      AgentAllowList::parse({"ok", bad});
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("'" + bad + "'"), std::string::npos) << e.what();
    }
  }
}

TEST_F(ApiKeysTest, AKeyCarriesItsAgentListAndAKeyWithoutOneSeesEveryAgent) {
  const std::string text = R"({"keys":[
    {"name":"billing","sha256":")" +
                           ApiKeys::sha256Hex("bp_billing") +
                           R"(","scopes":["invoke"],"agents":["billing","support-*"]},
    {"name":"all","sha256":")" +
                           ApiKeys::sha256Hex("bp_all") + R"(","scopes":["invoke"]}]})";
  std::ofstream(dir_ / "keys.json") << text;
  ApiKeys keys = ApiKeys::fromFile(dir_ / "keys.json");
  for (int round = 0; round < 2; ++round) {  // the second round answers from the thread's memory
    auto billing = keys.authenticate("Bearer bp_billing");
    ASSERT_TRUE(billing);
    EXPECT_TRUE(billing->mayUseAgent("billing"));
    EXPECT_TRUE(billing->mayUseAgent("support-eu"));
    EXPECT_FALSE(billing->mayUseAgent("hr"));
    auto all = keys.authenticate("Bearer bp_all");
    ASSERT_TRUE(all);
    EXPECT_TRUE(all->mayUseAgent("hr"));
  }
}

TEST(Principal, AnAdminSeesEveryJobOfItsAgentsAndAnyOtherKeyOnlyItsOwn) {
  Principal client{"client", false, true, nullptr};
  EXPECT_TRUE(client.mayAccessJob("billing", "client"));
  EXPECT_FALSE(client.mayAccessJob("billing", "other"));
  EXPECT_FALSE(client.mayAccessJob("billing", ""));
  Principal ops{"ops", true, true, nullptr};
  EXPECT_TRUE(ops.mayAccessJob("billing", "other"));
  Principal limited_ops{"ops", true, true,
                        std::make_shared<const AgentAllowList>(AgentAllowList::parse({"billing"}))};
  EXPECT_TRUE(limited_ops.mayAccessJob("billing", "other"));
  EXPECT_FALSE(limited_ops.mayAccessJob("hr", "ops"));
}

TEST_F(ApiKeysTest, RefusesAMalformedAgentListNamingTheKey) {
  const std::string hash = ApiKeys::sha256Hex("bp_x");
  for (const auto& [agents, expected] : std::vector<std::pair<std::string, std::string>>{
           {R"(["sup*port"])", "'sup*port'"},
           {R"(["..", "ok"])", "'..'"},
           {R"("billing")", "must be a list"},
           {R"([1])", "must be a list"},
       }) {
    const std::string error =
        loadError(dir_ / "keys.json", R"({"keys":[{"name":"tenant-a","sha256":")" + hash +
                                          R"(","scopes":["invoke"],"agents":)" + agents + "}]}");
    EXPECT_NE(error.find("key 'tenant-a'"), std::string::npos) << agents << ": " << error;
    EXPECT_NE(error.find(expected), std::string::npos) << agents << ": " << error;
  }
}

TEST_F(ApiKeysTest, RefusesTwoKeysWithOneName) {
  // Jobs belong to a key by its name: two keys sharing one would share their jobs.
  const std::string error = loadError(
      dir_ / "keys.json", R"({"keys":[{"name":"app","sha256":")" + ApiKeys::sha256Hex("bp_1") +
                              R"(","scopes":["invoke"]},{"name":"app","sha256":")" +
                              ApiKeys::sha256Hex("bp_2") + R"(","scopes":["invoke"]}]})");
  EXPECT_NE(error.find("two keys are named 'app'"), std::string::npos) << error;
  const std::string unnamed =
      loadError(dir_ / "keys.json", R"({"keys":[{"sha256":")" + ApiKeys::sha256Hex("bp_1") +
                                        R"(","scopes":["invoke"]},{"sha256":")" +
                                        ApiKeys::sha256Hex("bp_2") + R"(","scopes":["invoke"]}]})");
  EXPECT_NE(unnamed.find("two keys are named 'key'"), std::string::npos) << unnamed;
  const std::string not_text =
      loadError(dir_ / "keys.json", R"({"keys":[{"name":7,"sha256":")" +
                                        ApiKeys::sha256Hex("bp_1") + R"(","scopes":["invoke"]}]})");
  EXPECT_NE(not_text.find("\"name\" must be a non-empty string"), std::string::npos) << not_text;
}

TEST_F(ApiKeysTest, TheGeneratedKeyFileIsTheOwnersAloneWhateverTheUmask) {
  const mode_t saved = ::umask(022);
  std::string created;
  ApiKeys keys = ApiKeys::fromDataDir(dir_ / "data", created);
  ::umask(saved);
  ASSERT_FALSE(created.empty());
  EXPECT_TRUE(keys.authenticate("Bearer " + created));
  struct stat st {};
  ASSERT_EQ(::stat((dir_ / "data" / "api-keys.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600U);
}

}  // namespace
}  // namespace blueprint::host
