// SPDX-License-Identifier: Apache-2.0
// Execution: the scheduler of DESIGN §3. A block is ready once every predecessor inside the
// subgraph is final; it runs if at least one incoming edge's end state matched, else it is
// skipped and the skip propagates. Since issue 12 a run is state, not threads: ready blocks run
// on the engine's pools (engine_threads.hpp) and a thread that finishes a block takes the next
// ready one itself, so a linear chain stays on one thread and only real fan-out hands blocks
// to other workers. Blocks the manifest declares `instant` or `async` run on the run workers;
// others may block and run on the bounded blocking pool. A deferred block (ABI 1.3) holds no
// thread: its completion puts its successors back on the pools. Nested executions (loop
// branches, sub-blueprints) are driven by the thread of the block that started them, which
// runs their blocks itself, so the synchronous host services never wait for a pool that is
// busy waiting for them. Everything an Execution keeps per block is indexed by the block's
// local index in its subgraph and sized to it (issue 11, M3).
#include "engine/run_context.hpp"

#include "engine/block_output.hpp"
#include "engine/engine_threads.hpp"
#include "engine/field_conversion.hpp"
#include "engine/json_text_size.hpp"
#include "engine/pending_call.hpp"
#include "metrics/capped_histograms.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>

namespace blueprint::host {

namespace {
constexpr std::string_view kCancelled = "cancelled";
}  // namespace

RunShared::RunShared(const CompiledAgent& a, const RunOptions& o, RunObserver& obs, RunControl& c)
    : agent(a),
      options(o),
      observer(obs),
      control(c),
      started_at(std::chrono::steady_clock::now()),
      deadline(started_at + std::chrono::milliseconds(o.limits.timeout_ms)) {}

void RunShared::setLimitError(const std::string& message) {
  std::lock_guard<std::mutex> lock(limit_mutex);
  if (limit_error.empty()) limit_error = message;
  limit_hit.store(true, std::memory_order_release);
}

std::string RunShared::limitError() {
  std::lock_guard<std::mutex> lock(limit_mutex);
  return limit_error;
}

void RunShared::wakeAll() {
  control.wake();
  std::vector<std::shared_ptr<PendingCall>> calls;
  {
    std::lock_guard<std::mutex> lock(pending_mutex_);
    if (pending_.empty()) return;
    calls = pending_;
  }
  for (const auto& call : calls) call->cancelIfStopped();
}

void RunShared::addPending(const std::shared_ptr<PendingCall>& call) {
  std::lock_guard<std::mutex> lock(pending_mutex_);
  pending_.push_back(call);
  if (deadline_timer_ != 0) return;
  // The run's timeout must end it while every block waits without a thread: the timer service
  // fires at the deadline and the sweep cancels the pending calls (issue 12).
  std::weak_ptr<RunShared> weak = weak_from_this();
  deadline_timer_ =
      EngineThreads::get().timers().at(deadline + std::chrono::milliseconds(1), [weak] {
        if (auto run = weak.lock()) run->wakeAll();
      });
}

void RunShared::removePending(const PendingCall* call) {
  std::lock_guard<std::mutex> lock(pending_mutex_);
  auto it = std::find_if(pending_.begin(), pending_.end(),
                         [&](const auto& p) { return p.get() == call; });
  if (it != pending_.end()) {
    std::swap(*it, pending_.back());
    pending_.pop_back();
  }
}

void RunShared::disarmDeadline() {
  TimerService::TimerId id = 0;
  {
    std::lock_guard<std::mutex> lock(pending_mutex_);
    id = std::exchange(deadline_timer_, 0);
  }
  if (id != 0) EngineThreads::get().timers().cancel(id);
}

Execution::Execution(std::shared_ptr<RunShared> run, const CompiledBlueprint& blueprint,
                     const Subgraph& graph, Execution* parent, bool inherit_results,
                     std::shared_ptr<const Json> payload, Json scope_vars,
                     std::shared_ptr<const Json> entry_result, int depth)
    : run_owner_(std::move(run)),
      run_(*run_owner_),
      blueprint_(blueprint),
      graph_(graph),
      parent_(parent),
      inherit_results_(inherit_results),
      payload_(std::move(payload)),
      scope_vars_(std::move(scope_vars)),
      entry_result_(std::move(entry_result)),
      depth_(depth),
      remaining_(graph.indegree),
      fired_from_(graph.size(), -1),
      outputs_(graph.size()),
      done_(graph.size(), 0) {}

bool Execution::stopRequested() const {
  if (run_.control.cancelled() || run_.timedOut() || run_.limit_hit.load(std::memory_order_acquire))
    return true;
  for (const Execution* e = this; e != nullptr; e = e->parent_)
    if (e->stopped_.load(std::memory_order_acquire)) return true;
  return false;
}

bool Execution::sleepFor(std::uint64_t ms) {
  // A sleep past the run's deadline is cut short there anyway; comparing before adding keeps a
  // huge `ms` from overflowing the clock's nanosecond arithmetic.
  const auto now = std::chrono::steady_clock::now();
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(run_.deadline - now);
  const bool past_deadline = left.count() < 0 || ms > static_cast<std::uint64_t>(left.count());
  const auto until = past_deadline ? run_.deadline + std::chrono::milliseconds(1)
                                   : now + std::chrono::milliseconds(static_cast<std::int64_t>(ms));
  const auto deadline = std::min(until, run_.deadline);
  while (!stopRequested()) {
    if (std::chrono::steady_clock::now() >= deadline) break;
    run_.control.waitUntil(deadline);
  }
  return !stopRequested() && std::chrono::steady_clock::now() >= until;
}

void Execution::stop() {
  stopped_.store(true, std::memory_order_release);
  sweep_due_ = true;  // settle() tells pending calls once mutex_ is released
}

bool Execution::nonBlocking(std::uint32_t local) const {
  const BlockType& type = *blueprint_.blocks[graph_.blocks[local]].type;
  return type.instant || type.async;
}

void Execution::seedLocked() {
  ready_.reserve(graph_.size());
  for (std::uint32_t e : graph_.entries) {
    fired_from_[e] = -2;
    if (remaining_[e] == 0) {
      if (nonBlocking(e)) {
        ready_.push_back(e);
        ++unplanned_fast_;
      } else {
        blocking_ready_.push_back(e);
        ++unplanned_blocking_;
      }
    }
  }
}

bool Execution::doneLocked() const {
  if (running_ != 0 || pending_ != 0) return false;
  if (stopped_.load(std::memory_order_relaxed)) return true;
  return ready_head_ == ready_.size() && blocking_ready_head_ == blocking_ready_.size();
}

bool Execution::popLocked(Takes takes, std::uint32_t& local) {
  if (stopped_.load(std::memory_order_relaxed)) return false;
  if (ready_head_ < ready_.size()) {
    const std::uint32_t b = ready_[ready_head_];
    if (takes != Takes::Instant || blueprint_.blocks[graph_.blocks[b]].type->instant) {
      ++ready_head_;
      local = b;
      return true;
    }
  }
  if (takes == Takes::All && blocking_ready_head_ < blocking_ready_.size()) {
    local = blocking_ready_[blocking_ready_head_++];
    return true;
  }
  return false;
}

void Execution::planPostsLocked(int keep_fast, int keep_blocking) {
  post_fast_ += std::max(0, unplanned_fast_ - keep_fast);
  post_blocking_ += std::max(0, unplanned_blocking_ - keep_blocking);
  unplanned_fast_ = 0;
  unplanned_blocking_ = 0;
}

void Execution::runOneLocked(std::unique_lock<std::mutex>& lock, std::uint32_t local, Takes takes) {
  ++running_;
  lock.unlock();
  BlockOutcome outcome = runBlock(local);
  lock.lock();
  --running_;
  if (outcome.kind != BlockOutcome::Kind::Deferred) complete(local, std::move(outcome));
  // This thread goes on with one of the blocks that became ready; the others go to the pools.
  // (start()'s caller may find that its one is not instant: runReady posts it on leaving.)
  planPostsLocked(1, takes == Takes::All && unplanned_fast_ == 0 ? 1 : 0);
}

void Execution::settle(std::unique_lock<std::mutex>& lock) {
  const int post_fast = std::exchange(post_fast_, 0);
  const int post_blocking = std::exchange(post_blocking_, 0);
  const bool sweep = std::exchange(sweep_due_, false);
  std::function<void(ExecutionResult)> on_done;
  ExecutionResult result;
  if (has_driver_) {
    driver_wake_.notify_all();
  } else if (!finished_ && on_done_ && doneLocked()) {
    finished_ = true;
    finalizeResultLocked();
    on_done = std::move(on_done_);
    result = result_;
  }
  lock.unlock();
  if (post_fast > 0 || post_blocking > 0) {
    EngineThreads& threads = EngineThreads::get();
    std::shared_ptr<Execution> self = shared_from_this();
    for (int i = 0; i < post_fast; ++i)
      threads.workers().post([self] { self->runReady(Takes::NonBlocking); });
    for (int i = 0; i < post_blocking; ++i)
      threads.blocking().post([self] { self->runReady(Takes::All); });
  }
  if (sweep) run_.wakeAll();
  if (on_done) on_done(std::move(result));
}

void Execution::runReady(Takes takes) {
  std::unique_lock<std::mutex> lock(mutex_);
  std::uint32_t local = 0;
  while (popLocked(takes, local)) runOneLocked(lock, local, takes);
  // A block start()'s caller kept for itself but may not take (an async block after instant
  // ones) goes to the run workers. (Blocking ones were posted when they became ready: only a
  // thread that takes them keeps one.)
  if (takes == Takes::Instant && !stopped_.load(std::memory_order_relaxed))
    post_fast_ += static_cast<int>(ready_.size() - ready_head_);
  settle(lock);
}

ExecutionResult Execution::execute() {
  std::unique_lock<std::mutex> lock(mutex_);
  has_driver_ = true;
  // A run worker never runs a block that may block: it leaves those to the blocking pool and
  // waits for them like for a pending call.
  driver_takes_ = WorkerPool::currentThreadKind() == WorkerPool::ThreadKind::Worker
                      ? Takes::NonBlocking
                      : Takes::All;
  seedLocked();
  planPostsLocked(1, driver_takes_ == Takes::All && unplanned_fast_ == 0 ? 1 : 0);
  for (;;) {
    std::uint32_t local = 0;
    if (popLocked(driver_takes_, local)) {
      runOneLocked(lock, local, driver_takes_);
    } else if (doneLocked()) {
      break;
    } else {
      // Nothing this thread may run: wait for a pending call, a pool task, or a stop.
      if (post_fast_ > 0 || post_blocking_ > 0 || sweep_due_) {
        settle(lock);
        lock.lock();
        continue;
      }
      driver_wake_.wait(lock);
      continue;
    }
    if (post_fast_ > 0 || post_blocking_ > 0 || sweep_due_) {
      settle(lock);
      lock.lock();
    }
  }
  finished_ = true;
  has_driver_ = false;
  finalizeResultLocked();
  return result_;
}

void Execution::start(std::function<void(ExecutionResult)> on_done) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    on_done_ = std::move(on_done);
    seedLocked();
    planPostsLocked(1, 0);
  }
  runReady(Takes::Instant);
}

