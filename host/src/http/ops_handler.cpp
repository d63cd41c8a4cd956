// SPDX-License-Identifier: Apache-2.0
// Operations endpoints: catalogue, plugin reload, health, readiness (plugins, storage that takes
// writes), metrics (docs/metrics.md), OpenAPI document.
#include "http/handlers.hpp"
#include "http/http_error.hpp"
#include "http/openapi_document.hpp"
#include "metrics/process_metrics.hpp"

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
  if (!ctx.services.storage_health->writable()) {
    // Not an error of storage itself (that would count as a failed write): the host reports
    // what it knows, and a load balancer stops sending it work until writes succeed again.
    ctx.response.set("Retry-After", std::to_string(StorageHealth::kRetryAfterSeconds));
    throw ApiError(503, "storage_unavailable",
                   "storage cannot take writes (" + ctx.services.storage_health->lastError() +
                       "); the host is ready again once a write succeeds");
  }
  sendJson(ctx.response, 200,
           {{"status", "ready"},
            {"storage", ctx.services.storage->backendName()},
            {"block_types", ctx.services.plugins->current()->types().size()}});
}

namespace {

void gauge(std::string& out, const char* name, const char* type, const char* help,
           const std::string& value) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
  out.append(name).append(" ").append(value).append("\n");
}

}  // namespace

void handleMetrics(RequestContext& ctx) {
  HostServices& s = ctx.services;
  std::string gauges;
  // From QueueDepth's cache, refreshed in the background: a scrape never counts rows.
  gauge(gauges, "blueprint_jobs_queued", "gauge",
        "Jobs waiting in the queue (read from storage at most every 250 ms, plus jobs queued "
        "here since).",
        std::to_string(s.queue_depth->approximate()));
  gauge(gauges, "blueprint_runs_active", "gauge", "Runs executing on this host.",
        std::to_string(s.registry->activeCount()));
  gauge(gauges, "blueprint_plugin_catalog_generation", "gauge",
        "The published catalogue generation.", std::to_string(s.plugins->current()->generation()));
  gauge(gauges, "blueprint_plugin_zombie_generations", "gauge",
        "Plugin generations still mapped after unload.", std::to_string(zombieGenerationsTotal()));
  gauge(gauges, "blueprint_storage_write_failures_total", "counter",
        "Storage calls that failed (a full disk, an I/O error, a lost connection, …).",
        std::to_string(s.storage_health->writeFailures()));
  gauge(gauges, "blueprint_storage_writable", "gauge",
        "1 while storage takes writes, 0 while they fail (/readyz answers 503 then).",
        s.storage_health->writable() ? "1" : "0");
  renderProcessMetrics(gauges);
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
