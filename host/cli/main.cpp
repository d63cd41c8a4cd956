// SPDX-License-Identifier: Apache-2.0
// blueprint: the command-line tool (DESIGN §7). Runs blueprints locally through the same engine
// and plugins as the host, validates agent files, lists the block catalogue, hashes API keys.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "auth/api_keys.hpp"
#include "blocks_markdown.hpp"
#include "blueprint/blueprint_validator.hpp"
#include "engine/compiled_blueprint.hpp"
#include "engine/runner.hpp"
#include "runs/run_events.hpp"
#include "new_block.hpp"
#include "plugins/plugin_loader.hpp"
#include "plugins/plugin_manager.hpp"
#include "wf/wf_import.hpp"

namespace fs = std::filesystem;
using blueprint::host::Json;

namespace {

/// One `blueprint` command: its synopsis and what it does, for `blueprint --help` and
/// `blueprint <command> --help`.
struct CommandHelp {
  const char* name;
  const char* synopsis;
  const char* summary;
  const char* details;  ///< options and notes, shown by `<command> --help` only
};

const CommandHelp kCommands[] = {
    {"run",
     "run <agent-or-blueprint.json> [--blueprint ID] [--inputs JSON] [--plugins DIR] [--trace]\n"
     "      [--storage URL] [--timeout-ms N]",
     "run a blueprint locally (no server) and print its SSE events",
     "  --blueprint ID     the blueprint to run when the file has several\n"
     "  --inputs JSON      the request's inputs object, e.g. '{\"name\":\"Ada\"}'\n"
     "  --plugins DIR      plugin directory (default: BLUEPRINT_PLUGINS, then the installed one)\n"
     "  --trace            print the run trace (JSON) to stderr\n"
     "  --storage URL      kv_storage database (default memory:, lost on exit)\n"
     "  --timeout-ms N     the run's wall-clock limit\n"
     "Exits 0 when the run completed, 1 when it failed.\n"},
    {"validate", "validate <agent.json>... [--plugins DIR]",
     "check agent files against the block catalogue",
     "  --plugins DIR      plugin directory whose block types the files may use\n"
     "Prints one line per problem (or \"ok\") per file; exits 1 if any file has a problem.\n"},
    {"blocks", "blocks [--plugins DIR] [--markdown]", "list the block types of a plugin directory",
     "  --plugins DIR      plugin directory (default: BLUEPRINT_PLUGINS, then the installed one)\n"
     "  --markdown         the catalogue as docs/blocks.md is written, instead of JSON\n"},
    {"import-wf", "import-wf <dir> [-o agent.json] [--agent-id ID] [--plugins DIR] [--no-validate]",
     "convert a Writer Framework app's blueprints (<dir>/.wf) into agent JSON",
     "  -o, --output FILE  write the agent there instead of stdout\n"
     "  --agent-id ID      the agent's id (default: from the app)\n"
     "  --plugins DIR      plugin directory the result is validated against\n"
     "  --no-validate      skip that validation\n"},
    {"new-block", "new-block <name> [--type VENDOR.TYPE] [--dir DIR]",
     "scaffold an out-of-tree block project that builds against the installed SDK",
     "  <name>             the plugin's name, a C identifier (e.g. acme_text)\n"
     "  --type VENDOR.TYPE its one block type (default <name>.reverse)\n"
     "  --dir DIR          where to write the project (default ./<name>; must be empty)\n"
     "The project builds <name>.so with blueprint_add_block(), tests it with ctest, and packages\n"
     "it as a .deb for /usr/lib/blueprint/plugins with blueprint_package_block() (cpack -G "
     "DEB).\n"},
    {"probe", "probe <plugin.so>",
     "load one plugin file as the host would and report its block types",
     "Exits 1 with the loader's reason when the host would refuse the file.\n"},
    {"hash-key", "hash-key <key>", "print the SHA-256 hex of an API key, for the API keys file",
     "The keys file: {\"keys\":[{\"name\":\"ops\",\"sha256\":\"<this>\",\"scopes\":[\"admin\","
     "\"invoke\"]}]}\n"},
};

std::string usage() {
  std::string text =
      "usage: blueprint <command> [options]   (blueprint <command> --help)\n\ncommands:\n";
  for (const CommandHelp& c : kCommands)
    text += std::string("  ") + c.synopsis + "\n        " + c.summary + "\n";
  return text;
}

const CommandHelp* findCommand(const std::string& name) {
  for (const CommandHelp& c : kCommands)
    if (name == c.name) return &c;
  return nullptr;
}

void printCommandHelp(const CommandHelp& c) {
  std::cout << "usage: blueprint " << c.synopsis << "\n\n" << c.summary << "\n\n" << c.details;
}

int usageError(const std::string& message) {
  std::cerr << "blueprint: " << message << "\n\n" << usage();
  return 2;
}

struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> options;
  std::map<std::string, bool> switches;
};