void Execution::finalizeResultLocked() {
  if (result_.status == ExecutionResult::Status::Finished && !result_.return_value &&
      (run_.control.cancelled() || run_.timedOut() ||
       (parent_ != nullptr && parent_->stopRequested()))) {
    // Stopped from outside before a result: a cancel, a timeout, or a Return Value elsewhere.
    result_.status = ExecutionResult::Status::Cancelled;
  }
}

void Execution::notePending() {
  std::lock_guard<std::mutex> lock(mutex_);
  ++pending_;
}

void Execution::deliverPending(std::uint32_t local, BlockOutcome outcome,
                               std::chrono::steady_clock::time_point started,
                               std::vector<Json> logs) {
  traceBlock(blueprint_.blocks[graph_.blocks[local]], outcome, started, std::move(logs));
  std::unique_lock<std::mutex> lock(mutex_);
  --pending_;
  complete(local, std::move(outcome));
  // The driver (if any) takes one block it may run; everything else goes to the pools.
  int keep_fast = 0, keep_blocking = 0;
  if (has_driver_) {
    keep_fast = 1;
    keep_blocking = driver_takes_ == Takes::All && unplanned_fast_ == 0 ? 1 : 0;
  }
  planPostsLocked(keep_fast, keep_blocking);
  settle(lock);
}

