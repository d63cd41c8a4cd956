// SPDX-License-Identifier: Apache-2.0
#include "blueprint/blueprint.hpp"

#include <atomic>
#include <set>

namespace blueprint::host {

std::string ValidationIssue::toString() const {
  std::string out;
  auto add = [&](const char* what, const std::string& value) {
    if (value.empty()) return;
    if (!out.empty()) out += ", ";
    out += what;
    out += " '" + value + "'";
  };
  add("blueprint", blueprint);
  add("block", block);
  add("field", field);
  return out.empty() ? message : out + ": " + message;
}

Json ValidationIssue::toJson() const {
  Json j = {{"message", toString()}};
  if (!blueprint.empty()) j["blueprint"] = blueprint;
  if (!block.empty()) j["block"] = block;
  if (!field.empty()) j["field"] = field;
  return j;
}

namespace {
std::string joinMessages(const std::vector<ValidationIssue>& issues) {
  std::string msg;
  for (std::size_t i = 0; i < issues.size() && i < 5; ++i) {
    if (i > 0) msg += "; ";
    msg += issues[i].toString();
  }
  if (issues.size() > 5) msg += "; and " + std::to_string(issues.size() - 5) + " more";
  return msg;
}
}  // namespace

DefinitionError::DefinitionError(std::vector<ValidationIssue> issues)
    : std::runtime_error(joinMessages(issues)), issues_(std::move(issues)) {}

const BlueprintDef* AgentDef::find(const std::string& blueprint_id) const {
  for (const auto& b : blueprints)
    if (b.id == blueprint_id) return &b;
  return nullptr;
}

namespace {
// A process-wide setting rather than a parameter: every path that parses an agent (the API,
// the agents directory, recompiles after a plugin reload, the CLI) must apply the same bound.
std::atomic<std::size_t> g_max_blocks_per_blueprint{kDefaultMaxBlocksPerBlueprint};
}  // namespace

void setMaxBlocksPerBlueprint(std::size_t max_blocks) {
  g_max_blocks_per_blueprint.store(max_blocks, std::memory_order_relaxed);
}

std::size_t maxBlocksPerBlueprint() {
  return g_max_blocks_per_blueprint.load(std::memory_order_relaxed);
}

bool isValidId(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

namespace {

void parseBlock(const Json& j, BlueprintDef& bp, std::set<std::string>& ids,
                std::vector<ValidationIssue>& issues, std::size_t index) {
  if (!j.is_object()) {
    issues.push_back({bp.id, "", "", "block #" + std::to_string(index) + " is not a JSON object"});
    return;
  }
  BlockDef block;
  if (!j.contains("id") || !j["id"].is_string() || !isValidId(j["id"].get<std::string>())) {
    issues.push_back({bp.id, "", "",
                      "block #" + std::to_string(index) +
                          " needs an \"id\": 1-128 characters of letters, digits, _ . -"});
    return;
  }
  block.id = j["id"].get<std::string>();
  if (!ids.insert(block.id).second) {
    issues.push_back({bp.id, block.id, "", "block id is used twice"});
    return;
  }
  if (!j.contains("type") || !j["type"].is_string() || j["type"].get<std::string>().empty())
    issues.push_back({bp.id, block.id, "", "needs a \"type\" string"});
  else
    block.type = j["type"].get<std::string>();
  if (j.contains("fields") && !j["fields"].is_null()) {
    if (!j["fields"].is_object())
      issues.push_back({bp.id, block.id, "", "\"fields\" must be a JSON object"});
    else
      block.fields = j["fields"];
  }
  if (j.contains("next") && !j["next"].is_null()) {
    if (!j["next"].is_object()) {
      issues.push_back({bp.id, block.id, "",
                        "\"next\" must map end states to a block id or a list of block ids"});
    } else {
      for (const auto& [state, target] : j["next"].items()) {
        std::vector<std::string> targets;
        if (target.is_string()) {
          targets.push_back(target.get<std::string>());
        } else if (target.is_array()) {
          for (const Json& t : target) {
            if (t.is_string())
              targets.push_back(t.get<std::string>());
            else
              issues.push_back({bp.id, block.id, "",
                                "\"next\"." + state + " lists something that is not a block id"});
          }
        } else {
          issues.push_back({bp.id, block.id, "",
                            "\"next\"." + state + " must be a block id or a list of block ids"});
        }
        block.next.emplace_back(state, std::move(targets));
      }
    }
  }
  bp.blocks.push_back(std::move(block));
}

}  // namespace

AgentDef parseAgent(const Json& definition, const std::string& agent_id) {
  std::vector<ValidationIssue> issues;
  AgentDef agent;
  if (!definition.is_object())
    throw DefinitionError({{"", "", "", "the agent must be a JSON object"}});
  if (definition.contains("name") && !definition["name"].is_null()) {
    if (!definition["name"].is_string())
      issues.push_back({"", "", "", "\"name\" must be a string"});
    else
      agent.name = definition["name"].get<std::string>();
  }
  if (agent.name.empty()) agent.name = agent_id;
  if (!definition.contains("blueprints") || !definition["blueprints"].is_array()) {
    issues.push_back({"", "", "", "\"blueprints\" must be a list of blueprints"});
    throw DefinitionError(std::move(issues));
  }
  std::set<std::string> blueprint_ids;
  std::size_t index = 0;
  for (const Json& b : definition["blueprints"]) {
    ++index;
    if (!b.is_object() || !b.contains("id") || !b["id"].is_string() ||
        !isValidId(b["id"].get<std::string>())) {
      issues.push_back({"", "", "",
                        "blueprint #" + std::to_string(index) +
                            " needs an \"id\": 1-128 characters of letters, digits, _ . -"});
      continue;
    }
    BlueprintDef bp;
    bp.id = b["id"].get<std::string>();
    if (!blueprint_ids.insert(bp.id).second) {
      issues.push_back({bp.id, "", "", "blueprint id is used twice"});
      continue;
    }
    bp.name = b.contains("name") && b["name"].is_string() ? b["name"].get<std::string>() : bp.id;
    if (!b.contains("blocks") || !b["blocks"].is_array()) {
      issues.push_back({bp.id, "", "", "\"blocks\" must be a list of blocks"});
      continue;
    }
    // Checked before any block is parsed: validation and compiling cost grows with the count.
    const std::size_t max_blocks = maxBlocksPerBlueprint();
    if (b["blocks"].size() > max_blocks) {
      issues.push_back({bp.id, "", "",
                        "has " + std::to_string(b["blocks"].size()) + " blocks; at most " +
                            std::to_string(max_blocks) +
                            " are allowed (host setting max_blocks_per_blueprint)"});
      continue;
    }
    std::set<std::string> block_ids;
    std::size_t block_index = 0;
    for (const Json& block : b["blocks"]) parseBlock(block, bp, block_ids, issues, ++block_index);
    agent.blueprints.push_back(std::move(bp));
  }
  if (!issues.empty()) throw DefinitionError(std::move(issues));
  return agent;
}

}  // namespace blueprint::host
