// SPDX-License-Identifier: Apache-2.0
#include "app/config_report.hpp"

#include <Poco/Exception.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Util/Application.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>

#include "auth/api_keys.hpp"
#include "storage/storage_url.hpp"

namespace blueprint::host {

namespace fs = std::filesystem;
using Json = nlohmann::json;

namespace {

/// What a key's value must name on this machine, checked by --check-config.
enum class Needs {
  Nothing,
  ListenAddress,      ///< HOST:PORT
  Directory,          ///< an existing, readable directory
  OptionalDirectory,  ///< the same, or empty for none
  DataDirectory,      ///< a writable directory, or one that can be created
  KeysFile,           ///< empty (generated in the data dir) or a readable, valid keys file
  StorageUrl,         ///< a form openStorage accepts, its directory usable
};

/// How a key's value is shown by --print-config.
enum class Shown { AsIs, StorageUrl, CredentialsRedacted };

struct ConfigKey {
  const char* name;
  Json (*value)(const HostConfig&);
  Needs needs;
  Shown shown;
};

// The one table of keys both reports walk. Keys another part of the host adds to
// HostConfig::toJson() still print (after these); a key listed here must be one applyJson accepts
// (host_config_report_test reads the printed configuration back as a config file).
const ConfigKey kKeys[] = {
    {"listen", [](const HostConfig& c) -> Json { return c.listen; }, Needs::ListenAddress,
     Shown::AsIs},
    {"plugins", [](const HostConfig& c) -> Json { return c.plugins; }, Needs::Directory,
     Shown::AsIs},
    {"agents", [](const HostConfig& c) -> Json { return c.agents; }, Needs::OptionalDirectory,
     Shown::AsIs},
    {"data", [](const HostConfig& c) -> Json { return c.data; }, Needs::DataDirectory, Shown::AsIs},
    {"storage", [](const HostConfig& c) -> Json { return c.storageUrl(); }, Needs::StorageUrl,
     Shown::StorageUrl},
    {"api_keys", [](const HostConfig& c) -> Json { return c.api_keys; }, Needs::KeysFile,
     Shown::AsIs},
    {"watch_plugins", [](const HostConfig& c) -> Json { return c.watch_plugins; }, Needs::Nothing,
     Shown::AsIs},
    {"plugin_debounce_ms", [](const HostConfig& c) -> Json { return c.plugin_debounce_ms; },
     Needs::Nothing, Shown::AsIs},
    {"probe_plugins", [](const HostConfig& c) -> Json { return c.probe_plugins; }, Needs::Nothing,
     Shown::AsIs},
    {"threads", [](const HostConfig& c) -> Json { return c.threads; }, Needs::Nothing, Shown::AsIs},
    {"min_threads", [](const HostConfig& c) -> Json { return c.min_threads; }, Needs::Nothing,
     Shown::AsIs},
    {"max_queued", [](const HostConfig& c) -> Json { return c.max_queued; }, Needs::Nothing,
     Shown::AsIs},
    {"max_connections", [](const HostConfig& c) -> Json { return c.max_connections; },
     Needs::Nothing, Shown::AsIs},
    {"keep_alive_timeout_s", [](const HostConfig& c) -> Json { return c.keep_alive_timeout_s; },
     Needs::Nothing, Shown::AsIs},
    {"max_keep_alive_requests",
     [](const HostConfig& c) -> Json { return c.max_keep_alive_requests; }, Needs::Nothing,
     Shown::AsIs},
    {"listen_backlog", [](const HostConfig& c) -> Json { return c.listen_backlog; }, Needs::Nothing,
     Shown::AsIs},
    {"body_limit_bytes", [](const HostConfig& c) -> Json { return c.body_limit_bytes; },
     Needs::Nothing, Shown::AsIs},
    {"sse_keepalive_ms", [](const HostConfig& c) -> Json { return c.sse_keepalive_ms; },
     Needs::Nothing, Shown::AsIs},
    {"job_workers", [](const HostConfig& c) -> Json { return c.job_workers; }, Needs::Nothing,
     Shown::AsIs},
    {"job_queue_limit", [](const HostConfig& c) -> Json { return c.job_queue_limit; },
     Needs::Nothing, Shown::AsIs},
    {"max_concurrent_runs", [](const HostConfig& c) -> Json { return c.max_concurrent_runs; },
     Needs::Nothing, Shown::AsIs},
    {"max_concurrent_runs_per_agent",
     [](const HostConfig& c) -> Json { return c.max_concurrent_runs_per_agent; }, Needs::Nothing,
     Shown::AsIs},
    {"store_sync_runs", [](const HostConfig& c) -> Json { return c.store_sync_runs; },
     Needs::Nothing, Shown::AsIs},
    {"job_lease_ms", [](const HostConfig& c) -> Json { return c.job_lease_ms; }, Needs::Nothing,
     Shown::AsIs},
    {"job_poll_ms", [](const HostConfig& c) -> Json { return c.job_poll_ms; }, Needs::Nothing,
     Shown::AsIs},
    {"job_max_attempts", [](const HostConfig& c) -> Json { return c.job_max_attempts; },
     Needs::Nothing, Shown::AsIs},
    {"job_retention_hours", [](const HostConfig& c) -> Json { return c.job_retention_hours; },
     Needs::Nothing, Shown::AsIs},
    {"sync_runs_kept", [](const HostConfig& c) -> Json { return c.sync_runs_kept; }, Needs::Nothing,
     Shown::AsIs},
    {"limits",
     [](const HostConfig& c) -> Json {
       return {{"max_steps", c.limits.max_steps},
               {"max_depth", c.limits.max_depth},
               {"timeout_ms", c.limits.timeout_ms},
               {"max_output_bytes", c.limits.max_output_bytes}};
     },
     Needs::Nothing, Shown::AsIs},
    {"env_allow", [](const HostConfig& c) -> Json { return c.env_allow; }, Needs::Nothing,
     Shown::AsIs},
    {"block_settings", [](const HostConfig& c) -> Json { return c.block_settings; }, Needs::Nothing,
     Shown::CredentialsRedacted},
};

constexpr const char* kRedacted = "***";

/// Block settings are free-form; any member named like a credential is hidden, at any depth.
Json redactCredentials(const Json& value) {
  static const std::regex kCredentialName("pass|secret|token|credential|private_?key|api_?key",
                                          std::regex::icase);
  if (value.is_array()) {
    Json out = Json::array();
    for (const Json& item : value) out.push_back(redactCredentials(item));
    return out;
  }
  if (!value.is_object()) return value;
  Json out = Json::object();
  for (const auto& [name, member] : value.items())
    out[name] =
        std::regex_search(name, kCredentialName) ? Json(kRedacted) : redactCredentials(member);
  return out;
}

Json shown(const ConfigKey& key, const HostConfig& config) {
  const Json value = key.value(config);
  switch (key.shown) {
    case Shown::StorageUrl:
      return redactStorageUrl(value.get<std::string>()).display;
    case Shown::CredentialsRedacted:
      return redactCredentials(value);
    case Shown::AsIs:
      break;
  }
  return value;
}

/// The nearest existing directory at or above `path` (for "can it be created?").
fs::path nearestExisting(fs::path path) {
  std::error_code ec;
  path = fs::absolute(path, ec);
  while (!path.empty() && !fs::exists(path, ec) && path != path.parent_path())
    path = path.parent_path();
  return path;
}

std::string quoted(const std::string& text) { return "\"" + text + "\""; }

void checkDirectory(const std::string& key, const std::string& dir,
                    std::vector<std::string>& problems) {
  std::error_code ec;
  if (!fs::exists(dir, ec))
    problems.push_back(key + ": directory " + quoted(dir) + " does not exist");
  else if (!fs::is_directory(dir, ec))
    problems.push_back(key + ": " + quoted(dir) + " is not a directory");
  else if (::access(dir.c_str(), R_OK | X_OK) != 0)
    problems.push_back(key + ": directory " + quoted(dir) + " cannot be read by this user (" +
                       std::strerror(errno) + ")");
}

/// A directory the host writes to: it exists and is writable, or it can be created.
void checkWritableDirectory(const std::string& key, const fs::path& dir,
                            std::vector<std::string>& problems) {
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    if (!fs::is_directory(dir, ec))
      problems.push_back(key + ": " + quoted(dir.string()) + " is not a directory");
    else if (::access(dir.c_str(), W_OK | X_OK) != 0)
      problems.push_back(key + ": directory " + quoted(dir.string()) +
                         " is not writable by this user (" + std::strerror(errno) + ")");
    return;
  }
  const fs::path parent = nearestExisting(dir);
  if (!fs::is_directory(parent, ec) || ::access(parent.c_str(), W_OK | X_OK) != 0)
    problems.push_back(key + ": directory " + quoted(dir.string()) +
                       " does not exist and cannot be created in " + quoted(parent.string()));
}

void checkStorageUrl(const std::string& url, std::vector<std::string>& problems) {
  const std::string shown_url = quoted(redactStorageUrl(url).display);
  if (url == "memory:" || url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0)
    return;  // a PostgreSQL server is checked by connecting, which the host does at start-up
  if (url.rfind("sqlite:", 0) != 0) {
    problems.push_back("storage: " + shown_url +
                       " is not sqlite:<file>, memory: or postgresql://user:password@host/db");
    return;
  }
  const fs::path file = url.substr(std::string("sqlite:").size());
  if (file.empty()) {
    problems.push_back("storage: " + shown_url + " names no database file");
    return;
  }
  std::error_code ec;
  if (fs::exists(file, ec)) {
    if (::access(file.c_str(), R_OK | W_OK) != 0)
      problems.push_back("storage: database file " + quoted(file.string()) +
                         " is not readable and writable by this user (" + std::strerror(errno) +
                         ")");
    return;
  }
  checkWritableDirectory("storage", file.has_parent_path() ? file.parent_path() : fs::path("."),
                         problems);
}

void checkNeeds(const ConfigKey& key, const HostConfig& config,
                std::vector<std::string>& problems) {
  const Json value = key.value(config);
  switch (key.needs) {
    case Needs::Nothing:
      return;
    case Needs::ListenAddress:
      try {
        Poco::Net::SocketAddress address(value.get<std::string>());
      } catch (const Poco::Exception& e) {
        problems.push_back(std::string(key.name) + ": " + quoted(value.get<std::string>()) +
                           " is not HOST:PORT (" + e.displayText() + ")");
      }
      return;
    case Needs::Directory:
      checkDirectory(key.name, value.get<std::string>(), problems);
      return;
    case Needs::OptionalDirectory:
      if (!value.get<std::string>().empty())
        checkDirectory(key.name, value.get<std::string>(), problems);
      return;
    case Needs::DataDirectory:
      checkWritableDirectory(key.name, value.get<std::string>(), problems);
      return;
    case Needs::KeysFile:
      if (value.get<std::string>().empty()) return;
      try {
        ApiKeys::fromFile(value.get<std::string>());
      } catch (const std::exception& e) {
        problems.push_back(std::string(key.name) + ": " + e.what());
      }
      return;
    case Needs::StorageUrl:
      checkStorageUrl(value.get<std::string>(), problems);
      return;
  }
}

std::string effectiveConfigFile(const ConfigSources& sources) {
  if (!sources.file.empty()) return sources.file;
  auto it = sources.environment.find("BLUEPRINT_CONFIG");
  return it == sources.environment.end() ? std::string() : it->second;
}

/// The file's problems, key by key, and its good keys applied to `effective`. A key is tried
/// alone first; one that fails alone is tried again together with every key that passed alone,
/// since some checks join keys (min_threads <= threads) and the file may fix one with another.
void checkFileKeys(const Json& file_json, const std::string& file, HostConfig& effective,
                   std::vector<std::string>& problems) {
  Json fine_alone = Json::object();
  std::vector<std::pair<std::string, std::string>> failed_alone;
  for (const auto& [key, value] : file_json.items()) {
    try {
      HostConfig scratch;
      scratch.applyJson(Json{{key, value}}, file);
      fine_alone[key] = value;
    } catch (const std::exception& e) {
      failed_alone.emplace_back(key, e.what());
    }
  }
  try {
    HostConfig together;
    together.applyJson(fine_alone, file);
  } catch (const std::exception& e) {
    problems.push_back(e.what());
  }
  for (const auto& [key, message] : failed_alone) {
    Json with_the_rest = fine_alone;
    with_the_rest[key] = file_json[key];
    try {
      HostConfig together;
      together.applyJson(with_the_rest, file);
      fine_alone[key] = file_json[key];
    } catch (const std::exception&) {
      problems.push_back(message);
    }
  }
  // applyJson assigns before it validates, so a key's value stays even where a joint check threw.
  for (const auto& [key, value] : fine_alone.items()) {
    try {
      effective.applyJson(Json{{key, value}}, file);
    } catch (const std::exception&) {
    }
  }
}

}  // namespace