void Execution::markReadyOrSkip(std::uint32_t first) {
  // Iterative skip propagation: a skipped block counts as final for its successors.
  std::vector<std::uint32_t> stack{first};
  while (!stack.empty()) {
    std::uint32_t t = stack.back();
    stack.pop_back();
    if (fired_from_[t] != -1) {
      if (nonBlocking(t)) {
        ready_.push_back(t);
        ++unplanned_fast_;
      } else {
        blocking_ready_.push_back(t);
        ++unplanned_blocking_;
      }
      continue;
    }
    for (std::uint32_t e = graph_.edge_begin[t]; e < graph_.edge_begin[t + 1]; ++e) {
      const std::uint32_t n = graph_.edges[e].target;
      if (--remaining_[n] == 0) stack.push_back(n);
    }
  }
}

void Execution::complete(std::uint32_t b, BlockOutcome outcome) {
  if (stopped_.load(std::memory_order_relaxed)) return;  // a Return Value already won
  const CompiledBlock& block = blueprint_.blocks[graph_.blocks[b]];
  if (outcome.kind == BlockOutcome::Kind::Cancelled) {
    result_.status = ExecutionResult::Status::Cancelled;
    std::string limit = run_.limitError();
    if (!limit.empty()) {
      result_.status = ExecutionResult::Status::Failed;
      result_.error = limit;
    }
    stop();
    return;
  }
  const std::vector<std::size_t>* targets = block.targets(outcome.end_state);
  const bool handled =
      targets != nullptr && !targets->empty() && !block.type->isBranchState(outcome.end_state);
  if (outcome.kind == BlockOutcome::Kind::Failed && !handled) {
    result_.status = ExecutionResult::Status::Failed;
    result_.error = block.id + ": " + outcome.message;
    stop();
    return;
  }
  if (!outcome.message.empty()) messages_.emplace_back(b, std::move(outcome.message));
  if (outcome.kind == BlockOutcome::Kind::Done) {
    outputs_[b] = std::move(outcome.output);
    done_[b] = 1;
    if (block.type->is_return) {
      result_.return_value = outputs_[b];
      stop();  // the first Return Value wins; other branches are cancelled
      return;
    }
  } else {
    outputs_[b] = std::move(outcome.output);  // a failed block's result is still @{result}
  }
  // The edge group that fired: its slot in block.next (targets points into it).
  const std::uint32_t fired_slot =
      targets != nullptr
          ? static_cast<std::uint32_t>(
                std::find_if(block.next.begin(), block.next.end(),
                             [&](const auto& group) { return &group.second == targets; }) -
                block.next.begin())
          : Subgraph::kNotMember;
  for (std::uint32_t e = graph_.edge_begin[b]; e < graph_.edge_begin[b + 1]; ++e) {
    const Subgraph::Edge& edge = graph_.edges[e];
    if (edge.next_slot == fired_slot) fired_from_[edge.target] = static_cast<long>(b);
    if (--remaining_[edge.target] == 0) markReadyOrSkip(edge.target);
  }
}

