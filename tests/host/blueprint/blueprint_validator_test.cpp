// SPDX-License-Identifier: Apache-2.0
// blueprint_validator_test.cpp: deploy-time validation (DESIGN §3) against a real catalogue
// (core_blocks.so + test_blocks.so). Every file in tests/fixtures/blueprints/ is a case:
// `invalid_<defect>.json` holds exactly one defect and says, in its top-level `expect_*` keys,
// where the error must point and what its message must contain; `valid_*.json` must pass and
// compile. Adding a file adds a case.
#include "blueprint/blueprint_validator.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "engine/compiled_blueprint.hpp"
#include "plugins/plugin_manager.hpp"

namespace blueprint::host {
namespace {

namespace fs = std::filesystem;

fs::path fixtureDir() { return fs::path(BLUEPRINT_SOURCE_DIR) / "tests/fixtures/blueprints"; }

/// Every fixture file name, sorted (read once, when the test cases are instantiated).
std::vector<std::string> fixtureFiles() {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(fixtureDir(), ec), end; !ec && it != end; it.increment(ec))
    if (it->path().extension() == ".json") names.push_back(it->path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

bool startsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

/// The catalogue the validator checks against: core_blocks.so and test_blocks.so, loaded by a
/// PluginManager from a temp plugin dir (removed after the suite).
class CatalogHolder {
 public:
  CatalogHolder() {
    std::string pattern = (fs::temp_directory_path() / "bp_validator_test_XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    root_ = pattern;
    fs::create_directories(root_ / "plugins");
    fs::copy_file(fs::path(BLUEPRINT_PLUGIN_DIR) / "core_blocks.so",
                  root_ / "plugins/core_blocks.so");
    fs::copy_file(fs::path(BLUEPRINT_FIXTURE_PLUGIN_DIR) / "test_blocks/test_blocks.so",
                  root_ / "plugins/test_blocks.so");
    PluginManager manager(root_ / "plugins", root_ / "cache");
    ReloadReport report = manager.reload();
    if (!report.rejected.empty()) throw std::runtime_error(report.toJson().dump());
    catalog_ = manager.current();
  }
  ~CatalogHolder() {
    catalog_.reset();  // unloads the libraries and removes their cache copies first
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  const std::shared_ptr<const Catalog>& catalog() const { return catalog_; }

 private:
  fs::path root_;
  std::shared_ptr<const Catalog> catalog_;
};

/// A fixture file: the agent definition with the `expect_*` keys taken out.
struct Fixture {
  Json agent;
  Json expect = Json::object();
};

Fixture readFixture(const std::string& name) {
  std::ifstream in(fixtureDir() / name);
  if (!in) throw std::runtime_error("cannot read fixture " + name);
  Fixture f;
  f.agent = Json::parse(in);
  for (auto it = f.agent.begin(); it != f.agent.end();) {
    if (startsWith(it.key(), "expect_")) {
      f.expect[it.key().substr(7)] = it.value();
      it = f.agent.erase(it);
    } else {
      ++it;
    }
  }
  return f;
}

/// Parse and validate errors together, as a deploy sees them.
std::vector<ValidationIssue> issuesOf(const Json& agent, const Catalog& catalog) {
  try {
    parseAndValidateAgent(agent, "fixture_agent", catalog);
  } catch (const DefinitionError& e) {
    return e.issues();
  }
  return {};
}

class BlueprintValidatorFixtures : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() { holder_ = new CatalogHolder(); }
  static void TearDownTestSuite() {
    delete holder_;
    holder_ = nullptr;
  }
  static const Catalog& catalog() { return *holder_->catalog(); }
  static std::shared_ptr<const Catalog> sharedCatalog() { return holder_->catalog(); }

 private:
  static CatalogHolder* holder_;
};
CatalogHolder* BlueprintValidatorFixtures::holder_ = nullptr;

TEST_P(BlueprintValidatorFixtures, ReportsExactlyTheDefectOfTheFile) {
  const std::string name = GetParam();
  Fixture f = readFixture(name);
  std::vector<ValidationIssue> issues = issuesOf(f.agent, catalog());

  if (startsWith(name, "valid_")) {
    for (const auto& i : issues) ADD_FAILURE() << i.toString();
    EXPECT_NO_THROW(CompiledAgent::compile("fixture_agent", 1, f.agent, sharedCatalog()));
    return;
  }
  ASSERT_TRUE(startsWith(name, "invalid_")) << name << ": name fixtures valid_* or invalid_*";
  for (const char* key : {"error", "blueprint", "block", "field"})
    ASSERT_TRUE(f.expect.contains(key) && f.expect[key].is_string())
        << name << " needs a string \"expect_" << key << "\"";
  ASSERT_EQ(issues.size(), 1u) << name << " must hold exactly one defect; got "
                               << DefinitionError(issues).what();
  const ValidationIssue& issue = issues[0];
  const std::string text = issue.toString();
  EXPECT_NE(text.find(f.expect["error"].get<std::string>()), std::string::npos) << text;
  // The error is located: blueprint, block and field, each named in the message too.
  EXPECT_EQ(issue.blueprint, f.expect["blueprint"].get<std::string>()) << text;
  EXPECT_EQ(issue.block, f.expect["block"].get<std::string>()) << text;
  EXPECT_EQ(issue.field, f.expect["field"].get<std::string>()) << text;
  if (!issue.blueprint.empty()) {
    EXPECT_NE(text.find("blueprint '" + issue.blueprint + "'"), std::string::npos) << text;
  }
  if (!issue.block.empty()) {
    EXPECT_NE(text.find("block '" + issue.block + "'"), std::string::npos) << text;
  }
  if (!issue.field.empty()) {
    EXPECT_NE(text.find("field '" + issue.field + "'"), std::string::npos) << text;
  }
  // Deploy goes through the same validation: compiling refuses the definition.
  EXPECT_THROW(CompiledAgent::compile("fixture_agent", 1, f.agent, sharedCatalog()),
               DefinitionError);
}

INSTANTIATE_TEST_SUITE_P(Files, BlueprintValidatorFixtures, ::testing::ValuesIn(fixtureFiles()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string n = fs::path(info.param).stem().string();
                           for (char& c : n)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

TEST(BlueprintValidator, FixturesCoverEveryDefect) {
  const std::vector<std::string> files = fixtureFiles();
  for (const char* defect :
       {"unknown_type", "dangling_next", "unknown_end_state", "cycle", "missing_required_field",
        "wrong_field_type", "option_not_allowed", "duplicate_block_id", "duplicate_blueprint_id",
        "edge_into_trigger", "two_triggers"}) {
    const std::string file = std::string("invalid_") + defect + ".json";
    EXPECT_NE(std::find(files.begin(), files.end(), file), files.end()) << file << " is missing";
  }
  EXPECT_TRUE(std::any_of(files.begin(), files.end(),
                          [](const std::string& f) { return startsWith(f, "valid_"); }));
}

TEST(BlueprintValidator, ReportsEveryIssueOfAnAgent) {
  CatalogHolder holder;
  const Json agent = Json::parse(R"({"blueprints": [{"id": "main", "blocks": [
      {"id": "trigger", "type": "api_trigger", "next": {"trigger": ["a", "ghost"]}},
      {"id": "a", "type": "return_value"},
      {"id": "b", "type": "acme.nope"}]}]})");
  std::vector<ValidationIssue> issues = validateAgent(parseAgent(agent, "x"), *holder.catalog());
  ASSERT_EQ(issues.size(), 3u) << DefinitionError(issues).what();
  std::string all = DefinitionError(issues).what();
  EXPECT_NE(all.find("block 'trigger': \"next\".trigger points to block 'ghost'"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("block 'a', field 'value': required field is missing"), std::string::npos)
      << all;
  EXPECT_NE(all.find("block 'b': unknown block type 'acme.nope'"), std::string::npos) << all;
}

TEST(BlueprintValidator, AcceptsTemplatesInTypedAndOptionFields) {
  CatalogHolder holder;
  const Json agent = Json::parse(R"({"blueprints": [{"id": "main", "blocks": [
      {"id": "trigger", "type": "api_trigger", "next": {"trigger": ["wait", "save"]}},
      {"id": "wait", "type": "test.sleep", "fields": {"ms": "@{payload.ms}"}},
      {"id": "save", "type": "set_state",
       "fields": {"key": "k", "value": "v", "value_type": "@{payload.kind}"}}]}]})");
  EXPECT_TRUE(validateAgent(parseAgent(agent, "x"), *holder.catalog()).empty());
}

