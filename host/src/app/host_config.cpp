// SPDX-License-Identifier: Apache-2.0
#include "app/host_config.hpp"

#include <fstream>
#include <stdexcept>

namespace blueprint::host {

using Json = nlohmann::json;

std::string HostConfig::storageUrl() const {
  return storage.empty() ? "sqlite:" + data + "/host.db" : storage;
}

namespace {

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

bool parseBool(const std::string& text, const std::string& key) {
  if (text == "1" || text == "true" || text == "yes" || text == "on") return true;
  if (text == "0" || text == "false" || text == "no" || text == "off") return false;
  throw std::runtime_error(key + ": '" + text + "' is not true or false");
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
    else if (key == "job_workers")
      job_workers = getAs<int>(v, key, source);
    else if (key == "job_queue_limit")
      job_queue_limit = getAs<std::int64_t>(v, key, source);
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
  // A lease is renewed every third of its length; below this a busy host would lose its own.
  if (job_lease_ms < 300) throw std::runtime_error(source + ": job_lease_ms must be >= 300");
  if (job_poll_ms < 10) throw std::runtime_error(source + ": job_poll_ms must be >= 10");
  if (job_max_attempts < 1) throw std::runtime_error(source + ": job_max_attempts must be >= 1");
}

void HostConfig::applyFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("config file " + path + " cannot be read");
  Json j = Json::parse(in, nullptr, false);
  if (j.is_discarded()) throw std::runtime_error("config file " + path + " is not valid JSON");
  applyJson(j, path);
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
  else if (name == "console")
    console = parseBool(value, name);
  else
    throw std::runtime_error("unknown setting '" + name + "'");
  if (threads < 1) throw std::runtime_error("threads must be at least 1");
  if (min_threads > threads) min_threads = threads;
}

void HostConfig::applyEnvironment(const std::map<std::string, std::string>& env) {
  static const std::pair<const char*, const char*> kVars[] = {
      {"BLUEPRINT_LISTEN", "listen"},   {"BLUEPRINT_PLUGINS", "plugins"},
      {"BLUEPRINT_AGENTS", "agents"},   {"BLUEPRINT_DATA", "data"},
      {"BLUEPRINT_STORAGE", "storage"}, {"BLUEPRINT_API_KEYS", "api_keys"},
      {"BLUEPRINT_THREADS", "threads"}, {"BLUEPRINT_WATCH_PLUGINS", "watch_plugins"},
      {"BLUEPRINT_CONSOLE", "console"}};
  for (const auto& [var, name] : kVars) {
    auto it = env.find(var);
    if (it != env.end()) applyFlag(name, it->second);
  }
}

Json HostConfig::toJson() const {
  return {{"listen", listen},
          {"plugins", plugins},
          {"agents", agents},
          {"data", data},
          {"storage", storageUrl().rfind("postgresql:", 0) == 0 ? "postgresql://…" : storageUrl()},
          {"api_keys", api_keys},
          {"watch_plugins", watch_plugins},
          {"console", console},
          {"threads", threads},
          {"min_threads", min_threads},
          {"max_queued", max_queued},
          {"keep_alive_timeout_s", keep_alive_timeout_s},
          {"body_limit_bytes", body_limit_bytes},
          {"sse_keepalive_ms", sse_keepalive_ms},
          {"job_workers", job_workers},
          {"job_queue_limit", job_queue_limit},
          {"job_lease_ms", job_lease_ms},
          {"job_poll_ms", job_poll_ms},
          {"job_max_attempts", job_max_attempts},
          {"job_retention_hours", job_retention_hours},
          {"limits",
           {{"max_steps", limits.max_steps},
            {"max_depth", limits.max_depth},
            {"timeout_ms", limits.timeout_ms},
            {"max_output_bytes", limits.max_output_bytes}}}};
}

}  // namespace blueprint::host
