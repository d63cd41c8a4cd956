// SPDX-License-Identifier: Apache-2.0
// kv_storage_test.cpp: the `kv_storage` block (DESIGN §8). Through the real engine and
// core_blocks.so on a real SQLite file: `success` for get, set and delete, entries namespaced
// per agent and kept across runs, `error` for a bad action, an empty key or a host without a
// store. Then through the real blueprint-host over HTTP: an entry outlives a host restart on the
// same data directory.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "block_harness.hpp"
#include "storage/storage.hpp"
#include "support/api_helpers.hpp"
#include "support/test_host.hpp"

namespace blueprint::host::block_tests {
namespace {

namespace fs = std::filesystem;

/// trigger → kv(action, key, value from the inputs) → reply({"result": @{result}}), with kv's
/// `error` routed to on_error.
const Json kKvBlocks = Json::parse(R"([
  {"id": "trigger", "type": "api_trigger", "next": {"trigger": "kv"}},
  {"id": "kv", "type": "kv_storage",
   "fields": {"action": "@{result.inputs.action}", "key": "@{result.inputs.key}",
              "value": "@{result.inputs.value}"},
   "next": {"success": "reply", "error": "on_error"}},
  {"id": "reply", "type": "return_value", "fields": {"value": {"result": "@{result}"}}},
  {"id": "on_error", "type": "return_value", "fields": {"value": {"error": "@{message}"}}}])");

/// A fresh SQLite database in a temp directory, removed afterwards.
class KvStorage : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "bp_kv_storage_test_XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    storage_ = openStorage("sqlite:" + (dir_ / "host.db").string());
  }
  void TearDown() override {
    storage_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  /// One run of kKvBlocks as agent `agent_id`; the Return Value.
  Json kv(const Json& in, const std::string& agent_id = "notes") {
    BlockRun run;
    run.storage = storage_.get();
    run.agent_id = agent_id;
    RunResult r = run.run(kKvBlocks, inputs(in));
    if (r.status != RunResult::Status::Completed || !r.return_value)
      return {{"run failed", describe(r)}};
    return *r.return_value;
  }

  fs::path dir_;
  std::unique_ptr<Storage> storage_;
};

TEST_F(KvStorage, SetsGetsAndDeletesAcrossRuns) {
  const Json value = Json::parse(R"({"list":[1,"two"],"empty":""})");
  EXPECT_EQ(kv({{"action", "set"}, {"key", "k"}, {"value", value}}), (Json{{"result", value}}));
  EXPECT_EQ(kv({{"action", "get"}, {"key", "k"}}), (Json{{"result", value}}));
  EXPECT_EQ(kv({{"action", "set"}, {"key", "k"}, {"value", "replaced"}}),
            (Json{{"result", "replaced"}}));
  EXPECT_EQ(kv({{"action", "get"}, {"key", "k"}}), (Json{{"result", "replaced"}}));
  EXPECT_EQ(kv({{"action", "delete"}, {"key", "k"}}), (Json{{"result", true}}));
  EXPECT_EQ(kv({{"action", "get"}, {"key", "k"}}), (Json{{"result", nullptr}}));
  EXPECT_EQ(kv({{"action", "delete"}, {"key", "k"}}), (Json{{"result", false}}));
}

TEST_F(KvStorage, EntriesAreNamespacedPerAgent) {
  kv({{"action", "set"}, {"key", "shared"}, {"value", "mine"}}, "alpha");
  EXPECT_EQ(kv({{"action", "get"}, {"key", "shared"}}, "beta"), (Json{{"result", nullptr}}));
  EXPECT_EQ(kv({{"action", "delete"}, {"key", "shared"}}, "beta"), (Json{{"result", false}}));
  EXPECT_EQ(kv({{"action", "get"}, {"key", "shared"}}, "alpha"), (Json{{"result", "mine"}}));
}

TEST_F(KvStorage, ABadActionOrAnEmptyKeyTakesTheErrorEndState) {
  EXPECT_EQ(kv({{"action", "frobnicate"}, {"key", "k"}}),
            Json::parse(R"({"error":"action 'frobnicate' is not get, set or delete"})"));
  EXPECT_EQ(kv({{"key", "k"}}),
            Json::parse(R"({"error":"action is null, not get, set or delete"})"));
  EXPECT_EQ(kv({{"action", "get"}, {"key", ""}}), Json::parse(R"({"error":"key is empty"})"));
  EXPECT_EQ(kv({{"action", "set"}}), Json::parse(R"({"error":"key is empty"})"));
}

TEST(KvStorageWithoutAStore, TakesTheErrorEndState) {
  BlockRun run;  // no storage
  RunResult r = run.run(kKvBlocks, inputs({{"action", "set"}, {"key", "k"}, {"value", 1}}));
  ASSERT_EQ(r.status, RunResult::Status::Completed) << describe(r);
  EXPECT_EQ(r.return_value, Json::parse(R"({"error":"this host runs without a key-value store"})"));
}

// ---- through the real host over HTTP, across a restart ----

TEST(KvStorageOverHttp, AnEntryOutlivesAHostRestart) {
  namespace bt = blueprint::testing;
  bt::TestHostOptions options;
  options.agents["notes"] = {{"name", "notes"},
                             {"blueprints", Json::array({{{"id", "kv"}, {"blocks", kKvBlocks}}})}};
  options.agents["other"] = options.agents["notes"];
  bt::TestHost host(options);
  ASSERT_TRUE(host.start());
  bt::HttpClient client(host.port(), host.invokeKey());

  bt::SyncRun set = bt::runSync(client, "notes", "kv",
                                {{"action", "set"}, {"key", "greeting"}, {"value", {{"hi", 1}}}});
  ASSERT_EQ(set.status, 200) << set.body;
  EXPECT_EQ(bt::returnedText(set.events), R"({"result":{"hi":1}})");

  ASSERT_TRUE(host.restart());
  client = bt::HttpClient(host.port(), host.invokeKey());

  bt::SyncRun get = bt::runSync(client, "notes", "kv", {{"action", "get"}, {"key", "greeting"}});
  ASSERT_EQ(get.status, 200) << get.body;
  EXPECT_EQ(bt::returnedText(get.events), R"({"result":{"hi":1}})");
  // Another agent does not see it.
  bt::SyncRun other = bt::runSync(client, "other", "kv", {{"action", "get"}, {"key", "greeting"}});
  EXPECT_EQ(bt::returnedText(other.events), R"({"result":null})");

  bt::SyncRun del = bt::runSync(client, "notes", "kv", {{"action", "delete"}, {"key", "greeting"}});
  EXPECT_EQ(bt::returnedText(del.events), R"({"result":true})");
  ASSERT_TRUE(host.restart());
  client = bt::HttpClient(host.port(), host.invokeKey());
  get = bt::runSync(client, "notes", "kv", {{"action", "get"}, {"key", "greeting"}});
  EXPECT_EQ(bt::returnedText(get.events), R"({"result":null})");
}

}  // namespace
}  // namespace blueprint::host::block_tests
