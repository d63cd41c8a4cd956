// SPDX-License-Identifier: Apache-2.0
#include "app/host_config.hpp"

#include <algorithm>
#include <blueprint/json_limits.hpp>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include "logging/log_setup.hpp"
#include "storage/storage_url.hpp"

namespace blueprint::host {

using Json = nlohmann::json;

std::string HostConfig::storageUrl() const {
  return storage.empty() ? "sqlite:" + data + "/host.db" : storage;
}

namespace {

/// The largest json_max_depth accepted: nlohmann's copy and dump recurse per level, a few hundred
/// bytes of stack each, and a connection thread has 8 MiB.
constexpr std::size_t kMaxJsonMaxDepth = 4096;

template <typename T>
T getAs(const Json& v, const std::string& key, const std::string& source) {
  try {
    return v.get<T>();
  } catch (const std::exception&) {
    throw std::runtime_error(source + ": \"" + key + "\" has the wrong type (" + v.dump() + ")");
  }
}

std::int64_t parseInt(const std::string& text, const std::string& key) {
  try {
    std::size_t pos = 0;
    long long v = std::stoll(text, &pos);
    if (pos != text.size()) throw std::invalid_argument(text);
    return v;
  } catch (const std::exception&) {
    throw std::runtime_error(key + ": '" + text + "' is not a whole number");
  }
}

/// Depth 0 refuses every object; past a few thousand levels a recursive walk overflows the stack.
void checkStoreSyncRuns(const std::string& mode, const std::string& what) {
  if (mode != "auto" && mode != "always" && mode != "never")
    throw std::runtime_error(what + " must be \"auto\", \"always\" or \"never\", not \"" + mode +
                             "\"");
}

void checkJsonMaxDepth(std::size_t depth, const std::string& what) {
  if (depth < 1 || depth > kMaxJsonMaxDepth)
    throw std::runtime_error(what + " must be between 1 and " + std::to_string(kMaxJsonMaxDepth));
}

bool parseBool(const std::string& text, const std::string& key) {
  if (text == "1" || text == "true" || text == "yes" || text == "on") return true;
  if (text == "0" || text == "false" || text == "no" || text == "off") return false;
  throw std::runtime_error(key + ": '" + text + "' is not true or false");
}

/// The request framing limits' ranges: each must leave room for an ordinary request.
void checkFramingLimits(const HostConfig& c, const std::string& source) {
  if (c.max_header_bytes < 1024 || c.max_header_bytes > (16 << 20))
    throw std::runtime_error(source + ": max_header_bytes must be 1024 .. 16777216");
  if (c.max_header_fields < 8 || c.max_header_fields > 10000)
    throw std::runtime_error(source + ": max_header_fields must be 8 .. 10000");
  if (c.max_target_bytes < 64 || c.max_target_bytes > 16384 ||
      c.max_target_bytes >= c.max_header_bytes)
    throw std::runtime_error(source +
                             ": max_target_bytes must be 64 .. 16384 and below max_header_bytes");
  if (c.header_timeout_ms < 100 || c.busy_timeout_ms < 10 || c.drain_timeout_ms < 0 ||
      c.send_timeout_ms < 100)
    throw std::runtime_error(source +
                             ": need header_timeout_ms >= 100, busy_timeout_ms >= 10, "
                             "drain_timeout_ms >= 0, send_timeout_ms >= 100");
  if (c.drain_limit_bytes < 0)
    throw std::runtime_error(source + ": drain_limit_bytes must be >= 0");
  if (c.reactor_threads < 0 || c.reactor_threads > 1024 || c.handler_threads < 0 ||
      c.handler_threads > 100000)
    throw std::runtime_error(source +
                             ": reactor_threads must be 0 .. 1024 and handler_threads 0 .. 100000 "
                             "(0: the default)");
  if (c.max_output_buffer_bytes < 1024)
    throw std::runtime_error(source + ": max_output_buffer_bytes must be >= 1024");
}

/// Logs and metrics settings (issue 15): a known log format, label caps a scrape can carry.
void checkObservability(const HostConfig& c, const std::string& source) {
  if (!isLogFormat(c.log_format))
    throw std::runtime_error(source + ": log_format must be \"text\" or \"json\", not \"" +
                             c.log_format + "\"");
  if (c.metrics_max_agents > 10000 || c.metrics_max_block_types > 10000)
    throw std::runtime_error(source +
                             ": metrics_max_agents and metrics_max_block_types must be 0 .. 10000");
  if (c.storage_probe_ms < 100 || c.storage_probe_ms > 3600000)
    throw std::runtime_error(source + ": storage_probe_ms must be 100 .. 3600000");
}

void checkEngineThreads(const HostConfig& c, const std::string& source) {
  if (c.run_workers < 0 || c.run_workers > 1024)
    throw std::runtime_error(
        source + ": run_workers must be 0 .. 1024 (0: one per CPU the host may run on)");
  if (c.blocking_workers < 1 || c.blocking_workers > 4096)
    throw std::runtime_error(source + ": blocking_workers must be 1 .. 4096");
}

}  // namespace

void HostConfig::applyJson(const Json& j, const std::string& source) {
  if (!j.is_object())
    throw std::runtime_error(source + ": the configuration must be a JSON object");
  for (const auto& [key, v] : j.items()) {
    if (key == "listen")
      listen = getAs<std::string>(v, key, source);
    else if (key == "plugins")
      plugins = getAs<std::string>(v, key, source);
    else if (key == "agents")
      agents = getAs<std::string>(v, key, source);
    else if (key == "data")
      data = getAs<std::string>(v, key, source);
    else if (key == "storage")
      storage = getAs<std::string>(v, key, source);
    else if (key == "api_keys")
      api_keys = getAs<std::string>(v, key, source);
    else if (key == "watch_plugins")
      watch_plugins = getAs<bool>(v, key, source);
    else if (key == "probe_plugins")
      probe_plugins = getAs<bool>(v, key, source);
    else if (key == "console")
      console = getAs<bool>(v, key, source);
    else if (key == "plugin_debounce_ms")
      plugin_debounce_ms = getAs<int>(v, key, source);
    else if (key == "threads")
      threads = getAs<int>(v, key, source);
    else if (key == "min_threads")
      min_threads = getAs<int>(v, key, source);
    else if (key == "max_queued")
      max_queued = getAs<int>(v, key, source);
    else if (key == "max_connections")
      max_connections = getAs<int>(v, key, source);
    else if (key == "keep_alive_timeout_s")
      keep_alive_timeout_s = getAs<int>(v, key, source);
    else if (key == "max_keep_alive_requests")
      max_keep_alive_requests = getAs<int>(v, key, source);
    else if (key == "listen_backlog")
      listen_backlog = getAs<int>(v, key, source);
    else if (key == "body_limit_bytes")
      body_limit_bytes = getAs<std::int64_t>(v, key, source);
    else if (key == "sse_keepalive_ms")
      sse_keepalive_ms = getAs<int>(v, key, source);
    else if (key == "max_header_bytes")
      max_header_bytes = getAs<std::int64_t>(v, key, source);
    else if (key == "max_header_fields")
      max_header_fields = getAs<int>(v, key, source);
    else if (key == "max_target_bytes")
      max_target_bytes = getAs<std::int64_t>(v, key, source);
    else if (key == "header_timeout_ms")
      header_timeout_ms = getAs<int>(v, key, source);
    else if (key == "busy_timeout_ms")
      busy_timeout_ms = getAs<int>(v, key, source);
    else if (key == "drain_limit_bytes")
      drain_limit_bytes = getAs<std::int64_t>(v, key, source);
    else if (key == "drain_timeout_ms")
      drain_timeout_ms = getAs<int>(v, key, source);
    else if (key == "send_timeout_ms")
      send_timeout_ms = getAs<int>(v, key, source);
    else if (key == "reactor_threads")
      reactor_threads = getAs<int>(v, key, source);
    else if (key == "handler_threads")
      handler_threads = getAs<int>(v, key, source);
    else if (key == "max_output_buffer_bytes")
      max_output_buffer_bytes = getAs<std::int64_t>(v, key, source);
    else if (key == "job_workers")
      job_workers = getAs<int>(v, key, source);
    else if (key == "job_queue_limit")
      job_queue_limit = getAs<std::int64_t>(v, key, source);
    else if (key == "max_concurrent_runs")
      max_concurrent_runs = getAs<int>(v, key, source);
    else if (key == "max_concurrent_runs_per_agent")
      max_concurrent_runs_per_agent = getAs<int>(v, key, source);
    else if (key == "store_sync_runs")
      store_sync_runs = getAs<std::string>(v, key, source);
    else if (key == "job_lease_ms")
      job_lease_ms = getAs<std::int64_t>(v, key, source);
    else if (key == "job_poll_ms")
      job_poll_ms = getAs<std::int64_t>(v, key, source);
    else if (key == "job_max_attempts")
      job_max_attempts = getAs<int>(v, key, source);
    else if (key == "job_retention_hours")
      job_retention_hours = getAs<std::int64_t>(v, key, source);
    else if (key == "sync_runs_kept")
      sync_runs_kept = getAs<std::size_t>(v, key, source);
    else if (key == "json_max_depth")
      limits.json_max_depth = getAs<std::size_t>(v, key, source);
    else if (key == "sync_runs_kept_bytes")
      sync_runs_kept_bytes = getAs<std::size_t>(v, key, source);
    else if (key == "max_blocks_per_blueprint")
      max_blocks_per_blueprint = getAs<std::size_t>(v, key, source);
    else if (key == "log_format")
      log_format = getAs<std::string>(v, key, source);
    else if (key == "access_log")
      access_log = getAs<bool>(v, key, source);
    else if (key == "metrics_max_agents")
      metrics_max_agents = getAs<std::size_t>(v, key, source);
    else if (key == "metrics_max_block_types")
      metrics_max_block_types = getAs<std::size_t>(v, key, source);
    else if (key == "storage_probe_ms")
      storage_probe_ms = getAs<int>(v, key, source);
    else if (key == "run_workers")
      run_workers = getAs<int>(v, key, source);
    else if (key == "blocking_workers")
      blocking_workers = getAs<int>(v, key, source);
    else if (key == "env_allow")
      env_allow = getAs<std::set<std::string>>(v, key, source);
    else if (key == "block_settings") {
      if (!v.is_object())
        throw std::runtime_error(source + ": \"block_settings\" must map block types to objects");
      for (const auto& [type, settings] : v.items())
        if (!settings.is_object())
          throw std::runtime_error(source + ": \"block_settings." + type + "\" must be an object");
      block_settings = v;
    } else if (key == "limits") {
      if (!v.is_object()) throw std::runtime_error(source + ": \"limits\" must be an object");
      for (const auto& [lk, lv] : v.items()) {
        if (lk == "max_steps")
          limits.max_steps = getAs<std::int64_t>(lv, "limits." + lk, source);
        else if (lk == "max_depth")
          limits.max_depth = getAs<int>(lv, "limits." + lk, source);
        else if (lk == "timeout_ms")
          limits.timeout_ms = getAs<std::int64_t>(lv, "limits." + lk, source);
        else if (lk == "max_output_bytes")
          limits.max_output_bytes = getAs<std::size_t>(lv, "limits." + lk, source);
        else if (lk == "max_lane_threads_per_run")
          limits.max_lane_threads_per_run = getAs<int>(lv, "limits." + lk, source);
        else if (lk == "max_lane_threads_per_host")
          limits.max_lane_threads_per_host = getAs<int>(lv, "limits." + lk, source);
        else
          throw std::runtime_error(source + ": unknown key \"limits." + lk + "\"");
      }
    } else if (key == "$schema" || key == "description") {
      // documentation keys
    } else {
      throw std::runtime_error(source + ": unknown key \"" + key + "\"");
    }
  }
  if (threads < 1 || min_threads < 1 || min_threads > threads)
    throw std::runtime_error(source + ": need 1 <= min_threads <= threads");
  if (job_workers < 0) throw std::runtime_error(source + ": job_workers must be >= 0");
  if (max_connections < 0)
    throw std::runtime_error(source + ": max_connections must be >= 0 (0: 10000)");
  checkStoreSyncRuns(store_sync_runs, source + ": store_sync_runs");
  if (max_concurrent_runs < 0 || max_concurrent_runs_per_agent < 0)
    throw std::runtime_error(source +
                             ": max_concurrent_runs and max_concurrent_runs_per_agent "
                             "must be >= 0 (0: no limit)");
  // A lease is renewed every third of its length; below this a busy host would lose its own.
  if (job_lease_ms < 300) throw std::runtime_error(source + ": job_lease_ms must be >= 300");
  if (job_poll_ms < 10) throw std::runtime_error(source + ": job_poll_ms must be >= 10");
  if (job_max_attempts < 1) throw std::runtime_error(source + ": job_max_attempts must be >= 1");
  checkFramingLimits(*this, source);
  checkObservability(*this, source);
  checkJsonMaxDepth(limits.json_max_depth, source + ": json_max_depth");
  if (limits.max_lane_threads_per_run < 0 || limits.max_lane_threads_per_host < 0)
    throw std::runtime_error(source + ": limits.max_lane_threads_* must be >= 0");
  if (max_blocks_per_blueprint < 1)
    throw std::runtime_error(source + ": max_blocks_per_blueprint must be >= 1");
  checkEngineThreads(*this, source);
}

void HostConfig::applyFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("config file " + path + " cannot be read");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  JsonParse parsed = parseJsonLimited(text);  // nesting bounded like every JSON the host reads
  if (!parsed.ok())
    throw std::runtime_error("config file " + path + " is not valid JSON: " + parsed.error);
  applyJson(parsed.value, path);
}

