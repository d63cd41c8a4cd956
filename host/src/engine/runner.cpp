// SPDX-License-Identifier: Apache-2.0
#include "engine/runner.hpp"

#include <blueprint/json_limits.hpp>

#include "engine/run_context.hpp"

namespace blueprint::host {

void RunControl::cancel() {
  cancelled_.store(true, std::memory_order_release);
  wake();
}

void RunControl::wake() {
  std::lock_guard<std::mutex> lock(mutex_);
  ++wakes_;
  cv_.notify_all();
}

void RunControl::waitUntil(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(mutex_);
  const std::uint64_t seen = wakes_;
  cv_.wait_until(lock, deadline, [&] { return wakes_ != seen; });
}

RunResult Runner::run(const CompiledAgent& agent, const CompiledBlueprint& blueprint,
                      const Json& payload, const RunOptions& options, RunObserver& observer,
                      RunControl& control) {
  return run(agent, blueprint, std::make_shared<const Json>(payload), options, observer, control);
}

RunResult Runner::run(const CompiledAgent& agent, const CompiledBlueprint& blueprint,
                      std::shared_ptr<const Json> payload, const RunOptions& options,
                      RunObserver& observer, RunControl& control) {
  // Never throws: its callers (a connection thread, a job worker) must end every run with an
  // error event and [DONE], whatever failed inside (issue 11, H2).
  RunResult result;
  try {
    result = runUnguarded(agent, blueprint, std::move(payload), options, observer, control);
  } catch (const std::exception& e) {
    result = RunResult();
    result.status = RunResult::Status::Error;
    result.error = std::string("the run failed: ") + e.what();
  } catch (...) {
    result = RunResult();
    result.status = RunResult::Status::Error;
    result.error = "the run failed with an unknown exception";
  }
  // The run's message goes into events and the stored job as JSON text: UTF-8 from here on.
  makeValidUtf8(result.error);
  return result;
}

RunResult Runner::runUnguarded(const CompiledAgent& agent, const CompiledBlueprint& blueprint,
                               std::shared_ptr<const Json> payload, const RunOptions& options,
                               RunObserver& observer, RunControl& control) {
  RunShared shared(agent, options, observer, control);
  const Subgraph& graph = blueprint.trigger >= 0 ? blueprint.api_graph : blueprint.whole_graph;
  ExecutionResult er;
  {
    Execution top(shared, blueprint, graph, nullptr, false, payload, Json::object(), payload, 0);
    er = top.execute();
  }
  RunResult result;
  if (options.defer_trace) {
    shared.trace->detach();
    result.deferred_trace = std::move(shared.trace);
  } else
    result.trace = shared.trace->toJson();
  switch (er.status) {
    case ExecutionResult::Status::Finished:
      result.status = RunResult::Status::Completed;
      result.return_value = std::move(er.return_value);
      break;
    case ExecutionResult::Status::Failed:
      result.status = RunResult::Status::Error;
      result.error = std::move(er.error);
      break;
    case ExecutionResult::Status::Cancelled: {
      std::string limit = shared.limitError();
      if (!limit.empty()) {
        result.status = RunResult::Status::Error;
        result.error = std::move(limit);
      } else if (shared.timedOut() && !control.cancelled()) {
        result.status = RunResult::Status::Error;
        result.error =
            "run exceeded its timeout of " + std::to_string(options.limits.timeout_ms) + " ms";
      } else {
        result.status = RunResult::Status::Cancelled;
        result.error = "the run was cancelled";
      }
      break;
    }
  }
  return result;
}

}  // namespace blueprint::host