// ---- environment ----

Json Execution::lookup(std::size_t b, const Path& path) const {
  if (path.root == Path::Root::Result || path.root == Path::Root::Message) {
    const std::uint32_t local = graph_.localOf(b);
    if (local == Subgraph::kNotMember) return nullptr;
    return lookupLocal(local, path);
  }
  return lookupLocal(0, path);  // the other roots do not depend on the block
}

Json Execution::lookupLocal(std::uint32_t b, const Path& path) const {
  if (path.segments.empty()) return nullptr;
  const std::string& head = path.segments[0];
  if (path.root == Path::Root::Result || path.root == Path::Root::Message) {
    const long from = fired_from_[b];  // final before b became ready: no lock needed
    const Json* base = nullptr;
    Json message;
    if (path.root == Path::Root::Result) {
      base = from >= 0 ? &outputs_[static_cast<std::size_t>(from)] : entry_result_.get();
    } else {
      if (from >= 0)
        messageOf(static_cast<std::uint32_t>(from), message);
      else if (scope_vars_.is_object() && scope_vars_.contains("message"))
        message = scope_vars_["message"];
      base = &message;
    }
    const Json* v = walkPath(*base, path.segments, 1);
    return v != nullptr ? *v : Json(nullptr);
  }
  if (path.root == Path::Root::Results) return lookupResults(path);
  if (path.root == Path::Root::Payload) {
    const Json* v = walkPath(*payload_, path.segments, 1);
    return v != nullptr ? *v : Json(nullptr);
  }
  if (path.root == Path::Root::State) {
    std::lock_guard<std::mutex> lock(run_.state_mutex);
    const Json* v = walkPath(run_.state, path.segments, 1);
    return v != nullptr ? *v : Json(nullptr);
  }
  if (path.root == Path::Root::EnvVar) {
    const std::string name = head.substr(1);
    if (run_.options.env_allow == nullptr || run_.options.env_allow->count(name) == 0)
      return nullptr;
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return nullptr;
    return Json(std::string(value));
  }
  return lookupScope(path);
}