Args parseArgs(int argc, char** argv, const std::vector<std::string>& with_value,
               const std::vector<std::string>& switches) {
  Args a;
  for (int i = 2; i < argc; ++i) {
    std::string s = argv[i];
    if (s.rfind("--", 0) == 0) {
      std::string name = s.substr(2), value;
      auto eq = name.find('=');
      if (eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
      }
      if (std::find(switches.begin(), switches.end(), name) != switches.end()) {
        a.switches[name] = true;
      } else if (std::find(with_value.begin(), with_value.end(), name) != with_value.end()) {
        if (eq == std::string::npos) {
          if (i + 1 >= argc) throw std::runtime_error("--" + name + " needs a value");
          value = argv[++i];
        }
        a.options[name] = value;
      } else {
        throw std::runtime_error("unknown option --" + name);
      }
    } else {
      a.positional.push_back(s);
    }
  }
  return a;
}

/// --plugins, else BLUEPRINT_PLUGINS, else the build tree's or the install prefix's plugins.
fs::path pluginDir(const Args& a) {
  if (a.options.count("plugins")) return a.options.at("plugins");
  if (const char* env = std::getenv("BLUEPRINT_PLUGINS")) return env;
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  for (const fs::path& candidate : {exe.parent_path().parent_path() / "plugins",
                                    exe.parent_path().parent_path() / "lib/blueprint/plugins"})
    if (fs::is_directory(candidate, ec)) return candidate;
  return "plugins";
}

/// A plugin manager with a private cache in a temp dir, removed on exit.
struct LocalPlugins {
  fs::path cache;
  std::unique_ptr<blueprint::host::PluginManager> manager;
  explicit LocalPlugins(const fs::path& dir) {
    cache = fs::temp_directory_path() / ("blueprint-cli-" + std::to_string(::getpid()));
    manager = std::make_unique<blueprint::host::PluginManager>(dir, cache);
    auto report = manager->reload();
    for (const auto& r : report.rejected) std::cerr << "blueprint: plugin rejected: " << r << "\n";
  }
  ~LocalPlugins() {
    manager.reset();
    std::error_code ec;
    fs::remove_all(cache, ec);
  }
};

Json readJsonFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot read the file");
  Json j = Json::parse(in, nullptr, false);
  if (j.is_discarded()) throw std::runtime_error(path + ": not valid JSON");
  return j;
}

/// Accepts an agent file or a single blueprint; returns an agent definition.
Json asAgent(const Json& j) {
  if (j.is_object() && j.contains("blocks") && !j.contains("blueprints"))
    return {{"name", j.value("name", j.value("id", "local"))}, {"blueprints", Json::array({j})}};
  return j;
}

class PrintObserver final : public blueprint::host::RunObserver {
 public:
  void onDelta(std::string_view text) override { print(blueprint::host::run_events::delta(text)); }
  static void print(const std::string& event) {
    std::cout << "data: " << event << "\n\n" << std::flush;
  }
};

int cmdRun(int argc, char** argv) {
  Args a =
      parseArgs(argc, argv, {"blueprint", "inputs", "plugins", "timeout-ms", "storage"}, {"trace"});
  if (a.positional.size() != 1) return usageError("run needs one agent or blueprint file");
  Json def = asAgent(readJsonFile(a.positional[0]));
  LocalPlugins plugins(pluginDir(a));
  auto agent = blueprint::host::CompiledAgent::compile(fs::path(a.positional[0]).stem().string(), 0,
                                                       def, plugins.manager->current());
  std::string blueprint_id = a.options.count("blueprint") ? a.options["blueprint"] : "";
  if (blueprint_id.empty()) {
    if (agent->blueprints.size() != 1)
      return usageError("the file has several blueprints; choose one with --blueprint ID");
    blueprint_id = agent->blueprints.begin()->first;
  }
  const blueprint::host::CompiledBlueprint* bp = agent->find(blueprint_id);
  if (bp == nullptr)
    throw std::runtime_error("no blueprint '" + blueprint_id + "' in " + a.positional[0]);
  Json payload = Json::object();
  if (a.options.count("inputs")) {
    Json inputs = Json::parse(a.options["inputs"], nullptr, false);
    if (inputs.is_discarded() || !inputs.is_object())
      throw std::runtime_error("--inputs must be a JSON object, e.g. '{\"name\":\"Ada\"}'");
    payload = {{"inputs", inputs}};
  }
  blueprint::host::RunOptions options;
  // kv_storage entries live for this one run unless --storage names a database.
  std::unique_ptr<blueprint::host::Storage> storage =
      blueprint::host::openStorage(a.options.count("storage") ? a.options["storage"] : "memory:");
  options.storage = storage.get();
  if (a.options.count("timeout-ms"))
    options.limits.timeout_ms = std::stoll(a.options["timeout-ms"]);
  blueprint::host::RunControl control;
  PrintObserver observer;
  namespace ev = blueprint::host::run_events;
  PrintObserver::print(ev::inProgress());
  PrintObserver::print(ev::executing(bp->id));
  blueprint::host::RunResult r =
      blueprint::host::Runner::run(*agent, *bp, payload, options, observer, control);
  std::vector<std::string> closing;
  ev::appendClosing(r, closing);
  for (const auto& e : closing) PrintObserver::print(e);
  if (a.switches.count("trace")) std::cerr << r.trace.dump(2) << "\n";
  return r.status == blueprint::host::RunResult::Status::Completed ? 0 : 1;
}

