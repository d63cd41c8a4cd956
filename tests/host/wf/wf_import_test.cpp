// SPDX-License-Identifier: Apache-2.0
// wf_import_test.cpp: Writer Framework blueprints → agent JSON (host/src/wf/wf_import.hpp),
// checked against the real core_blocks.so and http_blocks.so: the mapping table agrees with the
// manifests, every real fixture in tests/fixtures/writer-framework either imports and runs
// through the engine (Return Value asserted) or is refused naming exactly its unsupported blocks,
// and malformed input is refused with the file, line and block named.
#include "wf/wf_import.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "blueprint/blueprint_validator.hpp"
#include "engine/compiled_blueprint.hpp"
#include "engine/runner.hpp"
#include "support/loaded_plugins.hpp"

namespace blueprint::host {
namespace {

namespace fs = std::filesystem;
using wf::importDirectory;
using wf::ImportError;
using wf::importFiles;

const fs::path kFixtures = fs::path(BLUEPRINT_WF_FIXTURE_DIR);

/// core_blocks.so and http_blocks.so, loaded as the host loads plugins.
testing::LoadedPlugins* const kPlugins =
    testing::LoadedPlugins::add({fs::path(BLUEPRINT_PLUGIN_DIR) / "core_blocks.so",
                                 fs::path(BLUEPRINT_PLUGIN_DIR) / "http_blocks.so"});

class NullObserver final : public RunObserver {
 public:
  void onDelta(std::string_view) override {}
};

/// Deploy-validates the imported agent and runs one blueprint of it through the engine.
RunResult runImported(const Json& agent, const std::string& blueprint_id, const Json& payload) {
  parseAndValidateAgent(agent, agent.value("id", "wf"), *kPlugins->catalog());
  auto compiled = CompiledAgent::compile(agent.value("id", "wf"), 1, agent, kPlugins->catalog());
  const CompiledBlueprint* bp = compiled->find(blueprint_id);
  if (bp == nullptr) throw std::runtime_error("no blueprint " + blueprint_id);
  RunOptions options;
  RunControl control;
  NullObserver observer;
  return Runner::run(*compiled, *bp, payload, options, observer, control);
}

/// The (block id, WF type) pairs an ImportError names as unsupported.
std::set<std::pair<std::string, std::string>> refusedBlocks(const ImportError& e) {
  std::set<std::pair<std::string, std::string>> out;
  for (const auto& i : e.unsupported()) out.emplace(i.block, i.wf_type);
  return out;
}

/// One component line.
std::string line(const Json& j) { return j.dump() + "\n"; }

std::string root() { return line({{"id", "blueprints_root"}, {"type", "blueprints_root"}}); }

std::string blueprint(const std::string& id, const std::string& key) {
  Json j = {{"id", id}, {"type", "blueprints_blueprint"}, {"parentId", "blueprints_root"}};
  j["content"] = key.empty() ? Json::object() : Json{{"key", key}};
  return line(j);
}

std::string block(const std::string& id, const std::string& type, const std::string& parent,
                  const Json& content, const std::vector<Json>& outs = {}) {
  Json j = {{"id", id}, {"type", "blueprints_" + type}, {"parentId", parent}, {"content", content}};
  if (!outs.empty()) j["outs"] = Json(outs);
  return line(j);
}

Json out(const std::string& out_id, const std::string& to) {
  return {{"outId", out_id}, {"toNodeId", to}};
}

// ---- the table agrees with the real manifests ----

TEST(WfMappingTable, EveryTypeFieldAndEndStateExistsInTheCatalogue) {
  const Catalog& catalog = *kPlugins->catalog();
  std::set<std::string> wf_types;
  for (const auto& m : wf::typeMappings()) {
    EXPECT_TRUE(wf_types.insert(m.wf_type).second) << m.wf_type << " is mapped twice";
    const BlockType* type = catalog.find(m.type);
    ASSERT_NE(type, nullptr) << m.wf_type << " maps to " << m.type << ", which no plugin has";
    for (const auto& [wf_field, field] : m.fields)
      EXPECT_NE(type->field(field), nullptr) << m.wf_type << "." << wf_field << " → " << field;
    std::set<std::string> mapped_states;
    for (const auto& [wf_out, state] : m.outs) {
      EXPECT_TRUE(type->hasEndState(state)) << m.wf_type << " out " << wf_out << " → " << state;
      mapped_states.insert(state);
    }
    // Every end state of ours is reachable from some WF out (no WF edge could be lost).
    for (const auto& state : type->end_states)
      EXPECT_EQ(mapped_states.count(state), 1u) << m.type << " end state " << state;
  }
}

// ---- templates ----

TEST(WfTemplates, StateNamesGetTheStatePrefixAndEnvironmentNamesStay) {
  const std::vector<std::string> prefixes = {"post"};
  EXPECT_EQ(wf::rewriteTemplates("@{json_e2e}", prefixes), "@{state.json_e2e}");
  EXPECT_EQ(wf::rewriteTemplates("Hi @{user.name}!", prefixes), "Hi @{state.user.name}!");
  EXPECT_EQ(wf::rewriteTemplates("@{result} @{results.a.b} @{payload} @{message}", prefixes),
            "@{result} @{results.a.b} @{payload} @{message}");
  EXPECT_EQ(wf::rewriteTemplates("@{item.x} @{itemId} @{post_item} @{post_itemId}", prefixes),
            "@{item.x} @{itemId} @{post_item} @{post_itemId}");
  EXPECT_EQ(wf::rewriteTemplates("@{other_item}", prefixes), "@{state.other_item}");
  EXPECT_EQ(wf::rewriteTemplates("@{ result.items[0][\"id\"] }", prefixes), "@{result.items.0.id}");
  EXPECT_EQ(wf::rewriteTemplates("@{vault.API_KEY}", prefixes), "@{$API_KEY}");
  EXPECT_EQ(wf::rewriteTemplates("\\@{literal} @{x}", prefixes), "\\@{literal} @{state.x}");
  EXPECT_EQ(wf::rewriteTemplates("no templates, @{ unterminated", prefixes),
            "no templates, @{ unterminated");
  EXPECT_EQ(wf::toId("button@click_1"), "button_click_1");
}

// ---- every real fixture ----

/// What each fixture app does here. A new fixture without an entry fails the test.
struct Expected {
  /// Blocks refused: (block id, WF type). Empty: the app imports.
  std::set<std::pair<std::string, std::string>> refused;
  /// (blueprint id, payload, Return Value) runs.
  std::vector<std::tuple<std::string, Json, Json>> runs;
  std::size_t blueprints = 0;
  /// Other problems the real files have (texts the error must contain).
  std::vector<std::string> also;
};

std::map<std::string, Expected> expectations() {
  const std::set<std::pair<std::string, std::string>> review_app = {
      {"45o08yveht7ik3yy", "blueprints_writerclassification"},
      {"dtuo9bh3p7toty0j", "blueprints_writercompletion"},
      {"mrpyadopzfli2h79", "blueprints_writercompletion"},
      {"ivjmqw1niyhfthdr", "blueprints_writercompletion"},
      {"n4elvd6x9dv5m7gb", "blueprints_writercompletion"}};
  std::map<std::string, Expected> e;
  e["apps/default"] = {review_app, {}, 0, {}};
  e["apps/hello"] = {review_app, {}, 0, {}};
  // testapp's first blueprint also has an edge to a block that is not in the files.
  e["tests/backend/testapp"] = {{{"mw5rz7ay5p8pg2fm", "blueprints_writerclassification"}},
                                {},
                                0,
                                {"block rbh725i69ilo6gsr (blueprints_setstate) out 'success' "
                                 "points to 'f052suq3dgzb5np7', which is not a block of "
                                 "blueprint hywgzgfetx6rpiqz"}};
  e["tests/e2e/presets/blueprints"] = {
      {},
      {{"repeat_payload", Json("blue"), Json("blue")},
       // run_blueprint → repeat_payload with the payload "blue".
       {"bjhk2qqylt0ijn50", Json::object(), Json("blue")},
       // The UI trigger's change event carried the input's text; here it is the payload.
       {"handle_object", Json("blue"), Json{{"color", "blue"}, {"object", "null"}}}},
      3,
      {}};
  // Apps whose .wf holds only the blueprints root: an agent without blueprints.
  for (const char* empty :
       {"tests/backend/testbasicauth", "tests/backend/testmultiapp/app1",
        "tests/backend/testmultiapp/app2", "tests/e2e/presets/2columns", "tests/e2e/presets/2pages",
        "tests/e2e/presets/empty_page", "tests/e2e/presets/jsonviewer",
        "tests/e2e/presets/low_code", "tests/e2e/presets/section", "tests/e2e/presets/state"})
    e[empty] = {{}, {}, 0, {}};
  return e;
}

std::vector<std::string> fixtureApps() {
  std::vector<std::string> apps;
  for (const auto& entry : fs::recursive_directory_iterator(kFixtures))
    if (entry.is_directory() && entry.path().filename() == ".wf")
      apps.push_back(entry.path().parent_path().lexically_relative(kFixtures).string());
  std::sort(apps.begin(), apps.end());
  return apps;
}

TEST(WfFixtures, EveryFixtureAppRunsOrIsRefusedNamingItsUnsupportedBlocks) {
  ASSERT_TRUE(fs::is_directory(kFixtures)) << kFixtures << " is missing (shared/ beside the repo)";
  const auto expected = expectations();
  const auto apps = fixtureApps();
  ASSERT_FALSE(apps.empty());
  for (const std::string& app : apps) {
    SCOPED_TRACE(app);
    auto it = expected.find(app);
    ASSERT_NE(it, expected.end()) << "fixture app " << app << " has no expectation here";
    const Expected& want = it->second;
    if (!want.refused.empty()) {
      try {
        importDirectory(kFixtures / app);
        ADD_FAILURE() << "imported, but it has blocks that cannot run here";
      } catch (const ImportError& e) {
        EXPECT_EQ(refusedBlocks(e), want.refused) << e.what();
        // Nothing else is wrong with these files: only the unsupported blocks (and the known
        // broken edges) are named.
        EXPECT_EQ(e.issues().size(), want.refused.size() + want.also.size()) << e.what();
        for (const auto& text : want.also)
          EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
        for (const auto& [id, type] : want.refused) {
          EXPECT_NE(std::string(e.what()).find(id + " (" + type + ")"), std::string::npos)
              << e.what();
        }
      }
      continue;
    }
    wf::ImportResult r = importDirectory(kFixtures / app);
    EXPECT_EQ(r.agent["blueprints"].size(), want.blueprints) << r.agent.dump(2);
    ASSERT_NO_THROW(parseAndValidateAgent(r.agent, r.agent_id, *kPlugins->catalog()))
        << r.agent.dump(2);
    for (const auto& [bp, payload, value] : want.runs) {
      SCOPED_TRACE(bp);
      RunResult run = runImported(r.agent, bp, payload);
      ASSERT_EQ(run.status, RunResult::Status::Completed) << run.error << run.trace.dump(2);
      ASSERT_TRUE(run.return_value.has_value());
      EXPECT_EQ(*run.return_value, value);
    }
  }
}

TEST(WfFixtures, TheRunnableBlueprintOfTestappRunsOnItsOwn) {
  // testapp is refused as a whole (a classification block in its first blueprint); its second
  // blueprint alone imports and runs: API trigger → Return Value "987127".
  const fs::path wf = kFixtures / "tests/backend/testapp/.wf";
  std::vector<std::pair<std::string, std::string>> files;
  for (const char* name : {"components-blueprints_root.jsonl",
                           "components-blueprints_blueprint-1-8ffkuce0ermsm9dr.jsonl"}) {
    std::ifstream in(wf / name);
    files.emplace_back(name, std::string(std::istreambuf_iterator<char>(in), {}));
  }
  wf::ImportResult r = importFiles(files, "testapp");
  const Json& bp = r.agent["blueprints"][0];
  EXPECT_EQ(bp["id"], "blueprint2");
  // Mapped as written: type names, the trigger's edge.
  Json trigger, ret;
  for (const Json& b : bp["blocks"]) (b["type"] == "api_trigger" ? trigger : ret) = b;
  EXPECT_EQ(trigger["id"], "lsoe57jb2dfbnj76");
  EXPECT_EQ(trigger["next"], Json({{"trigger", "6ymlyaewhil88bck"}}));
  EXPECT_EQ(ret["type"], "return_value");
  EXPECT_EQ(ret["fields"], Json({{"value", "987127"}}));
  RunResult run = runImported(r.agent, "blueprint2", {{"inputs", Json::object()}});
  ASSERT_EQ(run.status, RunResult::Status::Completed) << run.error;
  EXPECT_EQ(*run.return_value, Json("987127"));
}

TEST(WfFixtures, TheReviewAppIsMappedBlockByBlockBeforeBeingRefused) {
  // Everything but the Writer blocks would map: the error lists all five and nothing else, and
  // the key "button@click_1" (not an id here) does not add a problem of its own.
  try {
    importDirectory(kFixtures / "apps/default");
    FAIL() << "imported";
  } catch (const ImportError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("5 block(s) cannot run on this host"), std::string::npos) << what;
    EXPECT_NE(what.find("components-blueprints_blueprint-0-t84xyhxau9ej3823.jsonl:3"),
              std::string::npos)
        << what;  // file and line of the classification block
    EXPECT_NE(what.find("Writer's cloud"), std::string::npos) << what;
  }
}

// ---- field, edge and type mapping on a synthetic app ----

TEST(WfMapping, FieldsEdgesAndTypesComeThroughAndRun) {
  const std::string files =
      root() + blueprint("bp1", "main") +
      block("t", "apitrigger", "bp1", {{"alias", "Start"}, {"defaultResult", "{\"inputs\":{}}"}},
            {out("trigger", "save")}) +
      block("save", "setstate", "bp1",
            {{"element", "names"}, {"value", "@{result.inputs.names}"}, {"valueType", "JSON"}},
            {out("success", "loop"), out("error", "fail")}) +
      block("loop", "foreach", "bp1", {{"items", "@{names}"}, {"prefix", "n"}},
            {out("loop", "add"), out("success", "check")}) +
      block("add", "addtostatelist", "bp1", {{"element", "seen"}, {"value", "hi @{n_item}"}}) +
      block("check", "ifelse", "bp1",
            {{"code",
              "# the number of names\nset_outcome(\"hi Ada\" in state[\"seen\"] and not "
              "result[0] == 1)\n"}},
            {out("true", "log"), out("false", "fail")}) +
      block("log", "logmessage", "bp1", {{"type", "info"}, {"message", "seen @{seen}"}},
            {out("success", "ret")}) +
      block("ret", "returnvalue", "bp1", {{"value", "@{seen}"}}) +
      block("fail", "returnvalue", "bp1", {{"value", "failed: @{message}"}});
  wf::ImportResult r = importFiles({{"components-blueprints_x.jsonl", files}}, "synthetic");
  ASSERT_EQ(r.agent["blueprints"].size(), 1u);
  std::map<std::string, Json> blocks;
  for (const Json& b : r.agent["blueprints"][0]["blocks"]) blocks[b["id"]] = b;
  EXPECT_EQ(blocks["t"]["name"], "Start");
  EXPECT_EQ(blocks["t"]["fields"], Json({{"default_result", "{\"inputs\":{}}"}}));
  EXPECT_EQ(blocks["save"]["fields"],
            Json({{"key", "names"}, {"value", "@{result.inputs.names}"}, {"value_type", "json"}}));
  EXPECT_EQ(blocks["save"]["next"], Json({{"success", "loop"}, {"error", "fail"}}));
  EXPECT_EQ(blocks["loop"]["type"], "for_each");
  EXPECT_EQ(blocks["loop"]["fields"], Json({{"items", "@{state.names}"}, {"prefix", "n"}}));
  EXPECT_EQ(blocks["add"]["fields"], Json({{"key", "seen"}, {"value", "hi @{n_item}"}}));
  EXPECT_EQ(blocks["check"]["type"], "if_else");
  EXPECT_EQ(blocks["check"]["fields"]["condition"],
            "\"hi Ada\" in state.seen and not result.0 == 1");
  EXPECT_EQ(blocks["log"]["fields"], Json({{"level", "info"}, {"message", "seen @{state.seen}"}}));

  RunResult run =
      runImported(r.agent, "main", {{"inputs", {{"names", Json::array({"Ada", "Grace"})}}}});
  ASSERT_EQ(run.status, RunResult::Status::Completed) << run.error << run.trace.dump(2);
  EXPECT_EQ(*run.return_value, Json::array({"hi Ada", "hi Grace"}));
}

TEST(WfMapping, HttpRequestRunBlueprintAndUiTrigger) {
  const std::string files =
      root() + blueprint("bpA", "fetch data") +
      block("ui", "uieventtrigger", "bpA",
            {{"refComponentId", "abc"}, {"refEventType", "wf-click"}, {"defaultResult", "x"}},
            {out("trigger", "req")}) +
      block("req", "httprequest", "bpA",
            {{"method", "POST"},
             {"url", "https://example.invalid/@{vault.TOKEN}"},
             {"headers", "{\"A\": \"@{context.event}\"}"},
             {"body", ""}},
            {out("success", "sub"), out("responseError", "sub"), out("connectionError", "sub")}) +
      block("sub", "runblueprint", "bpA", {{"blueprintKey", "fetch data"}});
  wf::ImportResult r = importFiles({{"f.jsonl", files}}, "app");
  const Json& bp = r.agent["blueprints"][0];
  EXPECT_EQ(bp["id"], "fetch_data");
  EXPECT_EQ(bp["name"], "fetch data");
  std::map<std::string, Json> blocks;
  for (const Json& b : bp["blocks"]) blocks[b["id"]] = b;
  EXPECT_EQ(blocks["ui"]["type"], "api_trigger");
  EXPECT_EQ(blocks["ui"]["fields"], Json({{"default_result", "x"}}));
  EXPECT_EQ(blocks["req"]["fields"], Json({{"method", "POST"},
                                           {"url", "https://example.invalid/@{$TOKEN}"},
                                           {"headers", "{\"A\": \"@{context.event}\"}"}}));
  EXPECT_EQ(blocks["req"]["next"],
            Json({{"success", "sub"}, {"response_error", "sub"}, {"connection_error", "sub"}}));
  EXPECT_EQ(blocks["sub"]["fields"], Json({{"blueprint_id", "fetch_data"}, {"payload", "{}"}}));
  // What changed meaning is said: the UI trigger, the secret, the UI context, the key.
  std::string notes;
  for (const auto& n : r.notes) notes += n + "\n";
  EXPECT_NE(notes.find("imported as an API trigger"), std::string::npos) << notes;
  EXPECT_NE(notes.find("environment variable TOKEN"), std::string::npos) << notes;
  EXPECT_NE(notes.find("reads 'context'"), std::string::npos) << notes;
  EXPECT_NE(notes.find("blueprint key 'fetch data' is blueprint id 'fetch_data'"),
            std::string::npos)
      << notes;
  // Deploy validation: a cycle through run_blueprint is not a graph cycle; the agent is valid.
  EXPECT_NO_THROW(parseAndValidateAgent(r.agent, "app", *kPlugins->catalog()));
}

// ---- refusals ----

TEST(WfRefusals, AllUnsupportedBlocksAreNamedInOneError) {
  const std::string files =
      root() + blueprint("b", "k") +
      block("trig", "apitrigger", "b", Json::object(), {out("trigger", "py")}) +
      block("py", "code", "b", {{"code", "print(1)"}}, {out("success", "llm")}) +
      block("llm", "writercompletion", "b", {{"prompt", "hi"}}, {out("success", "cond")}) +
      block("cond", "ifelse", "b", {{"code", "import random\nset_outcome(random.random() > 0.5)"}},
            {out("true", "page")}) +
      block("page", "changepage", "b", {{"pageKey", "p"}}) +
      block("cron", "crontrigger", "b", Json::object()) +
      block("what", "somethingnew", "b", Json::object()) +
      block("old", "foreach", "b", {{"workflowKey", "w"}, {"items", "[]"}}) +
      block("ok", "setstate", "b", {{"element", "x"}});
  try {
    importFiles({{"components-blueprints_b.jsonl", files}}, "a");
    FAIL() << "imported";
  } catch (const ImportError& e) {
    const std::set<std::pair<std::string, std::string>> want = {
        {"py", "blueprints_code"},          {"llm", "blueprints_writercompletion"},
        {"cond", "blueprints_ifelse"},      {"page", "blueprints_changepage"},
        {"cron", "blueprints_crontrigger"}, {"what", "blueprints_somethingnew"},
        {"old", "blueprints_foreach"}};
    EXPECT_EQ(refusedBlocks(e), want) << e.what();
    EXPECT_EQ(e.issues().size(), want.size()) << e.what();
    const std::string what = e.what();
    EXPECT_NE(what.find("7 block(s) cannot run on this host"), std::string::npos) << what;
    EXPECT_NE(what.find("Python"), std::string::npos) << what;
    EXPECT_NE(what.find("not one `set_outcome(<expression>)` call"), std::string::npos) << what;
  }
}

TEST(WfRefusals, IfElseCodeThatIsNotOneComparisonIsRefused) {
  for (const char* code :
       {"x = 1\nset_outcome(x)", "set_outcome(len(result) > 1)", "set_outcome(result + 1 > 2)",
        "set_outcome(result[key])", "set_outcome(secret == 1)", "set_outcome()", "print('x')"}) {
    SCOPED_TRACE(code);
    const std::string files =
        root() + blueprint("b", "k") + block("c", "ifelse", "b", {{"code", code}});
    try {
      importFiles({{"f.jsonl", files}}, "a");
      ADD_FAILURE() << "translated";
    } catch (const ImportError& e) {
      EXPECT_EQ(refusedBlocks(e),
                (std::set<std::pair<std::string, std::string>>{{"c", "blueprints_ifelse"}}))
          << e.what();
    }
  }
}

// ---- malformed input ----

TEST(WfMalformed, BadLinesBrokenEdgesAndUnknownOutsAreAllReportedWithFileAndLine) {
  const std::string files =
      root() + blueprint("b", "k") + "{not json\n" + "[1, 2]\n" +
      line({{"type", "blueprints_setstate"}}) +
      block("s", "setstate", "b", {{"element", "x"}}, {out("success", "nowhere")}) +
      block("t", "returnvalue", "b", {{"value", "1"}}, {out("finished", "s")}) +
      block("u", "setstate", "elsewhere", {{"element", "x"}}) +
      block("v", "setstate", "b", {{"element", "x"}, {"colour", "red"}}) +
      block("w", "runblueprint", "b", {{"blueprintKey", "missing_key"}}) +
      block("s", "setstate", "b", {{"element", "y"}});
  try {
    importFiles({{"components-blueprints_b.jsonl", files}}, "a");
    FAIL() << "imported";
  } catch (const ImportError& e) {
    EXPECT_TRUE(e.unsupported().empty()) << e.what();
    const std::string what = e.what();
    for (const char* expected :
         {"components-blueprints_b.jsonl:3: is not valid JSON",
          "components-blueprints_b.jsonl:4: is not a JSON object",
          "components-blueprints_b.jsonl:5: has no \"id\" string",
          ":6: block s (blueprints_setstate) out 'success' points to 'nowhere', which is not "
          "a block of blueprint b",
          ":7: block t (blueprints_returnvalue) out 'finished' is not an end state of "
          "blueprints_returnvalue (its outs: success, error)",
          ":8: block u (blueprints_setstate) its parentId 'elsewhere' is not a blueprint",
          ":9: block v (blueprints_setstate) field 'colour' has no counterpart in set_state",
          ":10: block w (blueprints_runblueprint) runs the blueprint with key 'missing_key', "
          "which is not a blueprint of this app",
          ":11: block s (blueprints_setstate) its id is also the id of the component at "
          "components-blueprints_b.jsonl:6"}) {
      EXPECT_NE(what.find(expected), std::string::npos) << "missing: " << expected << "\n" << what;
    }
    EXPECT_EQ(e.issues().size(), 9u) << what;
  }
}

// Issue 11, L8: a component nested 200,000 levels deep crashed the import (and the host's
// start-up, which imports WF apps in its agents directory) with SIGSEGV in the first copy of it.
TEST(WfMalformed, AComponentNestedPastTheJsonDepthLimitIsAnIssueNamingItsLine) {
  std::string deep =
      "{\"id\":\"s\",\"type\":\"blueprints_setstate\",\"parentId\":\"b\",\"content\":";
  for (int i = 0; i < 200000; ++i) deep += "[";
  for (int i = 0; i < 200000; ++i) deep += "]";
  deep += "}\n";
  const std::string files = root() + blueprint("b", "k") + deep;
  try {
    importFiles({{"components-blueprints_deep.jsonl", files}}, "a");
    FAIL() << "imported";
  } catch (const ImportError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("components-blueprints_deep.jsonl:3: is not usable JSON: it nests objects "
                        "and lists deeper than the limit of 128 levels"),
              std::string::npos)
        << what.substr(0, 2000);
  }
}