bool Execution::lookupText(std::size_t b, const Path& path, std::string& out) const {
  if (path.root == Path::Root::Payload) {
    const Json* v = walkPath(*payload_, path.segments, 1);
    if (v == nullptr || v->is_null()) return false;
    out = v->dump();
    return true;
  }
  if (path.root == Path::Root::State) {
    std::lock_guard<std::mutex> lock(run_.state_mutex);
    const Json* v = walkPath(run_.state, path.segments, 1);
    if (v == nullptr || v->is_null()) return false;
    out = v->dump();
    return true;
  }
  Json v = lookup(b, path);
  if (v.is_null()) return false;
  out = v.dump();
  return true;
}

bool Execution::messageOf(std::uint32_t b, Json& out) const {
  std::lock_guard<std::mutex> lock(mutex_);  // other lanes may be appending
  for (const auto& [block, text] : messages_)
    if (block == b) {
      out = text;
      return true;
    }
  return false;
}

Json Execution::lookupResults(const Path& path) const {
  if (path.segments.size() < 2) {
    Json all = Json::object();
    for (const Execution* e = this; e != nullptr; e = e->inherit_results_ ? e->parent_ : nullptr) {
      std::lock_guard<std::mutex> lock(e->mutex_);
      for (std::size_t i = 0; i < e->graph_.size(); ++i) {
        const std::string& id = e->blueprint_.blocks[e->graph_.blocks[i]].id;
        if (e->done_[i] && !all.contains(id)) all[id] = e->outputs_[i];
      }
      if (!e->inherit_results_) break;
    }
    return all;
  }
  for (const Execution* e = this; e != nullptr; e = e->parent_) {
    auto it = e->blueprint_.index.find(path.segments[1]);
    const std::uint32_t local =
        it != e->blueprint_.index.end() ? e->graph_.localOf(it->second) : Subgraph::kNotMember;
    if (local != Subgraph::kNotMember) {
      std::lock_guard<std::mutex> lock(e->mutex_);
      if (e->done_[local]) {
        const Json* v = walkPath(e->outputs_[local], path.segments, 2);
        return v != nullptr ? *v : Json(nullptr);
      }
    }
    if (!e->inherit_results_) break;
  }
  return nullptr;
}

