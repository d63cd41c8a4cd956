// SPDX-License-Identifier: Apache-2.0
#include "blueprint/blueprint_validator.hpp"

#include <algorithm>
#include <map>
#include <set>

namespace blueprint::host {

namespace {

bool hasTemplate(const std::string& s) { return s.find("@{") != std::string::npos; }

std::string jsonTypeName(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::boolean:
      return "a boolean";
    case Json::value_t::string:
      return "a string";
    case Json::value_t::array:
      return "a list";
    case Json::value_t::object:
      return "an object";
    default:
      return "a number";
  }
}

/// A literal of the field's type, or a string (a template or text converted at run time).
bool acceptsValue(const FieldSpec& spec, const Json& v) {
  if (v.is_string() || v.is_null() || spec.type == "any") return true;
  if (spec.type == "string") return v.is_number() || v.is_boolean();
  if (spec.type == "number") return v.is_number();
  if (spec.type == "boolean") return v.is_boolean();
  if (spec.type == "object") return v.is_object();
  if (spec.type == "list") return v.is_array();
  if (spec.type == "json") return v.is_object() || v.is_array() || v.is_number() || v.is_boolean();
  return false;
}

void checkFields(const BlueprintDef& bp, const BlockDef& block, const BlockType& type,
                 std::vector<ValidationIssue>& issues) {
  for (const auto& [name, value] : block.fields.items()) {
    const FieldSpec* spec = type.field(name);
    if (spec == nullptr) {
      std::string known;
      for (const auto& f : type.fields) known += (known.empty() ? "" : ", ") + f.name;
      issues.push_back({bp.id, block.id, name,
                        "is not a field of type '" + type.type +
                            "' (its fields: " + (known.empty() ? "none" : known) + ")"});
      continue;
    }
    if (!acceptsValue(*spec, value)) {
      issues.push_back({bp.id, block.id, name,
                        "must be " + spec->type + " (or text converted at run time), got " +
                            jsonTypeName(value)});
      continue;
    }
    if (!spec->options.empty() && value.is_string() && !hasTemplate(value.get<std::string>()) &&
        std::find(spec->options.begin(), spec->options.end(), value.get<std::string>()) ==
            spec->options.end()) {
      std::string opts;
      for (const auto& o : spec->options) opts += (opts.empty() ? "" : ", ") + o;
      issues.push_back(
          {bp.id, block.id, name, "'" + value.get<std::string>() + "' is not one of: " + opts});
    }
  }
  for (const auto& spec : type.fields) {
    if (!spec.required) continue;
    auto it = block.fields.find(spec.name);
    // An empty text is a missing key, URL or expression, but for an `any` field "" is a value
    // in its own right: DESIGN §3 makes `""` a valid Return Value.
    const bool empty_text = it != block.fields.end() && it->is_string() &&
                            it->get_ref<const std::string&>().empty() && spec.type != "any";
    const bool missing = it == block.fields.end() || it->is_null() || empty_text;
    if (missing) issues.push_back({bp.id, block.id, spec.name, "required field is missing"});
  }
}

/// Depth-first search for a cycle; reports the first one found as a path. Iterative, with its
/// own stack: a long chain must not overflow the thread's (issue 11, M2: a 100,000-block chain
/// crashed the host when the search recursed once per block).
bool findCycle(const BlueprintDef& bp, const std::map<std::string, std::size_t>& index,
               std::vector<ValidationIssue>& issues) {
  enum class Mark { White, Grey, Black };
  /// A block on the search path and how far its edges have been followed.
  struct Frame {
    std::size_t block;
    std::size_t group = 0;   ///< index into the block's `next`
    std::size_t target = 0;  ///< index into that group's targets
  };
  std::vector<Mark> mark(bp.blocks.size(), Mark::White);
  std::vector<Frame> path;
  for (std::size_t root = 0; root < bp.blocks.size(); ++root) {
    if (mark[root] != Mark::White) continue;
    mark[root] = Mark::Grey;
    path.push_back({root});
    while (!path.empty()) {
      Frame& frame = path.back();
      const NextMap& next = bp.blocks[frame.block].next;
      if (frame.group == next.size()) {
        mark[frame.block] = Mark::Black;
        path.pop_back();
        continue;
      }
      const std::vector<std::string>& targets = next[frame.group].second;
      if (frame.target == targets.size()) {
        ++frame.group;
        frame.target = 0;
        continue;
      }
      const std::string& t = targets[frame.target++];
      auto it = index.find(t);
      if (it == index.end()) continue;
      if (mark[it->second] == Mark::Grey) {
        std::string cycle;
        auto from = std::find_if(path.begin(), path.end(),
                                 [&](const Frame& f) { return f.block == it->second; });
        for (auto p = from; p != path.end(); ++p) cycle += bp.blocks[p->block].id + " -> ";
        cycle += t;
        issues.push_back({bp.id, bp.blocks[frame.block].id, "", "edges form a cycle: " + cycle});
        return true;
      }
      if (mark[it->second] == Mark::White) {
        mark[it->second] = Mark::Grey;
        path.push_back({it->second});  // `frame` is not used past this point
      }
    }
  }
  return false;
}

}  // namespace

