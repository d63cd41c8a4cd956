// SPDX-License-Identifier: Apache-2.0
// blueprint_validator.hpp: checks a parsed agent against the block catalogue before it can be
// saved or deployed (DESIGN §3): known types, required fields, field types and options, edges to
// existing blocks from end states the type has, no cycles, triggers only as entries.
#pragma once

#include <vector>

#include "blueprint/blueprint.hpp"
#include "plugins/catalog.hpp"

namespace blueprint::host {

/// Every problem of `agent` against `catalog`; empty when it can be deployed.
std::vector<ValidationIssue> validateAgent(const AgentDef& agent, const Catalog& catalog);

/// Parses and validates; throws DefinitionError with every issue.
AgentDef parseAndValidateAgent(const Json& definition, const std::string& agent_id,
                               const Catalog& catalog);

}  // namespace blueprint::host