Json Execution::lookupScope(const Path& path) const {
  for (const Execution* e = this; e != nullptr; e = e->parent_) {
    if (e->scope_vars_.is_object()) {
      auto it = e->scope_vars_.find(path.segments[0]);
      if (it != e->scope_vars_.end()) {
        const Json* v = walkPath(*it, path.segments, 1);
        return v != nullptr ? *v : Json(nullptr);
      }
    }
  }
  return nullptr;
}

std::optional<Json> Execution::stateGet(const Path& path) const {
  std::lock_guard<std::mutex> lock(run_.state_mutex);
  const Json* v = walkPath(run_.state, path.segments, 0);
  if (v == nullptr) return std::nullopt;
  return *v;
}

bool Execution::stateSet(const Path& path, Json value, std::string& error) {
  if (path.segments.empty() || path.text.empty()) {
    error = "state key is empty";
    return false;
  }
  for (const auto& s : path.segments)
    if (s.empty()) {
      error = "state key '" + path.text + "' has an empty segment";
      return false;
    }
  std::lock_guard<std::mutex> lock(run_.state_mutex);
  Json* node = &run_.state;
  for (std::size_t i = 0; i + 1 < path.segments.size(); ++i) {
    if (!node->is_object()) *node = Json::object();  // missing or scalar parents become objects
    node = &(*node)[path.segments[i]];
  }
  if (!node->is_object()) *node = Json::object();
  (*node)[path.segments.back()] = std::move(value);
  return true;
}

// ---- nested runs ----

bool Execution::countStep(const std::string& block_id) {
  if (run_.steps.fetch_add(1, std::memory_order_relaxed) + 1 <= run_.options.limits.max_steps)
    return true;
  run_.setLimitError(block_id + ": run exceeded its limit of " +
                     std::to_string(run_.options.limits.max_steps) + " steps");
  run_.wakeAll();
  return false;
}

ExecutionResult Execution::runBranch(std::size_t b, const std::string& end_state,
                                     const Json& scope) {
  ExecutionResult r;
  // An iteration is a step even when its body is empty (issue 11, M6: millions of items with
  // no body ran with no step counted).
  if (!countStep(blueprint_.blocks[b].id)) {
    r.status = ExecutionResult::Status::Cancelled;
    return r;
  }
  if (depth_ + 1 > run_.options.limits.max_depth) {
    r.status = ExecutionResult::Status::Failed;
    r.error = "nesting exceeds the max depth of " + std::to_string(run_.options.limits.max_depth);
    return r;
  }
  auto it = blueprint_.branch_graphs.find({b, end_state});
  if (it == blueprint_.branch_graphs.end() || it->second.entries.empty()) return r;  // empty body
  auto entry_result = std::make_shared<const Json>(
      scope.is_object() && scope.contains("item") ? scope["item"] : Json(nullptr));
  auto branch = std::make_shared<Execution>(run_owner_, blueprint_, it->second, this, true,
                                            payload_, scope, std::move(entry_result), depth_ + 1);
  return branch->execute();
}

ExecutionResult Execution::runBlueprint(const std::string& blueprint_id, const Json& payload) {
  ExecutionResult r;
  if (depth_ + 1 > run_.options.limits.max_depth) {
    r.status = ExecutionResult::Status::Failed;
    r.error = "nesting exceeds the max depth of " + std::to_string(run_.options.limits.max_depth) +
              " (run_blueprint calls itself?)";
    return r;
  }
  const CompiledBlueprint* target = run_.agent.find(blueprint_id);
  if (target == nullptr) {
    r.status = ExecutionResult::Status::Failed;
    r.error = "blueprint '" + blueprint_id + "' does not exist in agent '" + run_.agent.agent_id +
              "' version " + std::to_string(run_.agent.version);
    return r;
  }
  const Subgraph& graph = target->trigger >= 0 ? target->api_graph : target->whole_graph;
  auto shared_payload = std::make_shared<const Json>(payload);
  auto sub = std::make_shared<Execution>(run_owner_, *target, graph, this, false, shared_payload,
                                         Json::object(), shared_payload, depth_ + 1);
  return sub->execute();
}

// ---- one block ----

