// SPDX-License-Identifier: Apache-2.0
// runner.hpp: the one engine (DESIGN §3, §9). Runs a compiled blueprint from its trigger:
// schedules ready blocks (concurrently when independent), renders their fields, calls them
// through the C ABI, routes by end state, and ends at the first Return Value, an unhandled error,
// a limit, or cancellation. The HTTP trigger handler and the job worker both call Runner::run;
// Runner::start is the same run without a waiting thread (issue 12): its blocks run on the
// engine's pools (engine_threads.hpp), and a deferred block (ABI 1.3) holds no thread at all.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "engine/compiled_blueprint.hpp"
#include "engine/run_limits.hpp"
#include "engine/run_trace.hpp"
#include "storage/storage.hpp"

namespace blueprint::host {

class CappedHistograms;

/// Receives what a run streams. Calls may come from several block threads at once.
class RunObserver {
 public:
  virtual ~RunObserver() = default;
  /// A block emitted `text` (one SSE `{"delta": text}` event).
  virtual void onDelta(std::string_view text) = 0;
  /// The run is about to wait (a block that may block, a sleep): buffered events should be
  /// written now.
  virtual void onWait() {}
};

/// Cancels a run from outside (the cancel endpoint, a lost lease, shutdown). Thread-safe.
class RunControl {
 public:
  /// Requests cancellation; the run stops at the next block boundary or cancellable wait, and
  /// its pending block calls are told (their on_cancel) before cancel() returns.
  void cancel();
  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }
  /// Wakes sleepers so they re-check their stop conditions.
  void wake();
  /// Waits until `deadline` or a wake(); returns when either happens.
  void waitUntil(std::chrono::steady_clock::time_point deadline);
  /// What cancel() calls after setting the flag (the engine's: tell pending calls); empty
  /// clears it. Set by the engine while a run is in progress.
  void onCancel(std::function<void()> hook);

 private:
  std::mutex hook_mutex_;
  std::function<void()> hook_;
  std::atomic<bool> cancelled_{false};
  std::mutex mutex_;
  std::condition_variable cv_;
  std::uint64_t wakes_ = 0;
};

/// How a run ended.
struct RunResult {
  enum class Status { Completed, Error, Cancelled };
  Status status = Status::Completed;
  /// The Return Value, if one fired.
  std::optional<Json> return_value;
  /// "<block id>: <message>" for errors.
  std::string error;
  /// [{"block","type","end_state","start_us","duration_us","error"?,"logs"?}…]; empty when the run
  /// was started with RunOptions::defer_trace.
  Json trace = Json::array();
  /// With RunOptions::defer_trace: the trace not yet turned into JSON (RunTrace::toJson());
  /// self-contained (it does not pin the compiled agent or its plugins).
  std::shared_ptr<RunTrace> deferred_trace;
};

/// Everything a run needs besides the blueprint.
struct RunOptions {
  RunLimits limits;
  /// Names `@{$NAME}` may read; others resolve to null.
  const std::set<std::string>* env_allow = nullptr;
  /// Backs the kv_* host services (kv_storage), namespaced per agent; null: no key-value store.
  Storage* storage = nullptr;
  /// Operator settings per block type (`block_settings` in the host config): type → object.
  const Json* block_settings = nullptr;
  /// Leave the trace in RunResult::deferred_trace instead of building its JSON: for callers
  /// that rarely show it (a sync run's trace is read only if its job is fetched).
  bool defer_trace = false;
  /// Where each block call's duration is observed, by block type (blueprint_block_duration_
  /// seconds); null: not observed.
  CappedHistograms* block_durations = nullptr;
  /// The job this run is (every run is one, DESIGN §2): the `job_id` of the host log lines its
  /// blocks write (log_message, bp_host_api.log). Must outlive the run; empty: none.
  std::string_view job_id;
};

class Runner {
 public:
  /// Runs `blueprint` of `agent` with `payload` as the request body. Starts at the trigger (or
  /// at every root block when the blueprint has none). Never throws for block failures.
  static RunResult run(const CompiledAgent& agent, const CompiledBlueprint& blueprint,
                       const Json& payload, const RunOptions& options, RunObserver& observer,
                       RunControl& control);
  /// The same with a payload the run shares instead of copying (the trigger's request body).
  /// The calling thread drives the run: it runs ready blocks itself and waits for pending ones.
  static RunResult run(const CompiledAgent& agent, const CompiledBlueprint& blueprint,
                       std::shared_ptr<const Json> payload, const RunOptions& options,
                       RunObserver& observer, RunControl& control);

  /// Called once with a started run's result.
  using Completion = std::function<void(RunResult)>;
  /// Starts the run and returns without waiting for it. Blocks the manifest declares instant
  /// run on the calling thread until one that is not comes up; the rest runs on the engine's
  /// pools, and deferred blocks hold no thread. `on_done` is called exactly once, on an engine
  /// thread (a run worker): keep it short or hand the work on. `agent` (and with it
  /// `blueprint`), `options`, `observer` and `control` must stay alive until `on_done` has
  /// returned; an `agent` owned by a shared_ptr (CompiledAgent::compile) is also kept alive by
  /// the run's pending calls, which may outlive it (block_abi.h, bp_pending).
  /// With `inline_completion`, a run that ends inside start() (every block instant) calls
  /// `on_done` on the calling thread before start() returns, saving a hand-off.
  static void start(const CompiledAgent& agent, const CompiledBlueprint& blueprint,
                    std::shared_ptr<const Json> payload, const RunOptions& options,
                    RunObserver& observer, RunControl& control, Completion on_done,
                    bool inline_completion = false);
};

}  // namespace blueprint::host
