// SPDX-License-Identifier: Apache-2.0
// compiled_blueprint.hpp: a deployed agent version prepared for running, against one catalogue
// generation: block types resolved and pinned, templates compiled, block instances created, the
// subgraphs the scheduler walks precomputed. Built once per deploy (and per catalogue change),
// shared read-only by every run.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "blueprint/blueprint.hpp"
#include "blueprint/template.hpp"
#include "plugins/catalog.hpp"

namespace blueprint::host {

/// A field ready to render.
struct CompiledField {
  std::string name;
  const FieldSpec* spec = nullptr;
  bool templated = true;
  Json literal;              ///< the value as written, for fields that are not templated
  Template text;             ///< Text-mode template
  Template json;             ///< Json-mode template (only for JSON-typed fields)
  bool json_always = false;  ///< field type `json`
  int json_when_index = -1;  ///< index into fields of the field that switches to JSON mode
};

/// The part of a blueprint one scheduling pass walks: blocks reachable from its entries through
/// edges of non-branch end states, with their in-degree inside that part.
struct Subgraph {
  std::vector<std::size_t> entries;
  std::vector<char> member;
  std::vector<std::uint32_t> indegree;
};

/// One block of a compiled blueprint.
struct CompiledBlock {
  std::string id;
  std::shared_ptr<const BlockType> type;
  void* instance = nullptr;
  std::vector<CompiledField> fields;
  /// end state → target block indices (all end states, branch ones included).
  std::vector<std::pair<std::string, std::vector<std::size_t>>> next;

  /// Targets of `state`, or nullptr when no edge leaves that end state.
  const std::vector<std::size_t>* targets(const std::string& state) const;
};

/// A blueprint ready to run.
class CompiledBlueprint {
 public:
  CompiledBlueprint() = default;
  ~CompiledBlueprint();
  CompiledBlueprint(const CompiledBlueprint&) = delete;
  CompiledBlueprint& operator=(const CompiledBlueprint&) = delete;

  std::string id;
  std::string name;
  std::vector<CompiledBlock> blocks;
  std::map<std::string, std::size_t> index;
  /// The trigger block, if the blueprint can be started by API (-1 = none).
  long trigger = -1;
  /// Reachable from the trigger (what an API run schedules).
  Subgraph api_graph;
  /// Every block (entries: blocks without incoming edges), for runs without a trigger.
  Subgraph whole_graph;
  /// (block, branch end state) → the branch subgraph run_branch schedules.
  std::map<std::pair<std::size_t, std::string>, Subgraph> branch_graphs;
};

/// A deployed agent version compiled against one catalogue.
class CompiledAgent {
 public:
  /// Compiles `definition`; throws DefinitionError (validation, or a block's create() refusing).
  static std::shared_ptr<const CompiledAgent> compile(const std::string& agent_id,
                                                      std::int64_t version, const Json& definition,
                                                      std::shared_ptr<const Catalog> catalog);

  const CompiledBlueprint* find(const std::string& blueprint_id) const;

  std::string agent_id;
  std::int64_t version = 0;
  std::string name;
  Json definition;
  std::shared_ptr<const Catalog> catalog;
  std::map<std::string, std::unique_ptr<CompiledBlueprint>> blueprints;
};

}  // namespace blueprint::host