namespace {

class BlockEnv final : public TemplateEnv {
 public:
  BlockEnv(const Execution& e, std::uint32_t local, std::size_t json_max_depth)
      : execution_(e), local_(local), json_max_depth_(json_max_depth) {}
  Json lookup(const Path& path) const override { return execution_.lookupLocal(local_, path); }
  std::size_t jsonMaxDepth() const override { return json_max_depth_; }

 private:
  const Execution& execution_;
  std::uint32_t local_;
  std::size_t json_max_depth_;
};

void appendToString(void* ctx, const char* data, std::size_t size) {
  static_cast<std::string*>(ctx)->append(data, size);
}

}  // namespace

void Execution::traceBlock(const CompiledBlock& block, const BlockOutcome& o,
                           std::chrono::steady_clock::time_point started, std::vector<Json> logs) {
  TraceEntry entry;
  entry.block = block.id;
  entry.type = block.type->type;
  if (o.kind == BlockOutcome::Kind::Cancelled) {
    entry.end_state = kCancelled;
  } else if (const std::string* declared = block.type->declaredEndState(o.end_state)) {
    entry.end_state = *declared;
  } else {
    entry.more().end_state_text = o.end_state;
  }
  entry.start_us =
      std::chrono::duration_cast<std::chrono::microseconds>(started - run_.started_at).count();
  entry.duration_us = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::steady_clock::now() - started)
                          .count();
  if (depth_ > 0) {
    entry.blueprint = blueprint_.id;
    entry.depth = depth_;
  }
  if (o.kind == BlockOutcome::Kind::Failed) {
    entry.failed = true;
    entry.more().error = o.message;
  }
  if (!logs.empty()) entry.more().logs = std::move(logs);
  if (run_.options.block_durations != nullptr)
    run_.options.block_durations->observe(entry.type, entry.duration_us);
  run_.trace->append(std::move(entry));
}

BlockOutcome Execution::runBlock(std::uint32_t local) {
  const std::size_t b = graph_.blocks[local];
  const CompiledBlock& block = blueprint_.blocks[b];
  BlockOutcome out;
  if (stopRequested()) {
    if (run_.timedOut())
      run_.setLimitError(block.id + ": run exceeded its timeout of " +
                         std::to_string(run_.options.limits.timeout_ms) + " ms");
    out.kind = BlockOutcome::Kind::Cancelled;
    return out;
  }
  if (!countStep(block.id)) {
    out.kind = BlockOutcome::Kind::Cancelled;
    return out;
  }
  const auto started = std::chrono::steady_clock::now();
  std::vector<Json> logs;
  auto finishTrace = [&](const BlockOutcome& o) { traceBlock(block, o, started, std::move(logs)); };
  // Render fields (DESIGN §3): templates, then conversion to the manifest type.
  BlockEnv env(*this, local, run_.options.limits.json_max_depth);
  Json fields = Json::object();
  std::vector<Json> rendered(block.fields.size());
  for (std::size_t i = 0; i < block.fields.size(); ++i) {
    const CompiledField& f = block.fields[i];
    if (!f.templated) {
      rendered[i] = f.literal;
      continue;
    }
    bool json_mode = f.json_always;
    if (f.json_when_index >= 0) {
      const Json& other = rendered[static_cast<std::size_t>(f.json_when_index)];
      json_mode = other.is_string() && other.get<std::string>() == f.spec->json_when_value;
    }
    try {
      rendered[i] = json_mode ? f.json.render(env) : f.text.render(env);
    } catch (const std::exception& e) {
      out.kind = BlockOutcome::Kind::Failed;
      out.end_state = "error";
      out.message = "field '" + f.name + "': " + e.what();
      finishTrace(out);
      return out;
    }
    std::string error;
    if (!convertField(*f.spec, rendered[i], error, run_.options.limits.json_max_depth)) {
      out.kind = BlockOutcome::Kind::Failed;
      out.end_state = "error";
      out.message = "field '" + f.name + "' " + error;
      finishTrace(out);
      return out;
    }
  }
  auto& field_map = fields.get_ref<Json::object_t&>();
  for (std::size_t i = 0; i < block.fields.size(); ++i)
    field_map.emplace_hint(field_map.end(), block.fields[i].name, std::move(rendered[i]));
  const bool native = block.type->native_json;
  const std::string fields_text = native ? std::string() : fields.dump();

  if (!block.type->instant) run_.observer.onWait();

  BlockCall call{this, b, &logs, started, nullptr};
  bp_host_api api = makeHostApi(&call, native);
  std::string output_text, error_text, end_state;
  Json native_output;
  bp_run_args args{};
  args.struct_size = sizeof(bp_run_args);
  if (native) {
    args.fields_native = &fields;
    args.output_native = &native_output;
  } else {
    args.fields_json = fields_text.data();
    args.fields_size = fields_text.size();
  }
  args.host = &api;
  args.output = bp_sink{&output_text, &appendToString};
  args.error = bp_sink{&error_text, &appendToString};
  args.end_state = bp_sink{&end_state, &appendToString};
  const bp_status status = block.type->vtable->run(block.instance, &args);

  if (call.pending) {
    // Deferred (ABI 1.3): the outcome comes through bp_pending.complete, maybe already has.
    if (status != BP_STATUS_PENDING) {
      const std::string text = "run() returned status " + std::to_string(status) +
                               " after defer(); waiting for complete()";
      logLineFor(call, BP_LOG_ERROR, text.data(), text.size());
    }
    call.pending->runReturned(std::move(logs));
    out.kind = BlockOutcome::Kind::Deferred;
    return out;
  }
  if (status == BP_STATUS_PENDING) {
    out.kind = BlockOutcome::Kind::Failed;
    out.end_state = "error";
    out.message = "the block returned BP_STATUS_PENDING without calling defer()";
    finishTrace(out);
    return out;
  }
  out = outcomeOf(b, status, output_text, std::move(native_output), std::move(error_text),
                  std::move(end_state));
  finishTrace(out);
  return out;
}

