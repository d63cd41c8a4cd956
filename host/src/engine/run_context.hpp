// SPDX-License-Identifier: Apache-2.0
// run_context.hpp: the engine's internals. RunShared is what one top-level run shares across its
// sub-runs and branches (limits, state, trace, cancellation); Execution schedules one subgraph
// (the API graph, a loop branch, or a sub-blueprint); BlockCall is one block execution, the ctx
// behind bp_host_api.
#pragma once

#include <blueprint/block_abi.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/run_trace.hpp"
#include "engine/runner.hpp"

namespace blueprint::host {

class Execution;

/// State of one top-level run, shared by everything it starts.
struct RunShared {
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

  /// Lane threads of this run running now (bounded by RunLimits::max_lane_threads_per_run).
  std::atomic<int> lane_threads{0};

  /// Set once the run's own limit (timeout, steps) ended it; names the limit.
  std::mutex limit_mutex;
  std::string limit_error;
  std::atomic<bool> limit_hit{false};

  RunShared(const CompiledAgent& a, const RunOptions& o, RunObserver& obs, RunControl& c);
  bool timedOut() const { return std::chrono::steady_clock::now() >= deadline; }
  void setLimitError(const std::string& message);
  std::string limitError();
};

/// The outcome of one block execution.
struct BlockOutcome {
  enum class Kind { Done, Failed, Cancelled };
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

/// Schedules one subgraph of a blueprint (DESIGN §3 scheduling rules).
class Execution {
 public:
  /// `parent` is the execution whose block started this one (nullptr for the top level);
  /// `inherit_results` makes `results.<id>` of the parent visible (loop branches).
  Execution(RunShared& run, const CompiledBlueprint& blueprint, const Subgraph& graph,
            Execution* parent, bool inherit_results, std::shared_ptr<const Json> payload,
            Json scope_vars, std::shared_ptr<const Json> entry_result, int depth);
  ~Execution();

  ExecutionResult execute();

  /// True when this execution or an ancestor was stopped, the run cancelled or timed out.
  bool stopRequested() const;
  /// Sleeps up to `ms`; false when cut short by a stop.
  bool sleepFor(std::uint64_t ms);

  RunShared& run() { return run_; }
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

  /// Runs the branch of block `b` behind `end_state` with `scope` added to the environment.
  /// Each call is one step of the run (a loop iteration counts even when its body is empty).
  ExecutionResult runBranch(std::size_t b, const std::string& end_state, const Json& scope);
  /// Runs another blueprint of the same agent version with `payload`.
  ExecutionResult runBlueprint(const std::string& blueprint_id, const Json& payload);

 private:
  /// Runs ready blocks until none is left; `extra` for a lane on a thread of its own.
  void lane(bool extra);
  /// Starts another lane thread when the run's and the host's bounds allow; called with mutex_
  /// held. Past a bound the running lanes take the ready blocks in turn. A thread that cannot be
  /// started ends the run with an error naming block `b` (never std::terminate).
  void maybeStartLane(std::uint32_t b);
  /// Joins lane threads that have finished (their ids are in exited_); mutex_ held.
  void reapExitedLanes();
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
  std::condition_variable lanes_done_;
  // Per member of graph_, by local index (sized to the subgraph, not the blueprint).
  std::vector<std::uint32_t> remaining_;
  std::vector<long> fired_from_;  ///< -1 none, -2 entry, else the predecessor whose edge fired
  std::vector<Json> outputs_;
  /// Messages of blocks that ended with one (few do): (local, message).
  std::vector<std::pair<std::uint32_t, std::string>> messages_;
  std::vector<char> done_;  ///< output final and visible as results.<id>
  /// Members ready to run, in the order they became ready; ready_[ready_head_] is next. Each
  /// becomes ready at most once per execution, so the list never outgrows the subgraph.
  std::vector<std::uint32_t> ready_;
  std::size_t ready_head_ = 0;
  int lanes_ = 0;
  std::vector<std::thread> threads_;
  /// Lane threads whose lane() returned, not yet joined.
  std::vector<std::thread::id> exited_;
  std::atomic<bool> stopped_{false};
  ExecutionResult result_;
};

/// One block execution: the ctx behind bp_host_api.
struct BlockCall {
  Execution* execution;
  std::size_t block;  ///< index into the blueprint's blocks
  std::vector<Json>* logs;
};

/// The host services table for a block call (host_api.cpp); `native` adds the services that
/// take native JSON (ABI 1.2), for blocks whose plugin shares the host's JSON layout.
bp_host_api makeHostApi(BlockCall* call, bool native);

}  // namespace blueprint::host