TEST(WfMalformed, ABlueprintKeyThatIsNotAStringIsAnIssueNamingTheComponent) {
  const std::string files = root() +
                            line({{"id", "b"},
                                  {"type", "blueprints_blueprint"},
                                  {"parentId", "blueprints_root"},
                                  {"content", {{"key", 17}}}}) +
                            block("r", "returnvalue", "b", {{"value", "1"}});
  try {
    importFiles({{"f.jsonl", files}}, "a");
    FAIL() << "imported";
  } catch (const ImportError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("f.jsonl:2: block b (blueprints_blueprint) its \"content.key\" must be a "
                        "string (the blueprint's name), got number"),
              std::string::npos)
        << what;
    EXPECT_EQ(what.find("type_error"), std::string::npos) << what;
  }
}

TEST(WfMalformed, ADirectoryWithoutComponentFilesIsRefused) {
  std::string pattern = (fs::temp_directory_path() / "bp_wf_empty_XXXXXX").string();
  ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
  const fs::path dir = pattern;
  fs::create_directories(dir / ".wf");
  try {
    importDirectory(dir);
    ADD_FAILURE() << "imported";
  } catch (const ImportError& e) {
    EXPECT_NE(std::string(e.what()).find("holds no Writer Framework component files"),
              std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(wf::isWfDirectory(dir));
  EXPECT_THROW(importDirectory(dir / "missing"), ImportError);
  std::error_code ec;
  fs::remove_all(dir, ec);
}

TEST(WfMalformed, TwoTriggersInOneBlueprintAreRefused) {
  const std::string files = root() + blueprint("b", "k") +
                            block("t1", "apitrigger", "b", Json::object()) +
                            block("t2", "uieventtrigger", "b", Json::object());
  try {
    importFiles({{"f.jsonl", files}}, "a");
    FAIL() << "imported";
  } catch (const ImportError& e) {
    EXPECT_NE(std::string(e.what()).find("has 2 triggers (t1, t2)"), std::string::npos) << e.what();
  }
}

TEST(WfImport, UiComponentsAreLeftOutAndTheAgentIdComesFromTheDirectory) {
  std::string pattern = (fs::temp_directory_path() / "bp_wf_ui_XXXXXX").string();
  ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
  const fs::path dir = fs::path(pattern) / "My App";
  fs::create_directories(dir / ".wf");
  std::ofstream(dir / ".wf/components-root.jsonl")
      << line({{"id", "root"}, {"type", "root"}, {"content", {{"appName", "x"}}}});
  std::ofstream(dir / ".wf/components-page-0-abc.jsonl")
      << line({{"id", "abc"}, {"type", "page"}, {"parentId", "root"}})
      << line({{"id", "btn"}, {"type", "button"}, {"parentId", "abc"}});
  std::ofstream(dir / ".wf/components-blueprints_root.jsonl") << root();
  std::ofstream(dir / ".wf/components-blueprints_blueprint-0-q.jsonl")
      << blueprint("q", "") + block("r", "returnvalue", "q", {{"value", "ok"}});
  EXPECT_TRUE(wf::isWfDirectory(dir));
  EXPECT_TRUE(wf::isWfDirectory(dir / ".wf"));
  wf::ImportResult r = importDirectory(dir);
  EXPECT_EQ(r.agent_id, "My_App");
  EXPECT_EQ(r.agent["blueprints"].size(), 1u);
  EXPECT_EQ(r.agent["blueprints"][0]["id"], "q");
  EXPECT_EQ(importDirectory(dir / ".wf").agent_id, "My_App");
  EXPECT_EQ(importDirectory(dir, {"chosen"}).agent["id"], "chosen");
  bool noted = false;
  for (const auto& n : r.notes) noted |= n.find("left out 3 UI component(s)") != std::string::npos;
  EXPECT_TRUE(noted);
  RunResult run = runImported(r.agent, "q", Json::object());
  ASSERT_EQ(run.status, RunResult::Status::Completed) << run.error;
  EXPECT_EQ(*run.return_value, Json("ok"));
  std::error_code ec;
  fs::remove_all(pattern, ec);
}

}  // namespace
}  // namespace blueprint::host