void HostConfig::applyFlag(const std::string& name, const std::string& value) {
  if (name == "listen")
    listen = value;
  else if (name == "plugins")
    plugins = value;
  else if (name == "agents")
    agents = value;
  else if (name == "data")
    data = value;
  else if (name == "storage")
    storage = value;
  else if (name == "api-keys" || name == "api_keys")
    api_keys = value;
  else if (name == "probe-plugins" || name == "probe_plugins")
    probe_plugins = parseBool(value, name);
  else if (name == "threads")
    threads = static_cast<int>(parseInt(value, "threads"));
  else if (name == "watch-plugins" || name == "watch_plugins")
    watch_plugins = parseBool(value, name);
  else if (name == "max-header-bytes" || name == "max_header_bytes")
    max_header_bytes = parseInt(value, name);
  else if (name == "max-header-fields" || name == "max_header_fields")
    max_header_fields = static_cast<int>(parseInt(value, name));
  else if (name == "max-target-bytes" || name == "max_target_bytes")
    max_target_bytes = parseInt(value, name);
  else if (name == "header-timeout-ms" || name == "header_timeout_ms")
    header_timeout_ms = static_cast<int>(parseInt(value, name));
  else if (name == "busy-timeout-ms" || name == "busy_timeout_ms")
    busy_timeout_ms = static_cast<int>(parseInt(value, name));
  else if (name == "drain-limit-bytes" || name == "drain_limit_bytes")
    drain_limit_bytes = parseInt(value, name);
  else if (name == "drain-timeout-ms" || name == "drain_timeout_ms")
    drain_timeout_ms = static_cast<int>(parseInt(value, name));
  else if (name == "send-timeout-ms" || name == "send_timeout_ms")
    send_timeout_ms = static_cast<int>(parseInt(value, name));
  else if (name == "reactor-threads" || name == "reactor_threads")
    reactor_threads = static_cast<int>(parseInt(value, name));
  else if (name == "handler-threads" || name == "handler_threads")
    handler_threads = static_cast<int>(parseInt(value, name));
  else if (name == "max-output-buffer-bytes" || name == "max_output_buffer_bytes")
    max_output_buffer_bytes = parseInt(value, name);
  else if (name == "json-max-depth" || name == "json_max_depth") {
    limits.json_max_depth =
        static_cast<std::size_t>(std::max<std::int64_t>(0, parseInt(value, name)));
    checkJsonMaxDepth(limits.json_max_depth, name);
  } else if (name == "max-blocks-per-blueprint" || name == "max_blocks_per_blueprint")
    max_blocks_per_blueprint = static_cast<std::size_t>(
        std::max<std::int64_t>(1, parseInt(value, "max_blocks_per_blueprint")));
  else if (name == "sync-runs-kept-bytes" || name == "sync_runs_kept_bytes")
    sync_runs_kept_bytes = static_cast<std::size_t>(
        std::max<std::int64_t>(0, parseInt(value, "sync_runs_kept_bytes")));
  else if (name == "max-lane-threads-per-run" || name == "max_lane_threads_per_run")
    limits.max_lane_threads_per_run =
        static_cast<int>(std::max<std::int64_t>(0, parseInt(value, "max_lane_threads_per_run")));
  else if (name == "max-lane-threads-per-host" || name == "max_lane_threads_per_host")
    limits.max_lane_threads_per_host =
        static_cast<int>(std::max<std::int64_t>(0, parseInt(value, "max_lane_threads_per_host")));
  else if (name == "console")
    console = parseBool(value, name);
  else if (name == "store-sync-runs" || name == "store_sync_runs") {
    store_sync_runs = value;
    checkStoreSyncRuns(store_sync_runs, name);
  } else if (name == "max-connections" || name == "max_connections")
    max_connections =
        static_cast<int>(std::max<std::int64_t>(0, parseInt(value, "max_connections")));
  else if (name == "max-concurrent-runs" || name == "max_concurrent_runs")
    max_concurrent_runs =
        static_cast<int>(std::max<std::int64_t>(0, parseInt(value, "max_concurrent_runs")));
  else if (name == "max-concurrent-runs-per-agent" || name == "max_concurrent_runs_per_agent")
    max_concurrent_runs_per_agent = static_cast<int>(
        std::max<std::int64_t>(0, parseInt(value, "max_concurrent_runs_per_agent")));
  else if (name == "log-format" || name == "log_format")
    log_format = value;
  else if (name == "access-log" || name == "access_log")
    access_log = parseBool(value, name);
  else if (name == "metrics-max-agents" || name == "metrics_max_agents")
    metrics_max_agents =
        static_cast<std::size_t>(std::max<std::int64_t>(0, parseInt(value, "metrics_max_agents")));
  else if (name == "metrics-max-block-types" || name == "metrics_max_block_types")
    metrics_max_block_types = static_cast<std::size_t>(
        std::max<std::int64_t>(0, parseInt(value, "metrics_max_block_types")));
  else if (name == "storage-probe-ms" || name == "storage_probe_ms")
    storage_probe_ms = static_cast<int>(parseInt(value, "storage_probe_ms"));
  else if (name == "run-workers" || name == "run_workers")
    run_workers = static_cast<int>(parseInt(value, "run_workers"));
  else if (name == "blocking-workers" || name == "blocking_workers")
    blocking_workers = static_cast<int>(parseInt(value, "blocking_workers"));
  else
    throw std::runtime_error("unknown setting '" + name + "'");
  if (threads < 1) throw std::runtime_error("threads must be at least 1");
  if (min_threads > threads) min_threads = threads;
  checkFramingLimits(*this, "--" + name);
  checkObservability(*this, "--" + name);
  checkEngineThreads(*this, "--" + name);
}

