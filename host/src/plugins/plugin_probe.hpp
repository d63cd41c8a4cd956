// SPDX-License-Identifier: Apache-2.0
// plugin_probe.hpp: the first load of a new plugin build in a child process (`--probe-plugins`).
// A library that crashes or throws in a static initialiser runs inside dlopen, before any check
// can catch it; in a child it takes down only the child, and the host rejects the build.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>

namespace blueprint::host {

/// Runs `probe_command probe <file>` (the `blueprint` CLI) and waits up to `timeout`.
/// Returns empty when the child loaded the plugin and exited 0; else why it did not.
std::string probePluginInChild(const std::filesystem::path& probe_command,
                               const std::filesystem::path& file,
                               std::chrono::milliseconds timeout);

}  // namespace blueprint::host
