// SPDX-License-Identifier: Apache-2.0
// Writer Framework import end to end: `blueprint import-wf` and `blueprint run` as a user types
// them (the real CLI binary on the real fixtures in tests/fixtures/writer-framework), and the
// real blueprint-host serving WF apps dropped into its agents directory over HTTP, while a refused
// app is logged with its reason and does not stop the host.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "support/api_helpers.hpp"
#include "support/http_client.hpp"
#include "support/test_host.hpp"

namespace blueprint::testing {
namespace {

namespace fs = std::filesystem;

const fs::path kFixtures = fs::path(BLUEPRINT_WF_FIXTURE_DIR);

/// A temp directory removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "bp_wf_cli_XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string readFile(const fs::path& p) {
  std::ifstream in(p);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

/// Runs the `blueprint` binary with `args` (stdout and stderr captured through files).
CliResult cli(const std::vector<std::string>& args, const TempDir& tmp) {
  std::string command = quote(BLUEPRINT_CLI_BINARY);
  for (const auto& a : args) command += " " + quote(a);
  const fs::path out = tmp.path() / "cli.out", err = tmp.path() / "cli.err";
  command += " >" + quote(out.string()) + " 2>" + quote(err.string()) + " </dev/null";
  const int status = std::system(command.c_str());
  CliResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = readFile(out);
  r.err = readFile(err);
  return r;
}

const std::string kPlugins = BLUEPRINT_PLUGIN_DIR;

/// Copies a fixture app's .wf (or some of its files) to `<dest>/.wf`.
void copyApp(const fs::path& app, const fs::path& dest, const std::vector<std::string>& only = {}) {
  fs::create_directories(dest / ".wf");
  for (const auto& entry : fs::directory_iterator(app / ".wf")) {
    const std::string name = entry.path().filename().string();
    if (!only.empty() && std::find(only.begin(), only.end(), name) == only.end()) continue;
    fs::copy_file(entry.path(), dest / ".wf" / name);
    fs::permissions(dest / ".wf" / name, fs::perms::owner_write, fs::perm_options::add);
  }
}

// ---- the CLI ----

TEST(WfImportCli, ImportsAFixtureAndRunsItsBlueprintsWithBlueprintRun) {
  TempDir tmp;
  const fs::path agent_file = tmp.path() / "e2e.json";
  CliResult imported = cli({"import-wf", (kFixtures / "tests/e2e/presets/blueprints").string(),
                            "-o", agent_file.string(), "--agent-id", "e2e", "--plugins", kPlugins},
                           tmp);
  ASSERT_EQ(imported.exit_code, 0) << imported.err;
  EXPECT_TRUE(imported.out.empty()) << imported.out;
  EXPECT_NE(imported.err.find("wrote agent 'e2e' (3 blueprint(s))"), std::string::npos)
      << imported.err;
  // What changed meaning is said on stderr.
  EXPECT_NE(imported.err.find("note: block 1eq8h6oxgbp8dicc (blueprints_uieventtrigger)"),
            std::string::npos)
      << imported.err;
  const Json agent = Json::parse(readFile(agent_file));
  EXPECT_EQ(agent["id"], "e2e");

  // run_blueprint → repeat_payload("blue"), through the real engine and core_blocks.so.
  CliResult run = cli(
      {"run", agent_file.string(), "--blueprint", "bjhk2qqylt0ijn50", "--plugins", kPlugins}, tmp);
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_NE(run.out.find("data: " + deltaEvent("blue") + "\n\ndata: [DONE]"), std::string::npos)
      << run.out;

  // The UI trigger's default result stands in when no inputs are given.
  CliResult ui =
      cli({"run", agent_file.string(), "--blueprint", "handle_object", "--plugins", kPlugins}, tmp);
  ASSERT_EQ(ui.exit_code, 0) << ui.out << ui.err;
  EXPECT_NE(ui.out.find(deltaEvent(R"({"color":"{}","object":"null"})")), std::string::npos)
      << ui.out;
}

TEST(WfImportCli, PrintsTheAgentToStdoutWithKeysInReadingOrder) {
  TempDir tmp;
  CliResult r = cli({"import-wf", (kFixtures / "tests/e2e/presets/blueprints/.wf").string(),
                     "--plugins", kPlugins},
                    tmp);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const Json agent = Json::parse(r.out);
  EXPECT_EQ(agent["id"], "blueprints");  // the app directory's name
  EXPECT_EQ(agent["blueprints"].size(), 3u);
  EXPECT_LT(r.out.find("\"id\""), r.out.find("\"blueprints\""));
}

TEST(WfImportCli, RefusesTheReviewAppNamingEveryUnsupportedBlock) {
  TempDir tmp;
  CliResult r = cli({"import-wf", (kFixtures / "apps/hello").string(), "--plugins", kPlugins}, tmp);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(r.out.empty()) << r.out;  // nothing half-converted on stdout
  EXPECT_NE(r.err.find("5 block(s) cannot run on this host"), std::string::npos) << r.err;
  for (const char* expected : {"block 45o08yveht7ik3yy (blueprints_writerclassification)",
                               "block dtuo9bh3p7toty0j (blueprints_writercompletion)",
                               "block mrpyadopzfli2h79 (blueprints_writercompletion)",
                               "block ivjmqw1niyhfthdr (blueprints_writercompletion)",
                               "block n4elvd6x9dv5m7gb (blueprints_writercompletion)",
                               "components-blueprints_blueprint-0-t84xyhxau9ej3823.jsonl:3:"})
    EXPECT_NE(r.err.find(expected), std::string::npos) << expected << "\n" << r.err;
}

TEST(WfImportCli, MalformedInputNamesTheFileLineAndProblem) {
  TempDir tmp;
  const fs::path app = tmp.path() / "broken";
  fs::create_directories(app / ".wf");
  std::ofstream(app / ".wf/components-blueprints_blueprint-0-b.jsonl")
      << R"({"id": "b", "type": "blueprints_blueprint", "content": {"key": "k"}, "parentId": "blueprints_root"})"
      << "\n"
      << R"({"id": "t", "type": "blueprints_apitrigger", "parentId": "b", "outs": [{"outId": "trigger", "toNodeId": "gone"}]})"
      << "\n"
      << R"({"id": "r", "type": "blueprints_returnvalue", "parentId": "b", "content": {"value": "x"}, "outs": [{"outId": "done", "toNodeId": "t"}]})"
      << "\n"
      << "{\"id\": \"oops\", \n";
  CliResult r = cli({"import-wf", app.string(), "--plugins", kPlugins}, tmp);
  EXPECT_EQ(r.exit_code, 1);
  const std::string file = (app / ".wf/components-blueprints_blueprint-0-b.jsonl").string();
  for (const std::string& expected :
       {file + ":2: block t (blueprints_apitrigger) out 'trigger' points to 'gone', which is "
               "not a block of blueprint b",
        file + ":3: block r (blueprints_returnvalue) out 'done' is not an end state",
        file + ":4: is not valid JSON"})
    EXPECT_NE(r.err.find(expected), std::string::npos) << expected << "\n" << r.err;

  CliResult missing = cli({"import-wf", (tmp.path() / "nope").string()}, tmp);
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("nope: is not a directory"), std::string::npos) << missing.err;
  CliResult usage = cli({"import-wf"}, tmp);
  EXPECT_EQ(usage.exit_code, 2);
  EXPECT_NE(usage.err.find("import-wf needs one"), std::string::npos) << usage.err;
}

TEST(WfImportCli, AnAgentThatConvertsButDoesNotValidateIsRefusedUnlessAskedNotToCheck) {
  TempDir tmp;
  const fs::path app = tmp.path() / "nourl";
  fs::create_directories(app / ".wf");
  std::ofstream(app / ".wf/components-blueprints_blueprint-0-b.jsonl")
      << R"({"id": "b", "type": "blueprints_blueprint", "content": {"key": "k"}})"
      << "\n"
      << R"({"id": "h", "type": "blueprints_httprequest", "parentId": "b", "content": {"method": "GET"}})"
      << "\n";
  CliResult r = cli({"import-wf", app.string(), "--plugins", kPlugins}, tmp);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("the imported agent does not validate here"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("blueprint 'k', block 'h', field 'url': required field is missing"),
            std::string::npos)
      << r.err;
  CliResult unchecked = cli({"import-wf", app.string(), "--no-validate"}, tmp);
  EXPECT_EQ(unchecked.exit_code, 0) << unchecked.err;
  EXPECT_EQ(Json::parse(unchecked.out)["blueprints"][0]["blocks"][0]["type"], "http_request");
}

// ---- the host's agents directory ----

TEST(WfAgentsDirectory, TheHostServesWfAppsAndLogsTheOnesItRefuses) {
  TestHostOptions options;
  options.agents["plain"] =
      agent("Plain", {blueprint("main", {block("t", "api_trigger", {}, {{"trigger", "r"}}),
                                         block("r", "return_value", {{"value", "plain"}})})});
  TestHost host(options);
  // testapp's runnable blueprint on its own; the e2e presets app; the review app (refused).
  copyApp(kFixtures / "tests/backend/testapp", host.agentsDir() / "testapp2",
          {"components-blueprints_root.jsonl",
           "components-blueprints_blueprint-1-8ffkuce0ermsm9dr.jsonl"});
  copyApp(kFixtures / "tests/e2e/presets/blueprints", host.agentsDir() / "e2e");
  copyApp(kFixtures / "apps/hello", host.agentsDir() / "hello");
  // A WF app written for this host: API trigger → set state → Return Value reading state.
  const fs::path greet = host.agentsDir() / "greeter";
  fs::create_directories(greet / ".wf");
  std::ofstream(greet / ".wf/components-blueprints_blueprint-0-g.jsonl")
      << R"({"id": "g", "type": "blueprints_blueprint", "content": {"key": "greet"}, "parentId": "blueprints_root"})"
      << "\n"
      << R"({"id": "t", "type": "blueprints_apitrigger", "parentId": "g", "content": {"defaultResult": "{\"inputs\": {\"name\": \"World\"}}"}, "outs": [{"outId": "trigger", "toNodeId": "s"}]})"
      << "\n"
      << R"({"id": "s", "type": "blueprints_setstate", "parentId": "g", "content": {"element": "who", "value": "@{result.inputs.name}"}, "outs": [{"outId": "success", "toNodeId": "r"}]})"
      << "\n"
      << R"({"id": "r", "type": "blueprints_returnvalue", "parentId": "g", "content": {"value": "Hello, @{who}!"}})"
      << "\n";
  ASSERT_TRUE(host.start());
  HttpClient invoke(host.port(), host.invokeKey());
  HttpClient admin(host.port(), host.adminKey());

  SyncRun fixture_run = runSync(invoke, "testapp2", "blueprint2");
  ASSERT_EQ(fixture_run.status, 200) << fixture_run.body << host.output();
  EXPECT_EQ(returnedText(fixture_run.events), "987127");

  SyncRun greeting = runSync(invoke, "greeter", "greet", {{"name", "Ada"}});
  ASSERT_EQ(greeting.status, 200) << greeting.body;
  EXPECT_EQ(greeting.events.back(), "[DONE]");
  EXPECT_EQ(returnedText(greeting.events), "Hello, Ada!");

  // The e2e app deployed: its UI-triggered blueprint is API-triggered here.
  HttpResponse e2e = admin.get("/v1/agents/e2e");
  ASSERT_EQ(e2e.status, 200) << e2e.body;
  HttpResponse list = admin.get("/v1/agents");
  ASSERT_EQ(list.status, 200) << list.body;
  bool listed = false;
  const Json agents = list.json()["agents"];
  for (const Json& a : agents)
    if (a["id"] == "e2e")
      for (const Json& b : a["blueprints"]) listed |= b["id"] == "handle_object";
  EXPECT_TRUE(listed) << list.body;

  // The review app is refused with its blocks named; the host serves the rest.
  EXPECT_EQ(admin.get("/v1/agents/hello").status, 404);
  const std::string log = host.output();
  EXPECT_NE(log.find("5 block(s) cannot run on this host"), std::string::npos) << log;
  EXPECT_NE(log.find("45o08yveht7ik3yy (blueprints_writerclassification)"), std::string::npos)
      << log;
  EXPECT_EQ(returnedText(runSync(invoke, "plain", "main").events), "plain");

  // A restart with the same directory keeps the deployed versions (unchanged definitions).
  ASSERT_TRUE(host.restart());
  HttpClient invoke2(host.port(), host.invokeKey());
  EXPECT_EQ(returnedText(runSync(invoke2, "greeter", "greet", {{"name", "Bo"}}).events),
            "Hello, Bo!");
  EXPECT_NE(host.output().find("greeter: version 1 (unchanged)"), std::string::npos)
      << host.output();
}

}  // namespace
}  // namespace blueprint::testing
