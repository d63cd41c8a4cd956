// SPDX-License-Identifier: Apache-2.0
// block_harness.hpp: runs blueprints through the real engine (CompiledAgent + Runner) and the
// real core_blocks.so the build produced, for the per-block tests in tests/plugins/ (the
// `api_trigger → block → return_value` runs of DESIGN §8). Start with BlockRun::run().
#pragma once

#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "engine/runner.hpp"
#include "plugins/catalog.hpp"

namespace blueprint::host::block_tests {

/// core_blocks.so, copied into a temp plugin dir and loaded once per test binary.
std::shared_ptr<const Catalog> coreCatalog();

/// Collects the deltas a run streams.
class DeltaRecorder final : public RunObserver {
 public:
  void onDelta(std::string_view text) override;
  std::vector<std::string> deltas();

 private:
  std::mutex mutex_;
  std::vector<std::string> deltas_;
};

/// One run's settings; run() compiles the agent against coreCatalog() and runs it.
struct BlockRun {
  RunLimits limits;
  /// Backs kv_storage; null: the run has no key-value store.
  Storage* storage = nullptr;
  /// Names `@{$NAME}` may read.
  std::set<std::string> env_allow;
  RunControl control;
  DeltaRecorder observer;
  std::string agent_id = "block_test";

  /// Runs blueprint `main` made of `blocks` with `payload` as the request body.
  RunResult run(const Json& blocks, const Json& payload = Json{{"inputs", Json::object()}});
  /// Runs blueprint `blueprint_id` of an agent holding `blueprints` (a list of {id, blocks}).
  RunResult runAgent(const Json& blueprints, const std::string& blueprint_id, const Json& payload);
};

/// `{"inputs": inputs}`, the body of an API call.
Json inputs(const Json& inputs);

/// Status, error, return value and trace on one line, for failure messages.
std::string describe(const RunResult& r);

/// The trace entries of `block_id`, in the order they finished.
std::vector<Json> traceOf(const RunResult& r, const std::string& block_id);

}  // namespace blueprint::host::block_tests
