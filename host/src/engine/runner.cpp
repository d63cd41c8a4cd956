// SPDX-License-Identifier: Apache-2.0
#include "engine/runner.hpp"

#include <blueprint/json_limits.hpp>

#include <thread>

#include "engine/engine_threads.hpp"
#include "engine/run_context.hpp"

namespace blueprint::host {

void RunControl::cancel() {
  cancelled_.store(true, std::memory_order_release);
  wake();
  std::function<void()> hook;
  {
    std::lock_guard<std::mutex> lock(hook_mutex_);
    hook = hook_;
  }
  if (hook) hook();
}

void RunControl::onCancel(std::function<void()> hook) {
  std::lock_guard<std::mutex> lock(hook_mutex_);
  hook_ = std::move(hook);
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

namespace {

/// A run in progress: what run() and start() share.
struct StartedRun {
  std::shared_ptr<RunShared> shared;
  std::shared_ptr<Execution> top;
};

StartedRun prepare(const CompiledAgent& agent, const CompiledBlueprint& blueprint,
                   std::shared_ptr<const Json> payload, const RunOptions& options,
                   RunObserver& observer, RunControl& control) {
  StartedRun started;
  started.shared = std::make_shared<RunShared>(agent, options, observer, control);
  // Pending calls may outlive the caller's reference (block_abi.h, bp_pending): pin the agent
  // when it is shared-owned (CompiledAgent::compile always makes it so).
  started.shared->agent_pin = agent.weak_from_this().lock();
  const Subgraph& graph = blueprint.trigger >= 0 ? blueprint.api_graph : blueprint.whole_graph;
  started.top = std::make_shared<Execution>(started.shared, blueprint, graph, nullptr, false,
                                            payload, Json::object(), payload, 0);
  // A cancel reaches the run's pending calls (their on_cancel) right away, not at the next
  // block boundary: they have none until they complete.
  std::weak_ptr<RunShared> weak = started.shared;
  control.onCancel([weak] {
    if (auto run = weak.lock()) run->wakeAll();
  });
  return started;
}

RunResult resultOf(RunShared& shared, ExecutionResult er) {
  shared.control.onCancel(nullptr);
  shared.disarmDeadline();
  RunResult result;
  if (shared.options.defer_trace) {
    shared.trace->detach();
    result.deferred_trace = shared.trace;
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
      } else if (shared.timedOut() && !shared.control.cancelled()) {
        result.status = RunResult::Status::Error;
        result.error = "run exceeded its timeout of " +
                       std::to_string(shared.options.limits.timeout_ms) + " ms";
      } else {
        result.status = RunResult::Status::Cancelled;
        result.error = "the run was cancelled";
      }
      break;
    }
  }
  // The run's message goes into events and the stored job as JSON text: UTF-8 from here on.
  makeValidUtf8(result.error);
  return result;
}

/// A run that failed outside its blocks: its control stops calling into it and its deadline
/// timer goes. Never throws.
void detach(const std::shared_ptr<RunShared>& shared) noexcept {
  if (!shared) return;
  try {
    shared->control.onCancel(nullptr);
    shared->disarmDeadline();
  } catch (...) {
  }
}

RunResult failedRun(const std::string& message) {
  RunResult result;
  result.status = RunResult::Status::Error;
  result.error = message;
  makeValidUtf8(result.error);
  return result;
}

}  // namespace

RunResult Runner::run(const CompiledAgent& agent, const CompiledBlueprint& blueprint,
                      std::shared_ptr<const Json> payload, const RunOptions& options,
                      RunObserver& observer, RunControl& control) {
  // Never throws: its callers (a connection thread, a job worker) must end every run with an
  // error event and [DONE], whatever failed inside (issue 11, H2).
  std::shared_ptr<RunShared> shared;
  try {
    StartedRun started = prepare(agent, blueprint, std::move(payload), options, observer, control);
    shared = started.shared;
    ExecutionResult er = started.top->execute();
    started.top.reset();
    return resultOf(*shared, std::move(er));
  } catch (const std::exception& e) {
    detach(shared);
    return failedRun(std::string("the run failed: ") + e.what());
  } catch (...) {
    detach(shared);
    return failedRun("the run failed with an unknown exception");
  }
}

void Runner::start(const CompiledAgent& agent, const CompiledBlueprint& blueprint,
                   std::shared_ptr<const Json> payload, const RunOptions& options,
                   RunObserver& observer, RunControl& control, Completion on_done,
                   bool inline_completion) {
  auto callback = std::make_shared<Completion>(std::move(on_done));
  // Set while start() is on the stack: a run that ends inside it may complete inline.
  auto starting = std::make_shared<std::atomic<std::thread::id>>(std::this_thread::get_id());
  auto deliver = [callback, starting, inline_completion](RunResult result) {
    if (inline_completion && starting->load() == std::this_thread::get_id()) {
      (*callback)(std::move(result));
      return;
    }
    auto shared_result = std::make_shared<RunResult>(std::move(result));
    EngineThreads::get().workers().post(
        [callback, shared_result] { (*callback)(std::move(*shared_result)); });
  };
  std::shared_ptr<RunShared> shared;
  try {
    StartedRun started = prepare(agent, blueprint, std::move(payload), options, observer, control);
    shared = started.shared;
    started.top->start([shared, deliver](ExecutionResult er) {
      RunResult result;
      try {
        result = resultOf(*shared, std::move(er));
      } catch (const std::exception& e) {
        result = failedRun(std::string("the run failed: ") + e.what());
      }
      deliver(std::move(result));
    });
  } catch (const std::exception& e) {
    detach(shared);
    deliver(failedRun(std::string("the run failed: ") + e.what()));
  } catch (...) {
    detach(shared);
    deliver(failedRun("the run failed with an unknown exception"));
  }
  starting->store(std::thread::id());
}

}  // namespace blueprint::host
