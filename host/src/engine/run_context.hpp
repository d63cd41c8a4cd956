// SPDX-License-Identifier: Apache-2.0
// run_context.hpp: the engine's internals. RunShared is what one top-level run shares across its
// sub-runs and branches (limits, state, trace, cancellation, pending calls); Execution schedules
// one subgraph (the API graph, a loop branch, or a sub-blueprint) as state on the engine's pools
// (engine_threads.hpp); BlockCall is one block execution, the ctx behind bp_host_api;
// PendingCall (pending_call.hpp) one deferred block call.
#pragma once

#include <blueprint/block_abi.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/run_trace.hpp"
#include "engine/runner.hpp"
#include "engine/timer_service.hpp"
#include "engine/worker_pool.hpp"

namespace blueprint::host {

class Execution;
class PendingCall;

/// State of one top-level run, shared by everything it starts. Owned by shared_ptr: executions
/// and the run's deadline timer hold it.
struct RunShared : std::enable_shared_from_this<RunShared> {
  const CompiledAgent& agent;
  const RunOptions& options;
  RunObserver& observer;
  RunControl& control;
  /// When the top-level run started: the origin of every trace entry's start_us.
  std::chrono::steady_clock::time_point started_at;
  std::chrono::steady_clock::time_point deadline;
  std::atomic<std::int64_t> steps{0};
  std::atomic<std::size_t> delta_bytes{0};

  std::mutex state_mutex;
  Json state = Json::object();

  /// Shared so a finished run can hand its trace on without building its JSON (RunResult).
  std::shared_ptr<RunTrace> trace = std::make_shared<RunTrace>();

  /// Pins the compiled agent (and through it the block instances and plugin libraries) while a
  /// pending call may outlive the caller's reference; null when the agent is not shared-owned.
  std::shared_ptr<const CompiledAgent> agent_pin;

  /// Set once the run's own limit (timeout, steps) ended it; names the limit.
  std::mutex limit_mutex;
  std::string limit_error;
  std::atomic<bool> limit_hit{false};

  RunShared(const CompiledAgent& a, const RunOptions& o, RunObserver& obs, RunControl& c);
  bool timedOut() const { return std::chrono::steady_clock::now() >= deadline; }
  void setLimitError(const std::string& message);
  std::string limitError();

  /// Wakes sleeping blocks and tells pending calls whose execution stopped (cancel, timeout,
  /// a Return Value or an error elsewhere). Call without holding an execution's lock.
  void wakeAll();
  /// A block of this run deferred: from now on a cancel or the run's deadline reaches it.
  void addPending(const std::shared_ptr<PendingCall>& call);
  /// The call completed or was abandoned.
  void removePending(const PendingCall* call);
  /// Drops the deadline timer (the run ended).
  void disarmDeadline();

 private:
  std::mutex pending_mutex_;
  std::vector<std::shared_ptr<PendingCall>> pending_;
  TimerService::TimerId deadline_timer_ = 0;
};

/// The outcome of one block execution.
struct BlockOutcome {
  /// Deferred: run() deferred and the outcome comes later (PendingCall).
  enum class Kind { Done, Failed, Cancelled, Deferred };
  Kind kind = Kind::Done;
  std::string end_state;
  Json output;
  std::string message;
};

/// What an Execution ended with.
struct ExecutionResult {
  enum class Status { Finished, Failed, Cancelled };
  Status status = Status::Finished;
  std::optional<Json> return_value;
  std::string error;
};

/// Schedules one subgraph of a blueprint (DESIGN §3 scheduling rules). Owned by shared_ptr:
/// tasks on the pools and pending calls hold it.
class Execution : public std::enable_shared_from_this<Execution> {
 public:
  /// `parent` is the execution whose block started this one (nullptr for the top level);
  /// `inherit_results` makes `results.<id>` of the parent visible (loop branches).
  Execution(std::shared_ptr<RunShared> run, const CompiledBlueprint& blueprint,
            const Subgraph& graph, Execution* parent, bool inherit_results,
            std::shared_ptr<const Json> payload, Json scope_vars,
            std::shared_ptr<const Json> entry_result, int depth);