BlockOutcome Execution::outcomeOf(std::size_t b, bp_status status, std::string& output_text,
                                  Json native_output, std::string error_text,
                                  std::string end_state) {
  const CompiledBlock& block = blueprint_.blocks[b];
  BlockOutcome out;
  if (status == BP_STATUS_CANCELLED || (status != BP_STATUS_OK && stopRequested())) {
    if (run_.timedOut())
      run_.setLimitError(block.id + ": run exceeded its timeout of " +
                         std::to_string(run_.options.limits.timeout_ms) + " ms");
    out.kind = BlockOutcome::Kind::Cancelled;
    return out;
  }
  out.kind = status == BP_STATUS_OK ? BlockOutcome::Kind::Done : BlockOutcome::Kind::Failed;
  out.end_state = !end_state.empty() ? end_state : status == BP_STATUS_OK ? "success" : "error";
  out.message = std::move(error_text);
  if (out.kind == BlockOutcome::Kind::Failed && out.message.empty())
    out.message = "failed without a message";
  // Text from a plugin goes into events and stored errors as JSON: sanitised once, here.
  makeValidUtf8(out.message);
  BlockOutput accepted =
      acceptBlockOutput(output_text, std::move(native_output), run_.options.limits);
  if (!accepted.error.empty()) {
    out.kind = BlockOutcome::Kind::Failed;
    out.end_state = "error";
    out.message = std::move(accepted.error);
  }
  out.output = std::move(accepted.value);
  // A failure without a chosen end state keeps its own message even when the type declares no
  // `error` end state (delay): no edge can handle it, so the run stops with that message. The
  // same holds when the host overrode the block's chosen end state (output too large or not
  // JSON): the block did not choose `error`, so its manifest need not declare it.
  const bool implicit_error =
      out.kind == BlockOutcome::Kind::Failed && (end_state.empty() || end_state != out.end_state);
  if (!implicit_error && !block.type->hasEndState(out.end_state)) {
    out.message =
        "the block ended in end state '" + out.end_state + "', which its manifest does not declare";
    out.kind = BlockOutcome::Kind::Failed;
    out.end_state = "error";
  }
  return out;
}

}  // namespace blueprint::host
