// SPDX-License-Identifier: Apache-2.0
// wf_import.hpp: Writer Framework blueprints → agent JSON (DESIGN §3 "Writer Framework
// compatibility", docs/decisions/005-writer-framework-import.md).
//
// A Writer Framework app keeps its blueprints in `<app>/.wf/components-blueprints_*.jsonl`, one
// component per line: a `blueprints_root`, one `blueprints_blueprint` per blueprint (its
// `content.key` names it), and the blocks (`type: "blueprints_<name>"`, `content` = fields,
// `outs: [{toNodeId, outId}]` = edges) whose `parentId` is their blueprint. importDirectory()
// reads every `components-*.jsonl` there, ignores the UI components (pages, sections, text, …),
// maps each block through typeMappings() and returns an agent definition that the validator,
// the engine and `blueprint run` take as they are.
//
// Blocks this host cannot run (Writer cloud/LLM blocks, Python code, UI actions, anything not in
// the table) are never dropped: the import fails with one ImportError listing every one of them by
// file, block id and type, together with every malformed line and broken edge found.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace blueprint::wf {

using Json = nlohmann::json;

/// One WF block type that has a counterpart here.
struct TypeMapping {
  std::string wf_type;  ///< "blueprints_setstate"
  std::string type;     ///< "set_state"
  /// WF content key → our field name (content keys not listed are refused, except `alias`).
  std::vector<std::pair<std::string, std::string>> fields;
  /// WF out id → our end state.
  std::vector<std::pair<std::string, std::string>> outs;
};

/// The mapping table (DESIGN §8 types). Tests check every entry against the real catalogue.
const std::vector<TypeMapping>& typeMappings();

/// One problem found while importing.
struct ImportIssue {
  std::string file;          ///< the .jsonl file (or the directory), as given
  long line = 0;             ///< 1-based line in `file`, 0 when not about one line
  std::string block;         ///< WF component id, when about one component
  std::string wf_type;       ///< its WF type, when known
  std::string message;       ///< what is wrong
  bool unsupported = false;  ///< a block this host cannot run (as opposed to malformed input)

  /// "file:line: block 'id' (type): message"
  std::string toString() const;
};

/// Thrown when a directory cannot be imported; what() lists every issue, unsupported blocks first.
class ImportError : public std::runtime_error {
 public:
  ImportError(const std::string& source, std::vector<ImportIssue> issues);
  const std::vector<ImportIssue>& issues() const { return issues_; }
  /// Only the unsupported blocks.
  std::vector<ImportIssue> unsupported() const;

 private:
  std::vector<ImportIssue> issues_;
};

struct ImportOptions {
  /// The agent's id; empty: the app directory's name made into a valid id.
  std::string agent_id;
};

struct ImportResult {
  std::string agent_id;
  /// `{"id", "name", "blueprints": […]}`, ready for PUT /v1/agents/{id} or the agents directory.
  Json agent;
  /// Things carried over with a change of meaning the user should know about (a UI trigger made
  /// an API trigger, UI bindings left out, a secret read from the environment, …).
  std::vector<std::string> notes;
};

/// The directory holding the component files: `<dir>/.wf` when it exists, else `dir` itself.
std::filesystem::path componentsDirectory(const std::filesystem::path& dir);

/// True when `dir` (or `dir/.wf`) holds at least one `components-*.jsonl` file.
bool isWfDirectory(const std::filesystem::path& dir);

/// Imports the app in `dir` (the app directory or its `.wf`). Throws ImportError.
ImportResult importDirectory(const std::filesystem::path& dir, const ImportOptions& options = {});

/// Imports already-read files: (file name, text) pairs, in order. Throws ImportError.
ImportResult importFiles(const std::vector<std::pair<std::string, std::string>>& files,
                         const std::string& agent_id);

/// Makes `text` a valid id (1-128 of [A-Za-z0-9_.-]): other characters become `_`.
std::string toId(const std::string& text);

/// Rewrites the `@{…}` templates of a WF field value for this host: a path whose first segment
/// is not an execution-environment name (result, results, payload, message, item, itemId,
/// context, session, `<prefix>_item`, `<prefix>_itemId`) reads state, so `@{x.y}` becomes
/// `@{state.x.y}`; `@{vault.NAME}` becomes `@{$NAME}`; `a[0]` / `a["k"]` become `a.0` / `a.k`.
/// `prefixes` are the for-each prefixes in use. Escaped `\@{` is left alone.
std::string rewriteTemplates(const std::string& text, const std::vector<std::string>& prefixes);

}  // namespace blueprint::wf