void HostConfig::applyEnvironment(const std::map<std::string, std::string>& env) {
  static const std::pair<const char*, const char*> kVars[] = {
      {"BLUEPRINT_LISTEN", "listen"},
      {"BLUEPRINT_PLUGINS", "plugins"},
      {"BLUEPRINT_AGENTS", "agents"},
      {"BLUEPRINT_DATA", "data"},
      {"BLUEPRINT_STORAGE", "storage"},
      {"BLUEPRINT_API_KEYS", "api_keys"},
      {"BLUEPRINT_THREADS", "threads"},
      {"BLUEPRINT_WATCH_PLUGINS", "watch_plugins"},
      {"BLUEPRINT_JSON_MAX_DEPTH", "json_max_depth"},
      {"BLUEPRINT_MAX_BLOCKS_PER_BLUEPRINT", "max_blocks_per_blueprint"},
      {"BLUEPRINT_SYNC_RUNS_KEPT_BYTES", "sync_runs_kept_bytes"},
      {"BLUEPRINT_MAX_LANE_THREADS_PER_RUN", "max_lane_threads_per_run"},
      {"BLUEPRINT_MAX_LANE_THREADS_PER_HOST", "max_lane_threads_per_host"},
      {"BLUEPRINT_CONSOLE", "console"},
      {"BLUEPRINT_MAX_CONCURRENT_RUNS", "max_concurrent_runs"},
      {"BLUEPRINT_MAX_CONNECTIONS", "max_connections"},
      {"BLUEPRINT_STORE_SYNC_RUNS", "store_sync_runs"},
      {"BLUEPRINT_MAX_CONCURRENT_RUNS_PER_AGENT", "max_concurrent_runs_per_agent"},
      {"BLUEPRINT_LOG_FORMAT", "log_format"},
      {"BLUEPRINT_ACCESS_LOG", "access_log"},
      {"BLUEPRINT_METRICS_MAX_AGENTS", "metrics_max_agents"},
      {"BLUEPRINT_METRICS_MAX_BLOCK_TYPES", "metrics_max_block_types"},
      {"BLUEPRINT_STORAGE_PROBE_MS", "storage_probe_ms"},
      {"BLUEPRINT_RUN_WORKERS", "run_workers"},
      {"BLUEPRINT_BLOCKING_WORKERS", "blocking_workers"}};
  for (const auto& [var, name] : kVars) {
    auto it = env.find(var);
    if (it != env.end()) applyFlag(name, it->second);
  }
  // Request framing and connection limits (docs/decisions/011).
  static const std::pair<const char*, const char*> kFramingVars[] = {
      {"BLUEPRINT_MAX_HEADER_BYTES", "max_header_bytes"},
      {"BLUEPRINT_MAX_HEADER_FIELDS", "max_header_fields"},
      {"BLUEPRINT_MAX_TARGET_BYTES", "max_target_bytes"},
      {"BLUEPRINT_HEADER_TIMEOUT_MS", "header_timeout_ms"},
      {"BLUEPRINT_BUSY_TIMEOUT_MS", "busy_timeout_ms"},
      {"BLUEPRINT_DRAIN_LIMIT_BYTES", "drain_limit_bytes"},
      {"BLUEPRINT_DRAIN_TIMEOUT_MS", "drain_timeout_ms"},
      {"BLUEPRINT_SEND_TIMEOUT_MS", "send_timeout_ms"},
      {"BLUEPRINT_REACTOR_THREADS", "reactor_threads"},
      {"BLUEPRINT_HANDLER_THREADS", "handler_threads"},
      {"BLUEPRINT_MAX_OUTPUT_BUFFER_BYTES", "max_output_buffer_bytes"}};
  for (const auto& [var, name] : kFramingVars) {
    auto it = env.find(var);
    if (it != env.end()) applyFlag(name, it->second);
  }
}