HostConfig loadConfig(const ConfigSources& sources) {
  HostConfig config;
  const std::string file = effectiveConfigFile(sources);
  if (!file.empty()) config.applyFile(file);
  config.applyEnvironment(sources.environment);
  for (const auto& [name, value] : sources.flags) config.applyFlag(name, value);
  return config;
}

nlohmann::ordered_json printableConfig(const HostConfig& config) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (const ConfigKey& key : kKeys) out[key.name] = shown(key, config);
  // Keys HostConfig gained after this table was written still show (toJson omits secrets).
  const Json own_keys = config.toJson();
  for (const auto& [name, value] : own_keys.items())
    if (!out.contains(name)) out[name] = value;
  return out;
}

std::vector<std::string> checkConfig(const ConfigSources& sources) {
  std::vector<std::string> problems;
  HostConfig effective;
  const std::string file = effectiveConfigFile(sources);
  if (!file.empty()) {
    std::ifstream in(file);
    if (!in) {
      problems.push_back("config file " + quoted(file) + " cannot be read (" +
                         std::strerror(errno) + ")");
    } else {
      const Json file_json = Json::parse(in, nullptr, false);
      if (file_json.is_discarded())
        problems.push_back("config file " + quoted(file) + " is not valid JSON");
      else if (!file_json.is_object())
        problems.push_back(file + ": the configuration must be a JSON object");
      else
        checkFileKeys(file_json, file, effective, problems);
    }
  }
  for (const auto& variable : sources.environment) {
    if (variable.first == "BLUEPRINT_CONFIG") continue;
    try {
      HostConfig scratch;
      scratch.applyEnvironment({variable});
      effective.applyEnvironment({variable});
    } catch (const std::exception& e) {
      problems.push_back(variable.first + ": " + e.what());
    }
  }
  for (const auto& [name, value] : sources.flags) {
    try {
      HostConfig scratch;
      scratch.applyFlag(name, value);
      effective.applyFlag(name, value);
    } catch (const std::exception& e) {
      problems.push_back("--" + name + ": " + e.what());
    }
  }
  // Whatever stops the start-up also fails the check, even if no rule above named it.
  if (problems.empty()) {
    try {
      loadConfig(sources);
    } catch (const std::exception& e) {
      problems.push_back(e.what());
    }
  }
  for (const ConfigKey& key : kKeys) checkNeeds(key, effective, problems);
  return problems;
}

int runConfigAction(const std::string& action, const ConfigSources& sources) {
  if (action == "print") {
    try {
      std::cout << printableConfig(loadConfig(sources)).dump(2) << "\n";
      return Poco::Util::Application::EXIT_OK;
    } catch (const std::exception& e) {
      std::cerr << "blueprint-host: configuration error: " << e.what()
                << " (--check-config lists every problem)\n";
      return Poco::Util::Application::EXIT_CONFIG;
    }
  }
  const std::vector<std::string> problems = checkConfig(sources);
  const std::string file = effectiveConfigFile(sources);
  const std::string what = file.empty() ? "the configuration" : quoted(file);
  if (problems.empty()) {
    std::cout << "blueprint-host: " << what << " is fine\n";
    return Poco::Util::Application::EXIT_OK;
  }
  for (const std::string& problem : problems) std::cerr << "blueprint-host: " << problem << "\n";
  std::cerr << "blueprint-host: " << problems.size() << " problem"
            << (problems.size() == 1 ? "" : "s") << " in " << what << "\n";
  return Poco::Util::Application::EXIT_CONFIG;
}

}  // namespace blueprint::host
