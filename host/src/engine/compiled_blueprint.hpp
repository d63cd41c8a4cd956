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
/// edges of non-branch end states, with their in-degree inside that part. Everything here is
/// sized to the part, not to the blueprint (issue 11, M3: a blueprint of many loops holds one
/// subgraph per loop branch), and indexed by *local* index: a member's position in `blocks`.
struct Subgraph {
  /// No local index: the block is not a member.
  static constexpr std::uint32_t kNotMember = UINT32_MAX;

  /// One edge between members: the source's `CompiledBlock::next` entry it belongs to, and the
  /// target's local index.
  struct Edge {
    std::uint32_t next_slot;
    std::uint32_t target;
  };

  /// Member blocks as indices into CompiledBlueprint::blocks, ascending.
  std::vector<std::uint32_t> blocks;
  /// Local indices of the entry blocks.
  std::vector<std::uint32_t> entries;
  /// Per member: predecessors inside the subgraph.
  std::vector<std::uint32_t> indegree;
  /// Per member: its edges are edges[edge_begin[i] .. edge_begin[i + 1]).
  std::vector<std::uint32_t> edge_begin;
  std::vector<Edge> edges;

  std::size_t size() const { return blocks.size(); }
  /// The local index of blueprint block `block`, or kNotMember.
  std::uint32_t localOf(std::size_t block) const;
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
  /// Some block's manifest does not declare it instant, so a run may wait (in a deferred call,
  /// on the blocking pool): a sync run's answer then leaves its handler thread (RunService).
  bool may_wait = false;
  /// Reachable from the trigger (what an API run schedules).
  Subgraph api_graph;
  /// Every block (entries: blocks without incoming edges), for runs without a trigger.
  Subgraph whole_graph;
  /// (block, branch end state) → the branch subgraph run_branch schedules.
  std::map<std::pair<std::size_t, std::string>, Subgraph> branch_graphs;

  /// Members of all branch subgraphs together may be at most this many times the blueprint's
  /// blocks: branches that share their blocks (many loops into one long chain) would otherwise
  /// make compiled size quadratic again. Past it, compiling names the blueprint.
  static constexpr std::size_t kMaxBranchMembersPerBlock = 16;
};

/// A deployed agent version compiled against one catalogue. Shared-owned (compile()), so a run's
/// pending block calls can keep it alive past the run (block_abi.h, bp_pending).
class CompiledAgent : public std::enable_shared_from_this<CompiledAgent> {
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