Json HostConfig::toJson() const {
  return {{"listen", listen},
          {"plugins", plugins},
          {"agents", agents},
          {"data", data},
          {"storage", redactStorageUrl(storageUrl()).display},
          {"api_keys", api_keys},
          {"watch_plugins", watch_plugins},
          {"console", console},
          {"threads", threads},
          {"min_threads", min_threads},
          {"max_queued", max_queued},
          {"max_connections", max_connections},
          {"keep_alive_timeout_s", keep_alive_timeout_s},
          {"body_limit_bytes", body_limit_bytes},
          {"sse_keepalive_ms", sse_keepalive_ms},
          {"max_header_bytes", max_header_bytes},
          {"max_header_fields", max_header_fields},
          {"max_target_bytes", max_target_bytes},
          {"header_timeout_ms", header_timeout_ms},
          {"busy_timeout_ms", busy_timeout_ms},
          {"drain_limit_bytes", drain_limit_bytes},
          {"drain_timeout_ms", drain_timeout_ms},
          {"send_timeout_ms", send_timeout_ms},
          {"reactor_threads", reactor_threads},
          {"handler_threads", handler_threads},
          {"max_output_buffer_bytes", max_output_buffer_bytes},
          {"job_workers", job_workers},
          {"job_queue_limit", job_queue_limit},
          {"max_concurrent_runs", max_concurrent_runs},
          {"max_concurrent_runs_per_agent", max_concurrent_runs_per_agent},
          {"store_sync_runs", store_sync_runs},
          {"job_lease_ms", job_lease_ms},
          {"job_poll_ms", job_poll_ms},
          {"job_max_attempts", job_max_attempts},
          {"job_retention_hours", job_retention_hours},
          {"json_max_depth", limits.json_max_depth},
          {"sync_runs_kept_bytes", sync_runs_kept_bytes},
          {"max_blocks_per_blueprint", max_blocks_per_blueprint},
          {"log_format", log_format},
          {"access_log", access_log},
          {"metrics_max_agents", metrics_max_agents},
          {"metrics_max_block_types", metrics_max_block_types},
          {"storage_probe_ms", storage_probe_ms},
          {"run_workers", run_workers},
          {"blocking_workers", blocking_workers},
          {"limits",
           {{"max_steps", limits.max_steps},
            {"max_depth", limits.max_depth},
            {"timeout_ms", limits.timeout_ms},
            {"max_output_bytes", limits.max_output_bytes},
            {"max_lane_threads_per_run", limits.max_lane_threads_per_run},
            {"max_lane_threads_per_host", limits.max_lane_threads_per_host}}}};
}

}  // namespace blueprint::host