  /// Runs to the end with the calling thread driving: it runs ready blocks itself (those it may:
  /// a run worker leaves blocks that may block to the blocking pool), hands extra ready blocks
  /// to the pools, and waits for pending ones. Used by Runner::run and the nested host services.
  ExecutionResult execute();
  /// Starts without waiting: blocks the manifest declares instant run on the calling thread
  /// until one that is not comes up; the rest runs on the pools. `on_done` is called once, on
  /// whichever thread ends the execution, without locks held.
  void start(std::function<void(ExecutionResult)> on_done);

  /// A deferred call of member `local` completed (`outcome`, traced from `started` with
  /// `logs`), or was abandoned (a Cancelled outcome). Called once per deferred call.
  void deliverPending(std::uint32_t local, BlockOutcome outcome,
                      std::chrono::steady_clock::time_point started, std::vector<Json> logs);
  /// Turns a deferred call's result into its outcome (the same checks as a synchronous one).
  BlockOutcome outcomeOf(std::size_t b, bp_status status, std::string& output_text,
                         Json native_output, std::string error_text, std::string end_state);
  /// A block of this execution deferred: it counts as in flight until deliverPending.
  void notePending();

  /// True when this execution or an ancestor was stopped, the run cancelled or timed out.
  bool stopRequested() const;
  /// Sleeps up to `ms`; false when cut short by a stop.
  bool sleepFor(std::uint64_t ms);

  RunShared& run() { return run_; }
  const std::shared_ptr<RunShared>& runOwner() const { return run_owner_; }
  const CompiledBlueprint& blueprint() const { return blueprint_; }
  int depth() const { return depth_; }
  const std::shared_ptr<const Json>& payload() const { return payload_; }

  /// Environment lookups for blueprint block `b` (templates and env_get). Null when absent.
  Json lookup(std::size_t b, const Path& path) const;
  /// lookup() serialised to JSON text for a block; false when the path resolves to null.
  /// Payload and state values are serialised in place rather than copied first.
  bool lookupText(std::size_t b, const Path& path, std::string& out) const;
  /// lookup() for the member at local index `local` of this execution's subgraph.
  Json lookupLocal(std::uint32_t local, const Path& path) const;
  /// The run-scoped state at `path` (whole state for an empty path); nullopt when absent.
  std::optional<Json> stateGet(const Path& path) const;
  /// Sets state at a dot path, creating parents; false with `error` for an empty path.
  bool stateSet(const Path& path, Json value, std::string& error);

  /// The local index of blueprint block `b` in this execution's subgraph.
  std::uint32_t localOf(std::size_t b) const { return graph_.localOf(b); }

  /// Runs the branch of block `b` behind `end_state` with `scope` added to the environment.
  /// Each call is one step of the run (a loop iteration counts even when its body is empty).
  ExecutionResult runBranch(std::size_t b, const std::string& end_state, const Json& scope);
  /// Runs another blueprint of the same agent version with `payload`.
  ExecutionResult runBlueprint(const std::string& blueprint_id, const Json& payload);

 private:
  /// Which ready blocks a thread may take: only instant ones (the caller of start()), those
  /// that never block (a run worker), or all (a blocking-pool thread, any other thread).
  enum class Takes { Instant, NonBlocking, All };

  /// Seeds the entry blocks as ready; mutex_ held.
  void seedLocked();
  /// Runs ready blocks this thread may take until none is left (a pool task, or start()'s
  /// caller); ends the execution when it was the last thing in flight.
  void runReady(Takes takes);
  /// Pops a ready block `takes` allows into `local`; mutex_ held.
  bool popLocked(Takes takes, std::uint32_t& local);
  /// Runs member `local` and records its outcome; mutex_ held on entry and exit. Returns the
  /// pool tasks to post for ready blocks this thread will not take itself.
  void runOneLocked(std::unique_lock<std::mutex>& lock, std::uint32_t local, Takes takes);
  /// Posts pool tasks for blocks that became ready, keeping `keep_fast`/`keep_blocking` of them
  /// for the calling thread; mutex_ held (posting happens after unlocking, see flushPosts).
  void planPostsLocked(int keep_fast, int keep_blocking);
  /// Posts what planPostsLocked planned, sweeps pending calls when this execution stopped, and
  /// ends an execution without a driver when nothing is left in flight. Unlocks `lock`.
  void settle(std::unique_lock<std::mutex>& lock);
  /// Nothing is in flight and nothing will run any more.
  bool doneLocked() const;
  /// Whether member `local` runs on the run workers (instant or async) or the blocking pool.
  bool nonBlocking(std::uint32_t local) const;
  /// Finishes result_ for the caller once done (cancelled from outside, ...); mutex_ held.
  void finalizeResultLocked();
  /// The trace entry of one block call.
  void traceBlock(const CompiledBlock& block, const BlockOutcome& outcome,
                  std::chrono::steady_clock::time_point started, std::vector<Json> logs);
  /// One step of the run; false (and the run's limit error set, naming `block_id`) past max_steps.
  bool countStep(const std::string& block_id);
  /// `local`: index into graph_.blocks.
  BlockOutcome runBlock(std::uint32_t local);
  void complete(std::uint32_t local, BlockOutcome outcome);
  void markReadyOrSkip(std::uint32_t local);
  void stop();
  Json lookupResults(const Path& path) const;
  Json lookupScope(const Path& path) const;
  /// The message member `local` ended with, into `out`; false when none.
  bool messageOf(std::uint32_t local, Json& out) const;

