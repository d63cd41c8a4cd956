// SPDX-License-Identifier: Apache-2.0
// Fuzzes agent definitions the way an admin PUT or deploy takes them: any bytes as JSON, then
// parseAgent + validateAgent against the real core_blocks catalogue (loaded through the host's
// PluginManager, private copy and all), then CompiledAgent::compile (templates, subgraphs, each
// block's create()). Only DefinitionError may leave; a crash, a sanitizer report or another
// exception is a finding. JSON deeper than the host accepts is skipped: bounding depth where
// JSON enters is the request parser's job, fuzzed on its own.
#include <stdlib.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

#include "blueprint/blueprint_validator.hpp"
#include "engine/compiled_blueprint.hpp"
#include "plugins/plugin_manager.hpp"

namespace {

namespace fs = std::filesystem;
using blueprint::host::Catalog;
using blueprint::host::CompiledAgent;
using blueprint::host::DefinitionError;
using blueprint::host::Json;

constexpr int kMaxDepth = 64;

/// core_blocks.so loaded once, from a temp plugin directory removed at exit.
class CoreCatalog {
 public:
  CoreCatalog() {
    std::string pattern = (fs::temp_directory_path() / "bp_blueprint_fuzzer_XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    root_ = pattern;
    fs::create_directories(root_ / "plugins");
    fs::copy_file(fs::path(BLUEPRINT_PLUGIN_DIR) / "core_blocks.so",
                  root_ / "plugins/core_blocks.so");
    blueprint::host::PluginManager manager(root_ / "plugins", root_ / "cache");
    manager.reload();
    catalog_ = manager.current();
    if (catalog_->types().empty()) throw std::runtime_error("core_blocks.so did not load");
  }
  ~CoreCatalog() {
    catalog_.reset();
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  const std::shared_ptr<const Catalog>& catalog() const { return catalog_; }

 private:
  fs::path root_;
  std::shared_ptr<const Catalog> catalog_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const CoreCatalog core;
  bool too_deep = false;
  Json definition = Json::parse(
      data, data + size,
      [&](int depth, Json::parse_event_t, Json&) {
        too_deep = too_deep || depth > kMaxDepth;
        return !too_deep;
      },
      false);
  if (definition.is_discarded() || too_deep) return 0;
  try {
    (void)CompiledAgent::compile("fuzz", 1, definition, core.catalog());
  } catch (const DefinitionError& e) {
    (void)e.issues().size();
  }
  return 0;
}