std::vector<ValidationIssue> validateAgent(const AgentDef& agent, const Catalog& catalog) {
  std::vector<ValidationIssue> issues;
  for (const auto& bp : agent.blueprints) {
    std::map<std::string, std::size_t> index;
    for (std::size_t i = 0; i < bp.blocks.size(); ++i) index.emplace(bp.blocks[i].id, i);
    std::set<std::string> has_incoming;
    std::string first_trigger;
    for (const auto& block : bp.blocks) {
      const BlockType* type = catalog.find(block.type);
      if (type == nullptr) {
        issues.push_back({bp.id, block.id, "",
                          "unknown block type '" + block.type +
                              "' (no loaded plugin provides it; see GET /v1/blocks)"});
      } else {
        checkFields(bp, block, *type, issues);
        // Name the extra trigger and the first one, so the message locates the defect.
        if (type->role == "trigger" && first_trigger.empty())
          first_trigger = block.id;
        else if (type->role == "trigger")
          issues.push_back({bp.id, block.id, "",
                            "is another trigger (the first is '" + first_trigger +
                                "'); a blueprint has at most one"});
      }
      for (const auto& [state, targets] : block.next) {
        if (type != nullptr && !type->hasEndState(state)) {
          std::string states;
          for (const auto& s : type->end_states) states += (states.empty() ? "" : ", ") + s;
          issues.push_back({bp.id, block.id, "",
                            "\"next\" uses end state '" + state + "', which type '" + block.type +
                                "' does not have (its end states: " + states + ")"});
        }
        for (const auto& t : targets) {
          if (index.count(t) == 0)
            issues.push_back(
                {bp.id, block.id, "",
                 "\"next\"." + state + " points to block '" + t + "', which does not exist"});
          else if (t == block.id)
            issues.push_back({bp.id, block.id, "", "\"next\"." + state + " points to itself"});
          has_incoming.insert(t);
        }
      }
    }
    for (const auto& block : bp.blocks) {
      const BlockType* type = catalog.find(block.type);
      if (type != nullptr && type->role == "trigger" && has_incoming.count(block.id) > 0)
        issues.push_back(
            {bp.id, block.id, "", "a trigger is the entry of a run; no edge may point to it"});
    }
    findCycle(bp, index, issues);
  }
  return issues;
}

AgentDef parseAndValidateAgent(const Json& definition, const std::string& agent_id,
                               const Catalog& catalog) {
  AgentDef agent = parseAgent(definition, agent_id);
  std::vector<ValidationIssue> issues = validateAgent(agent, catalog);
  if (!issues.empty()) throw DefinitionError(std::move(issues));
  return agent;
}

}  // namespace blueprint::host
