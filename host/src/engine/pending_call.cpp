// SPDX-License-Identifier: Apache-2.0
// PendingCall: the rules of bp_pending (block_abi.h) in one place. complete() counts exactly
// once; on_cancel at most once and never after complete() returned; a complete() on another
// thread waits for a running on_cancel or timer callback; timers stop firing at complete().
#include "engine/pending_call.hpp"

#include <Poco/Logger.h>

#include <algorithm>

#include "engine/engine_threads.hpp"
#include "logging/log_fields.hpp"

namespace blueprint::host {

PendingCall::PendingCall(const BlockCall& call, void (*on_cancel)(void*), void* user, bool native)
    : execution_(call.execution->shared_from_this()),
      run_(call.execution->runOwner()),
      agent_pin_(call.execution->runOwner()->agent_pin),
      type_pin_(call.execution->blueprint().blocks[call.block].type),
      block_(call.block),
      local_(call.execution->localOf(call.block)),
      block_id_(call.execution->blueprint().blocks[call.block].id),
      started_(call.started),
      on_cancel_(on_cancel),
      user_(user) {
  handle_.struct_size = sizeof(bp_pending);
  handle_.ctx = this;
  handle_.complete = &completeText;
  handle_.after = &after;
  handle_.emit_delta = &emitDelta;
  handle_.log = &log;
  handle_.is_cancelled = &isCancelled;
  handle_.complete_native = native ? &completeNative : nullptr;
}

bp_pending* PendingCall::defer(BlockCall& call, void (*on_cancel)(void*), void* user, bool native) {
  if (call.pending) return nullptr;
  auto pending = std::make_shared<PendingCall>(call, on_cancel, user, native);
  pending->self_ = pending;
  call.pending = pending;
  call.execution->notePending();
  RunShared& run = call.execution->run();
  run.addPending(pending);
  // A stop that came before the call was registered found nothing to tell: tell it now, from
  // a pool thread (on_cancel never runs inside a call the block makes into the host).
  if (call.execution->stopRequested())
    EngineThreads::get().workers().post([pending] { pending->cancelIfStopped(); });
  return &pending->handle_;
}

std::shared_ptr<PendingCall> PendingCall::releaseIfDoneLocked() {
  if (completed_ && run_returned_ && callback_threads_.empty()) return std::move(self_);
  return nullptr;
}

void PendingCall::runReturned(std::vector<Json> logs) {
  std::shared_ptr<PendingCall> released, tell;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    run_returned_ = true;
    if (!completed_ && !abandoned_ && !logs.empty()) {
      logs.insert(logs.end(), std::make_move_iterator(logs_.begin()),
                  std::make_move_iterator(logs_.end()));
      logs_ = std::move(logs);
    }
    // A stop that came while run() was still running waited for it to return (on_cancel is
    // never called before the block had its bp_pending back): it is told now, from a pool
    // thread, once this block's deferral is on the books.
    if (!completed_ && !abandoned_ && execution_ && execution_->stopRequested()) tell = self_;
    released = releaseIfDoneLocked();
  }
  if (tell) EngineThreads::get().workers().post([tell] { tell->cancelIfStopped(); });
}

void PendingCall::waitForOtherCallbacks(std::unique_lock<std::mutex>& lock) {
  const auto me = std::this_thread::get_id();
  callbacks_done_.wait(lock, [&] {
    return std::all_of(callback_threads_.begin(), callback_threads_.end(),
                       [&](std::thread::id id) { return id == me; });
  });
}

void PendingCall::leaveCallback() {
  std::shared_ptr<PendingCall> released;
  std::lock_guard<std::mutex> lock(mutex_);
  auto it =
      std::find(callback_threads_.begin(), callback_threads_.end(), std::this_thread::get_id());
  if (it != callback_threads_.end()) callback_threads_.erase(it);
  callbacks_done_.notify_all();
  released = releaseIfDoneLocked();
}

void PendingCall::complete(bp_status status, std::string output, Json native_output,
                           std::string end_state, std::string error) {
  std::shared_ptr<Execution> execution;
  std::shared_ptr<RunShared> run;
  std::vector<TimerService::TimerId> timers;
  std::vector<Json> logs;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    if (completed_) {
      static Poco::Logger& host_log = Poco::Logger::get("blueprint.blocks");
      host_log.warning("block " + block_id_ + " (" + type_pin_->type +
                       ") completed a pending call a second time; ignored");
      return;
    }
    waitForOtherCallbacks(lock);
    completed_ = true;
    execution = std::move(execution_);
    run = std::move(run_);
    timers.swap(timers_);
    logs = std::move(logs_);
  }
  for (TimerService::TimerId id : timers) EngineThreads::get().timers().cancel(id);
  if (execution) {
    run->removePending(this);
    BlockOutcome outcome;
    try {
      outcome = execution->outcomeOf(block_, status, output, std::move(native_output),
                                     std::move(error), std::move(end_state));
    } catch (const std::exception& e) {
      outcome.kind = BlockOutcome::Kind::Failed;
      outcome.end_state = "error";
      outcome.message = std::string("the block's result could not be taken: ") + e.what();
    }
    execution->deliverPending(local_, std::move(outcome), started_, std::move(logs));
  }
  std::shared_ptr<PendingCall> released;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    released = releaseIfDoneLocked();
  }
  // complete() is called from plugin code (its own thread, a callback). Dropping the last
  // reference here could unload the plugin's library (a hot-swapped generation) under the very
  // code that called us, so the references go to a run worker to be dropped there.
  struct Leftovers {
    std::shared_ptr<Execution> execution;
    std::shared_ptr<RunShared> run;
    std::shared_ptr<PendingCall> self;
  };
  auto leftovers = std::make_unique<Leftovers>(
      Leftovers{std::move(execution), std::move(run), std::move(released)});
  EngineThreads::get().workers().post([leftovers = std::shared_ptr<Leftovers>(
                                           std::move(leftovers))]() mutable { leftovers.reset(); });
}

