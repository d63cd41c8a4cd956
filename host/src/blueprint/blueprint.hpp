// SPDX-License-Identifier: Apache-2.0
// blueprint.hpp: the blueprint model as written in agent JSON (DESIGN §3) and its parser.
// Parsing checks shape only; blueprint_validator.hpp checks it against the block catalogue.
#pragma once

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace blueprint::host {

using Json = nlohmann::json;

/// One problem in an agent definition, located as precisely as possible.
struct ValidationIssue {
  std::string blueprint;  ///< blueprint id (empty for agent-level problems)
  std::string block;      ///< block id (empty when not about a block)
  std::string field;      ///< field name (empty when not about a field)
  std::string message;    ///< what is wrong, as a sentence fragment

  /// "blueprint 'b', block 'x', field 'f': message"
  std::string toString() const;
  Json toJson() const;
};

/// Thrown when an agent definition is invalid; carries every issue found.
class DefinitionError : public std::runtime_error {
 public:
  explicit DefinitionError(std::vector<ValidationIssue> issues);
  const std::vector<ValidationIssue>& issues() const { return issues_; }

 private:
  std::vector<ValidationIssue> issues_;
};

/// An edge group: from an end state to one or more block ids (fan-out).
using NextMap = std::vector<std::pair<std::string, std::vector<std::string>>>;

/// A block instance in a blueprint.
struct BlockDef {
  std::string id;
  std::string type;
  Json fields = Json::object();
  NextMap next;
};

/// A blueprint: a graph of blocks.
struct BlueprintDef {
  std::string id;
  std::string name;
  std::vector<BlockDef> blocks;
};

/// An agent: a named bundle of blueprints.
struct AgentDef {
  std::string name;
  std::vector<BlueprintDef> blueprints;

  const BlueprintDef* find(const std::string& blueprint_id) const;
};

/// The default bound on the blocks of one blueprint (host config `max_blocks_per_blueprint`).
inline constexpr std::size_t kDefaultMaxBlocksPerBlueprint = 10000;
/// Sets the bound parseAgent applies to every blueprint; the host sets it once from its config.
void setMaxBlocksPerBlueprint(std::size_t max_blocks);
std::size_t maxBlocksPerBlueprint();

/// Parses `{"name", "blueprints":[…]}`. Throws DefinitionError listing every shape problem
/// (missing ids, duplicate ids, non-object fields, malformed `next`, more blocks than
/// maxBlocksPerBlueprint()).
AgentDef parseAgent(const Json& definition, const std::string& agent_id);

/// True for ids of agents, blueprints and blocks: 1-128 chars of [A-Za-z0-9_.-].
bool isValidId(const std::string& id);

}  // namespace blueprint::host