int cmdValidate(int argc, char** argv) {
  Args a = parseArgs(argc, argv, {"plugins"}, {});
  if (a.positional.empty()) return usageError("validate needs at least one agent file");
  LocalPlugins plugins(pluginDir(a));
  int bad = 0;
  for (const auto& file : a.positional) {
    try {
      Json def = asAgent(readJsonFile(file));
      blueprint::host::parseAndValidateAgent(def, fs::path(file).stem().string(),
                                             *plugins.manager->current());
      std::cout << file << ": ok\n";
    } catch (const blueprint::host::DefinitionError& e) {
      ++bad;
      for (const auto& issue : e.issues()) std::cout << file << ": " << issue.toString() << "\n";
    } catch (const std::exception& e) {
      ++bad;
      std::cout << file << ": " << e.what() << "\n";
    }
  }
  return bad == 0 ? 0 : 1;
}

int cmdBlocks(int argc, char** argv) {
  Args a = parseArgs(argc, argv, {"plugins"}, {"markdown"});
  LocalPlugins plugins(pluginDir(a));
  auto catalog = plugins.manager->current();
  if (!a.switches.count("markdown")) {
    std::cout << catalog->toJson()["blocks"].dump(2) << "\n";
    return 0;
  }
  blueprint::cli::writeBlocksMarkdown(*catalog, std::cout);
  return 0;
}

int cmdNewBlock(int argc, char** argv) {
  Args a = parseArgs(argc, argv, {"type", "dir"}, {});
  if (a.positional.size() != 1)
    return usageError("new-block needs one plugin name, e.g. acme_text");
  const std::string name = a.positional[0];
  const std::string type = a.options.count("type") ? a.options["type"] : name + ".reverse";
  const fs::path dir = a.options.count("dir") ? fs::path(a.options["dir"]) : fs::path(name);
  blueprint::cli::scaffoldBlockProject(name, type, dir);
  std::cout << "created " << dir.string() << "/ with block type " << type << "\n\n"
            << "  cmake -S " << dir.string() << " -B " << dir.string()
            << "/build -DCMAKE_PREFIX_PATH=<Blueprint SDK prefix>\n"
            << "  cmake --build " << dir.string() << "/build && ctest --test-dir " << dir.string()
            << "/build\n"
            << "  cd " << dir.string()
            << "/build && cpack -G DEB   # a .deb for /usr/lib/blueprint/plugins\n";
  return 0;
}

/// `j` with the keys in `first` first (in that order), then the rest: agent files read top-down.
nlohmann::ordered_json ordered(const Json& j, const std::vector<std::string>& first) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (const auto& k : first)
    if (j.contains(k)) out[k] = j[k];
  for (const auto& [k, v] : j.items())
    if (!out.contains(k)) out[k] = v;
  return out;
}

nlohmann::ordered_json orderedAgent(const Json& agent) {
  nlohmann::ordered_json out = ordered(agent, {"id", "name"});
  out["blueprints"] = nlohmann::ordered_json::array();
  for (const Json& bp : agent["blueprints"]) {
    nlohmann::ordered_json b = ordered(bp, {"id", "name"});
    b["blocks"] = nlohmann::ordered_json::array();
    for (const Json& block : bp["blocks"])
      b["blocks"].push_back(ordered(block, {"id", "type", "name", "fields", "next"}));
    out["blueprints"].push_back(std::move(b));
  }
  return out;
}