TEST(BlueprintValidator, ChecksTypesAgainstTheCurrentCatalog) {
  // A type known to one catalogue is unknown to an empty one: deploy uses the current catalogue.
  const Json agent = Json::parse(R"({"blueprints": [{"id": "main", "blocks": [
      {"id": "trigger", "type": "api_trigger"}]}]})");
  Catalog empty(1, {}, {});
  std::vector<ValidationIssue> issues = validateAgent(parseAgent(agent, "x"), empty);
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_NE(issues[0].toString().find("unknown block type 'api_trigger'"), std::string::npos);
}

/// An agent of one blueprint: trigger → b1 → … → b<count-1>; `cycle`: the last points to b1.
Json chainAgent(std::size_t count, bool cycle) {
  Json blocks = Json::array();
  blocks.push_back({{"id", "b0"}, {"type", "api_trigger"}, {"next", {{"trigger", "b1"}}}});
  for (std::size_t i = 1; i < count; ++i) {
    Json b = {{"id", "b" + std::to_string(i)},
              {"type", "set_state"},
              {"fields", {{"key", "k"}, {"value", "v"}}}};
    if (i + 1 < count)
      b["next"] = {{"success", "b" + std::to_string(i + 1)}};
    else if (cycle)
      b["next"] = {{"success", "b1"}};
    blocks.push_back(std::move(b));
  }
  return {{"blueprints", {{{"id", "main"}, {"blocks", std::move(blocks)}}}}};
}

