// SPDX-License-Identifier: Apache-2.0
#include "block_harness.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "support/loaded_plugins.hpp"

namespace blueprint::host::block_tests {

namespace {

namespace fs = std::filesystem;

/// core_blocks.so, loaded as the host loads plugins, before the first test.
testing::LoadedPlugins* const kPlugins =
    testing::LoadedPlugins::add({fs::path(BLUEPRINT_PLUGIN_DIR) / "core_blocks.so"});

const char* statusName(RunResult::Status s) {
  switch (s) {
    case RunResult::Status::Completed:
      return "completed";
    case RunResult::Status::Error:
      return "error";
    case RunResult::Status::Cancelled:
      return "cancelled";
  }
  return "?";
}

}  // namespace

std::shared_ptr<const Catalog> coreCatalog() { return kPlugins->catalog(); }

void DeltaRecorder::onDelta(std::string_view text) {
  std::lock_guard<std::mutex> lock(mutex_);
  deltas_.emplace_back(text);
}

std::vector<std::string> DeltaRecorder::deltas() {
  std::lock_guard<std::mutex> lock(mutex_);
  return deltas_;
}

RunResult BlockRun::run(const Json& blocks, const Json& payload) {
  return runAgent(Json::array({{{"id", "main"}, {"blocks", blocks}}}), "main", payload);
}

RunResult BlockRun::runAgent(const Json& blueprints, const std::string& blueprint_id,
                             const Json& payload) {
  const Json agent = {{"name", agent_id}, {"blueprints", blueprints}};
  auto compiled = CompiledAgent::compile(agent_id, 1, agent, coreCatalog());
  const CompiledBlueprint* blueprint = compiled->find(blueprint_id);
  if (blueprint == nullptr) throw std::runtime_error("no blueprint '" + blueprint_id + "'");
  RunOptions options;
  options.limits = limits;
  options.storage = storage;
  options.env_allow = &env_allow;
  return Runner::run(*compiled, *blueprint, payload, options, observer, control);
}

Json inputs(const Json& inputs) { return {{"inputs", inputs}}; }

std::string describe(const RunResult& r) {
  return std::string(statusName(r.status)) + " error='" + r.error +
         "' return=" + (r.return_value ? r.return_value->dump() : "none") +
         " trace=" + r.trace.dump();
}

std::vector<Json> traceOf(const RunResult& r, const std::string& block_id) {
  std::vector<Json> entries;
  for (const Json& e : r.trace)
    if (e.value("block", "") == block_id) entries.push_back(e);
  return entries;
}

}  // namespace blueprint::host::block_tests
