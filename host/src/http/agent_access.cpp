// SPDX-License-Identifier: Apache-2.0
// The agent allow-list check of every route that names an agent (issue 11, Tenancy). An agent
// outside the key's list answers exactly as an agent that does not exist, so a key cannot tell
// which agents other tenants have.
#include "http/handlers.hpp"
#include "http/http_error.hpp"

namespace blueprint::host {

void requireAgentAccess(const RequestContext& ctx, const std::string& agent_id) {
  if (!ctx.principal.mayUseAgent(agent_id))
    throw ApiError(404, "agent_not_found", "agent '" + agent_id + "' does not exist");
}

}  // namespace blueprint::host