void PendingCall::cancelIfStopped() {
  std::shared_ptr<Execution> execution;
  std::shared_ptr<RunShared> run;
  std::vector<Json> logs;
  bool notify = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    // stopRequested() reads the run's control: safe while this call is undelivered, because
    // the run cannot end before it is.
    // Not before run() returned: until then the block may not hold its bp_pending yet, and
    // runReturned() tells it instead.
    if (completed_ || abandoned_ || !run_returned_ || !execution_ || !execution_->stopRequested())
      return;
    abandoned_ = true;
    execution = std::move(execution_);
    run = std::move(run_);
    logs = std::move(logs_);
    notify = on_cancel_ != nullptr;
    if (notify) callback_threads_.push_back(std::this_thread::get_id());
  }
  run->removePending(this);
  if (run->timedOut())
    run->setLimitError(block_id_ + ": run exceeded its timeout of " +
                       std::to_string(run->options.limits.timeout_ms) + " ms");
  // The block is told before its cancelled outcome reaches the run: the run may end with that
  // outcome, and whoever waited for it (a sync caller, a test reading the block's counters)
  // must find the block told, not told a moment later on this thread.
  if (notify) {
    on_cancel_(user_);
    leaveCallback();
  }
  BlockOutcome cancelled;
  cancelled.kind = BlockOutcome::Kind::Cancelled;
  execution->deliverPending(local_, std::move(cancelled), started_, std::move(logs));
  execution.reset();
  run.reset();
}

void PendingCall::fireTimer(void (*fire)(void*), void* user) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (completed_) return;
    callback_threads_.push_back(std::this_thread::get_id());
  }
  fire(user);
  leaveCallback();
}

// ---- the bp_pending members ----

void PendingCall::completeText(void* ctx, bp_status status, const char* output,
                               std::size_t output_size, const char* end_state,
                               std::size_t end_state_size, const char* error,
                               std::size_t error_size) {
  try {
    of(ctx).complete(status, output != nullptr ? std::string(output, output_size) : std::string(),
                     Json(),
                     end_state != nullptr ? std::string(end_state, end_state_size) : std::string(),
                     error != nullptr ? std::string(error, error_size) : std::string());
  } catch (...) {
  }
}

void PendingCall::completeNative(void* ctx, bp_status status, void* output, const char* end_state,
                                 std::size_t end_state_size, const char* error,
                                 std::size_t error_size) {
  try {
    Json value = output != nullptr ? std::move(*static_cast<Json*>(output)) : Json();
    of(ctx).complete(status, std::string(), std::move(value),
                     end_state != nullptr ? std::string(end_state, end_state_size) : std::string(),
                     error != nullptr ? std::string(error, error_size) : std::string());
  } catch (...) {
  }
}

bp_status PendingCall::after(void* ctx, std::uint64_t ms, void (*fire)(void*), void* user) {
  try {
    PendingCall& self = of(ctx);
    if (fire == nullptr) return BP_STATUS_ERROR;
    std::lock_guard<std::mutex> lock(self.mutex_);
    if (self.completed_) return BP_STATUS_ERROR;
    std::shared_ptr<PendingCall> keep = self.shared_from_this();
    self.timers_.push_back(EngineThreads::get().timers().after(
        ms, [keep, fire, user] { keep->fireTimer(fire, user); }));
    return BP_STATUS_OK;
  } catch (...) {
    return BP_STATUS_ERROR;
  }
}

void PendingCall::emitDelta(void* ctx, const char* text, std::size_t size) {
  PendingCall& self = of(ctx);
  std::lock_guard<std::mutex> lock(self.mutex_);
  if (!self.execution_) return;  // the call ended in its run: nobody reads the stream
  BlockCall call{self.execution_.get(), self.block_, &self.logs_, self.started_, nullptr};
  emitDeltaFor(call, text, size);
}

void PendingCall::log(void* ctx, std::int32_t level, const char* message, std::size_t size) {
  PendingCall& self = of(ctx);
  std::lock_guard<std::mutex> lock(self.mutex_);
  if (!self.execution_) return;
  BlockCall call{self.execution_.get(), self.block_, &self.logs_, self.started_, nullptr};
  logLineFor(call, level, message, size);
}

std::int32_t PendingCall::isCancelled(void* ctx) {
  PendingCall& self = of(ctx);
  std::lock_guard<std::mutex> lock(self.mutex_);
  if (self.abandoned_) return 1;
  if (!self.execution_) return 0;
  return self.execution_->stopRequested() ? 1 : 0;
}

}  // namespace blueprint::host