/// Writer Framework blueprints → agent JSON; checked against the catalogue unless --no-validate.
int cmdImportWf(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  for (auto& s : args)
    if (s == "-o") s = "--output";
  std::vector<char*> argp;
  for (auto& s : args) argp.push_back(s.data());
  Args a = parseArgs(static_cast<int>(argp.size()), argp.data(), {"output", "agent-id", "plugins"},
                     {"no-validate"});
  if (a.positional.size() != 1)
    return usageError("import-wf needs one Writer Framework app directory (the one with .wf/)");
  const std::string dir = a.positional[0];
  blueprint::wf::ImportOptions options;
  if (a.options.count("agent-id")) {
    options.agent_id = a.options["agent-id"];
    if (blueprint::wf::toId(options.agent_id) != options.agent_id)
      return usageError("--agent-id must be 1-128 characters of letters, digits, _ . -");
  }
  blueprint::wf::ImportResult result = blueprint::wf::importDirectory(dir, options);
  for (const auto& note : result.notes) std::cerr << "blueprint: note: " << note << "\n";
  if (!a.switches.count("no-validate")) {
    LocalPlugins plugins(pluginDir(a));
    try {
      blueprint::host::parseAndValidateAgent(result.agent, result.agent_id,
                                             *plugins.manager->current());
    } catch (const blueprint::host::DefinitionError& e) {
      std::cerr << "blueprint: " << dir << ": the imported agent does not validate here:\n";
      for (const auto& issue : e.issues()) std::cerr << "  " << issue.toString() << "\n";
      return 1;
    }
  }
  const std::string text = orderedAgent(result.agent).dump(2) + "\n";
  if (!a.options.count("output")) {
    std::cout << text;
    return 0;
  }
  const std::string out = a.options["output"];
  std::ofstream f(out, std::ios::binary | std::ios::trunc);
  if (!(f << text) || !f.flush()) throw std::runtime_error(out + ": cannot write the file");
  std::cerr << "blueprint: wrote agent '" << result.agent_id << "' ("
            << result.agent["blueprints"].size() << " blueprint(s)) to " << out << "\n";
  return 0;
}

/// Loads one plugin file the way the host does, in this process (the host's --probe-plugins
/// runs this in a child so a crashing static initialiser cannot take it down).
int cmdProbe(int argc, char** argv) {
  if (argc != 3) return usageError("probe needs exactly one plugin file");
  const fs::path cache =
      fs::temp_directory_path() / ("blueprint-probe-" + std::to_string(::getpid()));
  std::string error;
  {
    blueprint::host::PluginLoader loader(cache);
    blueprint::host::PluginLoadResult result = loader.load(argv[2], 1);
    error = result.error;
    if (result.ok()) {
      std::cout << result.plugin->id() << " " << result.plugin->version() << ":";
      for (const auto& t : result.types) std::cout << " " << t->type;
      std::cout << "\n";
    }
  }  // unloaded here, before the cache dir goes
  std::error_code ec;
  fs::remove_all(cache, ec);
  if (!error.empty()) {
    std::cerr << error << "\n";
    return 1;
  }
  return 0;
}

int cmdHashKey(int argc, char** argv) {
  if (argc != 3) return usageError("hash-key needs exactly one key");
  std::cout << blueprint::host::ApiKeys::sha256Hex(argv[2]) << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usageError("no command given");
  const std::string cmd = argv[1];
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    const CommandHelp* topic = argc >= 3 ? findCommand(argv[2]) : nullptr;
    if (topic != nullptr)
      printCommandHelp(*topic);
    else
      std::cout << usage();
    return 0;
  }
  // `--help` anywhere after a command asks for that command's help, never runs it.
  if (const CommandHelp* command = findCommand(cmd); command != nullptr) {
    for (int i = 2; i < argc; ++i) {
      if (std::string(argv[i]) == "--help" || std::string(argv[i]) == "-h") {
        printCommandHelp(*command);
        return 0;
      }
    }
  }
  try {
    if (cmd == "run") return cmdRun(argc, argv);
    if (cmd == "validate") return cmdValidate(argc, argv);
    if (cmd == "blocks") return cmdBlocks(argc, argv);
    if (cmd == "hash-key") return cmdHashKey(argc, argv);
    if (cmd == "new-block") return cmdNewBlock(argc, argv);
    if (cmd == "import-wf") return cmdImportWf(argc, argv);
    if (cmd == "probe") return cmdProbe(argc, argv);
    return usageError("unknown command '" + cmd + "'");
  } catch (const blueprint::host::DefinitionError& e) {
    std::cerr << "blueprint: invalid definition:\n";
    for (const auto& issue : e.issues()) std::cerr << "  " << issue.toString() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "blueprint: " << e.what() << "\n";
    return 1;
  }
}
