// SPDX-License-Identifier: Apache-2.0
// Operations endpoints: catalogue, plugin reload, health, readiness, metrics, OpenAPI document.
#include "http/handlers.hpp"
#include "http/http_error.hpp"
#include "http/openapi_document.hpp"

namespace blueprint::host {

void handleBlocks(RequestContext& ctx) {
  sendJson(ctx.response, 200, ctx.services.plugins->current()->toJson());
}

void handleReloadPlugins(RequestContext& ctx) {
  readJsonBody(ctx, true);
  ReloadReport report = ctx.services.plugins->reload();
  sendJson(ctx.response, 200, report.toJson());
}

void handleHealthz(RequestContext& ctx) { sendJson(ctx.response, 200, {{"status", "ok"}}); }

void handleReadyz(RequestContext& ctx) {
  if (!ctx.services.ready.load())
    throw ApiError(503, "not_ready",
                   "the host is starting: plugins, storage or agents are not loaded yet");
  sendJson(ctx.response, 200,
           {{"status", "ready"},
            {"storage", ctx.services.storage->backendName()},
            {"block_types", ctx.services.plugins->current()->types().size()}});
}

void handleMetrics(RequestContext& ctx) {
  HostServices& s = ctx.services;
  std::string gauges;
  gauges +=
      "# HELP blueprint_jobs_queued Jobs waiting in the queue.\n# TYPE blueprint_jobs_queued "
      "gauge\n";
  gauges += "blueprint_jobs_queued " + std::to_string(s.storage->countQueued()) + "\n";
  gauges +=
      "# HELP blueprint_runs_active Runs executing on this host.\n# TYPE blueprint_runs_active "
      "gauge\n";
  gauges += "blueprint_runs_active " + std::to_string(s.registry->activeCount()) + "\n";
  gauges +=
      "# HELP blueprint_plugin_catalog_generation The published catalogue generation.\n"
      "# TYPE blueprint_plugin_catalog_generation gauge\n";
  gauges += "blueprint_plugin_catalog_generation " +
            std::to_string(s.plugins->current()->generation()) + "\n";
  gauges +=
      "# HELP blueprint_plugin_zombie_generations Plugin generations still mapped after unload.\n"
      "# TYPE blueprint_plugin_zombie_generations gauge\n";
  gauges +=
      "blueprint_plugin_zombie_generations " + std::to_string(zombieGenerationsTotal()) + "\n";
  const std::string text = s.metrics->render(gauges);
  ctx.response.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_OK);
  ctx.response.setContentType("text/plain; version=0.0.4");
  ctx.response.setContentLength(static_cast<std::streamsize>(text.size()));
  ctx.response.sendBuffer(text.data(), text.size());
}

void handleOpenApi(RequestContext& ctx) {
  const std::string_view text = openApiDocument();
  ctx.response.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_OK);
  ctx.response.setContentType("application/json");
  ctx.response.setContentLength(static_cast<std::streamsize>(text.size()));
  ctx.response.sendBuffer(text.data(), text.size());
}

}  // namespace blueprint::host
