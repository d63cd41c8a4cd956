// SPDX-License-Identifier: Apache-2.0
// The agent endpoints (DESIGN §2): drafts, deploy/rollback, undeploy, a numbered version's
// definition. Admin scope. A key with an agents allow-list sees and changes only the agents on it
// (requireAgentAccess).
#include "http/handlers.hpp"
#include "http/http_error.hpp"

namespace blueprint::host {

void handleListAgents(RequestContext& ctx) {
  Json agents = ctx.services.agents->listDeployed();
  if (ctx.principal.agents != nullptr) {
    Json allowed = Json::array();
    for (Json& agent : agents)
      if (ctx.principal.mayUseAgent(agent["id"].get<std::string>()))
        allowed.push_back(std::move(agent));
    agents = std::move(allowed);
  }
  sendJson(ctx.response, 200, {{"agents", std::move(agents)}});
}

void handlePutAgent(RequestContext& ctx) {
  requireAgentAccess(ctx, ctx.params[0]);
  if (ctx.params[0] == "jobs")
    throw ApiError(400, "invalid_request", "'jobs' is reserved and cannot be an agent id");
  Json body = readJsonBody(ctx, false);
  sendJson(ctx.response, 200, ctx.services.agents->putDraft(ctx.params[0], body));
}

void handleGetAgent(RequestContext& ctx) {
  requireAgentAccess(ctx, ctx.params[0]);
  sendJson(ctx.response, 200, ctx.services.agents->describe(ctx.params[0]));
}

void handleDeleteAgent(RequestContext& ctx) {
  requireAgentAccess(ctx, ctx.params[0]);
  ctx.services.agents->remove(ctx.params[0]);
  sendJson(ctx.response, 200, {{"id", ctx.params[0]}, {"deleted", true}});
}

void handleDeploy(RequestContext& ctx) {
  requireAgentAccess(ctx, ctx.params[0]);
  Json body = readJsonBody(ctx, true);
  std::optional<std::int64_t> version;
  if (!body.is_null()) {
    if (!body.is_object())
      throw ApiError(400, "invalid_request", "deploy body must be empty or {\"version\": N}");
    if (body.contains("version")) {
      if (!body["version"].is_number_integer() || body["version"].get<std::int64_t>() < 1)
        throw ApiError(400, "invalid_request", "\"version\" must be a positive whole number");
      version = body["version"].get<std::int64_t>();
    }
  }
  sendJson(ctx.response, 200, ctx.services.agents->deploy(ctx.params[0], version));
}

void handleUndeploy(RequestContext& ctx) {
  requireAgentAccess(ctx, ctx.params[0]);
  sendJson(ctx.response, 200, ctx.services.agents->undeploy(ctx.params[0]));
}

void handleGetAgentVersion(RequestContext& ctx) {
  requireAgentAccess(ctx, ctx.params[0]);
  // Digits only, no sign, no leading zero, at most 18 of them (so it fits an int64): "1e3",
  // "+1", " 1", "0x10" and "99999999999999999999" are all refused alike, never parsed loosely.
  const std::string& text = ctx.params[1];
  bool digits = !text.empty() && text.size() <= 18 && text[0] != '0';
  for (char c : text) digits = digits && c >= '0' && c <= '9';
  if (!digits)
    throw ApiError(400, "invalid_request",
                   "version must be a positive whole number (1 to 18 digits), got '" +
                       text.substr(0, 64) + (text.size() > 64 ? "…" : "") + "'");
  sendJson(ctx.response, 200,
           ctx.services.agents->describeVersion(ctx.params[0], std::stoll(text)));
}

}  // namespace blueprint::host
