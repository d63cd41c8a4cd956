// SPDX-License-Identifier: Apache-2.0
#include "engine/compiled_blueprint.hpp"

#include <algorithm>
#include <blueprint/field_defaults.hpp>

#include "blueprint/blueprint_validator.hpp"
#include "engine/field_conversion.hpp"

namespace blueprint::host {

const std::vector<std::size_t>* CompiledBlock::targets(const std::string& state) const {
  for (const auto& [s, t] : next)
    if (s == state) return &t;
  return nullptr;
}

std::uint32_t Subgraph::localOf(std::size_t block) const {
  auto it = std::lower_bound(blocks.begin(), blocks.end(), block);
  return it != blocks.end() && *it == block ? static_cast<std::uint32_t>(it - blocks.begin())
                                            : kNotMember;
}

CompiledBlueprint::~CompiledBlueprint() {
  // Instances die before the types (and so the libraries) they came from.
  for (auto& b : blocks)
    if (b.instance != nullptr && b.type->vtable->destroy != nullptr)
      b.type->vtable->destroy(b.instance);
}

namespace {

/// Constant templates read nothing; rendering them needs no run.
class NoEnvironment final : public TemplateEnv {
 public:
  Json lookup(const Path&) const override { return nullptr; }
};

/// Marks reused by every subgraph of one blueprint, so building one costs its own size only.
struct SubgraphScratch {
  explicit SubgraphScratch(std::size_t blocks) : stamp(blocks, 0), local(blocks, 0) {}
  std::vector<std::uint32_t> stamp;  ///< == current: a member of the subgraph being built
  std::vector<std::uint32_t> local;  ///< its local index (valid where stamped)
  std::uint32_t current = 0;
};

Subgraph buildSubgraph(const CompiledBlueprint& bp, const std::vector<std::size_t>& entries,
                       SubgraphScratch& scratch) {
  const std::uint32_t mark = ++scratch.current;
  std::vector<std::uint32_t> members;
  std::vector<std::uint32_t> entry_blocks;
  for (std::size_t e : entries)
    if (scratch.stamp[e] != mark) {
      scratch.stamp[e] = mark;
      members.push_back(static_cast<std::uint32_t>(e));
      entry_blocks.push_back(static_cast<std::uint32_t>(e));
    }
  // Breadth-first over non-branch edges; `members` doubles as the queue.
  for (std::size_t head = 0; head < members.size(); ++head) {
    const CompiledBlock& b = bp.blocks[members[head]];
    for (const auto& [state, targets] : b.next) {
      if (b.type->isBranchState(state)) continue;
      for (std::size_t t : targets)
        if (scratch.stamp[t] != mark) {
          scratch.stamp[t] = mark;
          members.push_back(static_cast<std::uint32_t>(t));
        }
    }
  }
  Subgraph g;
  std::sort(members.begin(), members.end());
  g.blocks = std::move(members);
  for (std::uint32_t i = 0; i < g.blocks.size(); ++i) scratch.local[g.blocks[i]] = i;
  for (std::uint32_t e : entry_blocks) g.entries.push_back(scratch.local[e]);
  g.indegree.assign(g.blocks.size(), 0);
  g.edge_begin.reserve(g.blocks.size() + 1);
  for (std::uint32_t block : g.blocks) {
    g.edge_begin.push_back(static_cast<std::uint32_t>(g.edges.size()));
    const CompiledBlock& b = bp.blocks[block];
    for (std::uint32_t slot = 0; slot < b.next.size(); ++slot) {
      if (b.type->isBranchState(b.next[slot].first)) continue;
      for (std::size_t t : b.next[slot].second) {
        // Every non-branch target of a member is a member (the walk above took it).
        g.edges.push_back({slot, scratch.local[t]});
        ++g.indegree[scratch.local[t]];
      }
    }
  }
  g.edge_begin.push_back(static_cast<std::uint32_t>(g.edges.size()));
  return g;
}

void compileFields(const BlockDef& def, CompiledBlock& block) {
  const BlockType& type = *block.type;
  for (const FieldSpec& spec : type.fields) {
    // The same rule blueprint/testing.hpp applies, so blocks see these fields in their tests.
    const Json* chosen = fieldValueOrDefault(def.fields, spec.name,
                                             spec.default_value ? &*spec.default_value : nullptr);
    if (chosen == nullptr) continue;
    Json value = *chosen;
    CompiledField field;
    field.name = spec.name;
    field.spec = &spec;
    field.templated = spec.templated;
    if (!spec.templated) {
      field.literal = value;  // passed as written (e.g. an expression the block resolves itself)
      block.fields.push_back(std::move(field));
      continue;
    }
    field.text = Template::compile(value, Template::Mode::Text);
    field.json_always = spec.kind == FieldSpec::Kind::Json;
    if (field.json_always || !spec.json_when_field.empty())
      field.json = Template::compile(value, Template::Mode::Json);
    if (!field.json_always && spec.json_when_field.empty() && field.text.isConstant()) {
      // Without a template the field renders and converts the same way every run: do it once
      // here. A value that does not convert stays templated, so the run reports it as before.
      Json constant = field.text.render(NoEnvironment());
      std::string error;
      if (convertField(spec, constant, error)) {
        field.templated = false;
        field.literal = std::move(constant);
      }
    }
    block.fields.push_back(std::move(field));
  }
  // A field whose JSON mode depends on another (set_state's `value` on `value_type`) must render
  // after it, whatever order the manifest lists them in.
  std::stable_partition(block.fields.begin(), block.fields.end(),
                        [](const CompiledField& f) { return f.spec->json_when_field.empty(); });
  for (auto& field : block.fields) {
    if (field.spec->json_when_field.empty()) continue;
    for (std::size_t j = 0; j < block.fields.size(); ++j)
      if (block.fields[j].name == field.spec->json_when_field)
        field.json_when_index = static_cast<int>(j);
  }
}

}  // namespace

std::shared_ptr<const CompiledAgent> CompiledAgent::compile(
    const std::string& agent_id, std::int64_t version, const Json& definition,
    std::shared_ptr<const Catalog> catalog) {
  AgentDef def = parseAndValidateAgent(definition, agent_id, *catalog);
  auto agent = std::make_shared<CompiledAgent>();
  agent->agent_id = agent_id;
  agent->version = version;
  agent->name = def.name;
  agent->definition = definition;
  agent->catalog = catalog;
  std::vector<ValidationIssue> issues;
  for (const BlueprintDef& bp_def : def.blueprints) {
    auto bp = std::make_unique<CompiledBlueprint>();
    bp->id = bp_def.id;
    bp->name = bp_def.name;
    bp->blocks.resize(bp_def.blocks.size());
    for (std::size_t i = 0; i < bp_def.blocks.size(); ++i)
      bp->index.emplace(bp_def.blocks[i].id, i);
    for (std::size_t i = 0; i < bp_def.blocks.size(); ++i) {
      const BlockDef& bd = bp_def.blocks[i];
      CompiledBlock& block = bp->blocks[i];
      block.id = bd.id;
      block.type = catalog->findShared(bd.type);
      for (const auto& [state, targets] : bd.next) {
        std::vector<std::size_t> idx;
        for (const auto& t : targets) idx.push_back(bp->index.at(t));
        block.next.emplace_back(state, std::move(idx));
      }
      compileFields(bd, block);
      if (block.type->role == "trigger") bp->trigger = static_cast<long>(i);
      if (!block.type->instant) bp->may_wait = true;
      if (block.type->vtable->create != nullptr) {
        std::string config = bd.fields.dump(), error;
        bp_sink sink{&error, [](void* ctx, const char* d, std::size_t n) {
                       static_cast<std::string*>(ctx)->append(d, n);
                     }};
        block.instance = block.type->vtable->create(config.data(), config.size(), &sink);
        if (block.instance == nullptr)
          issues.push_back({bp_def.id, bd.id, "",
                            "the block refused its configuration: " +
                                (error.empty() ? std::string("no reason given") : error)});
      }
    }
    SubgraphScratch scratch(bp->blocks.size());
    if (bp->trigger >= 0)
      bp->api_graph = buildSubgraph(*bp, {static_cast<std::size_t>(bp->trigger)}, scratch);
    {
      std::vector<std::uint32_t> incoming(bp->blocks.size(), 0);
      for (const auto& b : bp->blocks)
        for (const auto& [state, targets] : b.next)
          if (!b.type->isBranchState(state))
            for (std::size_t t : targets) ++incoming[t];
      std::vector<std::size_t> roots;
      for (std::size_t i = 0; i < bp->blocks.size(); ++i)
        if (incoming[i] == 0 && static_cast<long>(i) != bp->trigger) roots.push_back(i);
      // Branch-only blocks are reached through their owner, not as roots of the whole graph.
      std::vector<char> in_branch(bp->blocks.size(), 0);
      for (const auto& b : bp->blocks)
        for (const auto& [state, targets] : b.next)
          if (b.type->isBranchState(state))
            for (std::size_t t : targets) in_branch[t] = 1;
      std::vector<std::size_t> whole_roots;
      if (bp->trigger >= 0) whole_roots.push_back(static_cast<std::size_t>(bp->trigger));
      for (std::size_t r : roots)
        if (!in_branch[r]) whole_roots.push_back(r);
      bp->whole_graph = buildSubgraph(*bp, whole_roots, scratch);
    }
    const std::size_t max_branch_members =
        CompiledBlueprint::kMaxBranchMembersPerBlock * bp->blocks.size();
    std::size_t branch_members = 0;
    for (std::size_t i = 0; i < bp->blocks.size() && branch_members <= max_branch_members; ++i) {
      const CompiledBlock& b = bp->blocks[i];
      for (const auto& [state, targets] : b.next)
        if (b.type->isBranchState(state)) {
          Subgraph branch = buildSubgraph(*bp, targets, scratch);
          branch_members += branch.size();
          bp->branch_graphs.emplace(std::make_pair(i, state), std::move(branch));
        }
    }
    if (branch_members > max_branch_members) {
      issues.push_back({bp_def.id, "", "",
                        "its branches (loop bodies) share too many blocks: together they hold "
                        "more than " +
                            std::to_string(CompiledBlueprint::kMaxBranchMembersPerBlock) +
                            " times the blueprint's blocks; give each loop its own body"});
      bp->branch_graphs.clear();
    }
    agent->blueprints.emplace(bp->id, std::move(bp));
  }
  if (!issues.empty()) throw DefinitionError(std::move(issues));
  return agent;
}

const CompiledBlueprint* CompiledAgent::find(const std::string& blueprint_id) const {
  auto it = blueprints.find(blueprint_id);
  return it == blueprints.end() ? nullptr : it->second.get();
}

}  // namespace blueprint::host
