// SPDX-License-Identifier: Apache-2.0
// config_report.hpp: `blueprint-host --print-config` and `--check-config`. Both walk one table
// of configuration keys (config_report.cpp): the printer for each key's effective value (secrets
// redacted), the checker for what each key must name on this machine (an existing directory, a
// readable keys file, a storage URL it can open…). Whether a key exists and has the right type is
// left to HostConfig::applyJson itself, so the checker can never disagree with the host.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "app/host_config.hpp"

namespace blueprint::host {

/// Where a configuration comes from, weakest first (DESIGN §7).
struct ConfigSources {
  std::string file;                                        ///< --config, else BLUEPRINT_CONFIG
  std::map<std::string, std::string> environment;          ///< BLUEPRINT_* variables
  std::vector<std::pair<std::string, std::string>> flags;  ///< command-line flags, in order
};

/// Applies `sources` the way the host starts: file, environment, flags. Throws
/// std::runtime_error at the first problem.
HostConfig loadConfig(const ConfigSources& sources);

/// Every key of `config` with its effective value, in a form the host reads back as a config
/// file; secrets (a storage URL's password, block settings named like credentials) redacted.
nlohmann::ordered_json printableConfig(const HostConfig& config);

/// Every problem of the configuration `sources` make, each a sentence naming the source and the
/// key: unreadable or malformed files, unknown keys, wrong types, bad values, missing or
/// unusable directories, an unreadable or malformed keys file. Empty when the host would start.
std::vector<std::string> checkConfig(const ConfigSources& sources);

/// `--print-config` (`action` "print") or `--check-config` ("check"): writes the report to
/// stdout (problems to stderr) and returns the process exit code.
int runConfigAction(const std::string& action, const ConfigSources& sources);

}  // namespace blueprint::host