TEST(BlueprintValidator, FindsACycleAtTheEndOfAVeryLongChainWithoutRecursing) {
  // Issue 11, M2: the search recursed once per block and a 100,000-block chain overflowed the
  // stack. With the block bound raised, a 300,000-block chain is checked on this thread.
  CatalogHolder holder;
  setMaxBlocksPerBlueprint(400000);
  std::vector<ValidationIssue> issues =
      validateAgent(parseAgent(chainAgent(300000, true), "x"), *holder.catalog());
  setMaxBlocksPerBlueprint(kDefaultMaxBlocksPerBlueprint);
  ASSERT_EQ(issues.size(), 1u) << DefinitionError(issues).what();
  EXPECT_EQ(issues[0].block, "b299999");
  EXPECT_EQ(issues[0].message.rfind("edges form a cycle: b1 -> b2 -> ", 0), 0u)
      << issues[0].message.substr(0, 100);
  EXPECT_EQ(issues[0].message.substr(issues[0].message.size() - 13), "b299999 -> b1");
}

TEST(BlueprintValidator, RefusesMoreBlocksThanTheBound) {
  CatalogHolder holder;
  EXPECT_NO_THROW(parseAndValidateAgent(chainAgent(kDefaultMaxBlocksPerBlueprint, false), "x",
                                        *holder.catalog()));
  try {
    parseAgent(chainAgent(kDefaultMaxBlocksPerBlueprint + 1, false), "x");
    FAIL() << "parsed a blueprint over the block bound";
  } catch (const DefinitionError& e) {
    EXPECT_STREQ(e.what(),
                 "blueprint 'main': has 10001 blocks; at most 10000 are allowed (host setting "
                 "max_blocks_per_blueprint)");
  }
}

TEST(BlueprintValidator, RefusesLoopBranchesThatShareTooManyBlocks) {
  // Issue 11, M3: compiled branch subgraphs are sized to themselves, so many loops whose bodies
  // overlap (each entering one long chain at another block) would be quadratic again.
  CatalogHolder holder;
  Json agent = chainAgent(2000, false);
  Json& blocks = agent["blueprints"][0]["blocks"];
  blocks[0]["next"]["trigger"] = Json::array({"b1"});
  for (int i = 0; i < 1000; ++i) {
    const std::string id = "loop" + std::to_string(i);
    blocks[0]["next"]["trigger"].push_back(id);
    blocks.push_back({{"id", id},
                      {"type", "for_each"},
                      {"fields", {{"items", "[]"}}},
                      {"next", {{"loop", "b" + std::to_string(1 + i)}}}});
  }
  try {
    CompiledAgent::compile("x", 1, agent, holder.catalog());
    FAIL() << "compiled loops that share most of their bodies";
  } catch (const DefinitionError& e) {
    EXPECT_NE(std::string(e.what()).find("its branches (loop bodies) share too many blocks"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace blueprint::host