  std::shared_ptr<RunShared> run_owner_;
  RunShared& run_;
  const CompiledBlueprint& blueprint_;
  const Subgraph& graph_;
  Execution* parent_;
  bool inherit_results_;
  std::shared_ptr<const Json> payload_;
  Json scope_vars_;
  std::shared_ptr<const Json> entry_result_;  ///< `result` of the entry blocks (never null)
  int depth_;

  mutable std::mutex mutex_;
  /// The driving thread of execute() waits here for ready blocks or the end.
  std::condition_variable driver_wake_;
  // Per member of graph_, by local index (sized to the subgraph, not the blueprint).
  std::vector<std::uint32_t> remaining_;
  std::vector<long> fired_from_;  ///< -1 none, -2 entry, else the predecessor whose edge fired
  std::vector<Json> outputs_;
  /// Messages of blocks that ended with one (few do): (local, message).
  std::vector<std::pair<std::uint32_t, std::string>> messages_;
  std::vector<char> done_;  ///< output final and visible as results.<id>
  /// Members ready to run, in the order they became ready; ready_[ready_head_] is next. Each
  /// becomes ready at most once per execution, so the lists never outgrow the subgraph. Blocks
  /// that never block and blocks that may block wait apart: different threads take them.
  std::vector<std::uint32_t> ready_;
  std::size_t ready_head_ = 0;
  std::vector<std::uint32_t> blocking_ready_;
  std::size_t blocking_ready_head_ = 0;
  /// Ready blocks no thread has been asked to take yet (planPostsLocked hands them out).
  int unplanned_fast_ = 0;
  int unplanned_blocking_ = 0;
  /// Pool tasks to post once mutex_ is released.
  int post_fast_ = 0;
  int post_blocking_ = 0;
  /// Blocks taken and not yet returned from run(), and deferred calls not yet delivered.
  int running_ = 0;
  int pending_ = 0;
  /// execute() is driving this execution (the driver takes what `driver_takes_` allows).
  bool has_driver_ = false;
  Takes driver_takes_ = Takes::All;
  bool finished_ = false;
  bool sweep_due_ = false;
  std::function<void(ExecutionResult)> on_done_;
  std::atomic<bool> stopped_{false};
  ExecutionResult result_;
};

/// One block execution: the ctx behind bp_host_api.
struct BlockCall {
  Execution* execution;
  std::size_t block;  ///< index into the blueprint's blocks
  std::vector<Json>* logs;
  /// When run() was called (the trace entry's start).
  std::chrono::steady_clock::time_point started{};
  /// Set by bp_host_api.defer (ABI 1.3).
  std::shared_ptr<PendingCall> pending;
};

/// bp_host_api.emit_delta and .log for `call`, shared with bp_pending (host_api.cpp).
void emitDeltaFor(BlockCall& call, const char* text, std::size_t size);
void logLineFor(BlockCall& call, std::int32_t level, const char* message, std::size_t size);

/// The host services table for a block call (host_api.cpp); `native` adds the services that
/// take native JSON (ABI 1.2), for blocks whose plugin shares the host's JSON layout.
bp_host_api makeHostApi(BlockCall* call, bool native);

}  // namespace blueprint::host
