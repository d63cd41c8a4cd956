// SPDX-License-Identifier: Apache-2.0
#include "support/loaded_plugins.hpp"

#include <stdlib.h>

#include <string>
#include <system_error>

#include "plugins/plugin_manager.hpp"

namespace blueprint::testing {

namespace fs = std::filesystem;

LoadedPlugins* LoadedPlugins::add(std::vector<fs::path> plugins) {
  auto* environment = new LoadedPlugins(std::move(plugins));
  ::testing::AddGlobalTestEnvironment(environment);
  return environment;
}

LoadedPlugins::LoadedPlugins(std::vector<fs::path> plugins) : plugins_(std::move(plugins)) {}

void LoadedPlugins::SetUp() {
  std::string pattern = (fs::temp_directory_path() / "bp_loaded_plugins_XXXXXX").string();
  ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
  root_ = pattern;
  fs::create_directories(root_ / "plugins");
  for (const fs::path& plugin : plugins_)
    fs::copy_file(plugin, root_ / "plugins" / plugin.filename());
  host::PluginManager manager(root_ / "plugins", root_ / "cache");
  host::ReloadReport report = manager.reload();
  ASSERT_TRUE(report.rejected.empty()) << report.toJson().dump();
  catalog_ = manager.current();
}

void LoadedPlugins::TearDown() {
  catalog_.reset();
  std::error_code ec;
  fs::remove_all(root_, ec);
}

}  // namespace blueprint::testing
