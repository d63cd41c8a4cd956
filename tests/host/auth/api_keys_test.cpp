// SPDX-License-Identifier: Apache-2.0
// api_keys_test.cpp: Bearer keys against their stored SHA-256 hashes, scopes, and the per-thread
// memory of the last verified key (it must never accept a key the key set does not hold).
#include "auth/api_keys.hpp"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace blueprint::host
