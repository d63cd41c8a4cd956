// SPDX-License-Identifier: Apache-2.0
// pending_call.hpp: one deferred block call (ABI 1.3, bp_host_api.defer): the bp_pending handle
// a block completes later, from any thread. It holds no thread while it waits. It keeps what
// the call needs alive until complete() (the compiled agent with the block's instance, the
// plugin's loaded library: a hot-swapped generation stays loaded until its last pending call
// completed), tells the block when its run stops (on_cancel), and runs its timers on the
// engine's timer service.
#pragma once

#include <blueprint/block_abi.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/run_context.hpp"

namespace blueprint::host {

/// A deferred call. Created by bp_host_api.defer; owns itself until complete() (and every
/// callback and run() of the call) returned. Thread-safe.
class PendingCall : public std::enable_shared_from_this<PendingCall> {
 public:
  /// Defers `call` (bp_host_api.defer). Null when it was already deferred.
  static bp_pending* defer(BlockCall& call, void (*on_cancel)(void*), void* user, bool native);

  /// The block's run() returned (after defer); `logs` it wrote through bp_host_api.log meanwhile
  /// go into its trace entry.
  void runReturned(std::vector<Json> logs);
  /// When the call's execution stopped (cancel, timeout, a Return Value or error elsewhere):
  /// ends the call in the run as cancelled and tells the block through on_cancel. The block
  /// still owns the handle until its complete().
  void cancelIfStopped();

  PendingCall(const BlockCall& call, void (*on_cancel)(void*), void* user, bool native);

 private:
  static PendingCall& of(void* ctx) { return *static_cast<PendingCall*>(ctx); }
  static void completeText(void* ctx, bp_status status, const char* output, std::size_t output_size,
                           const char* end_state, std::size_t end_state_size, const char* error,
                           std::size_t error_size);
  static void completeNative(void* ctx, bp_status status, void* output, const char* end_state,
                             std::size_t end_state_size, const char* error, std::size_t error_size);
  static bp_status after(void* ctx, std::uint64_t ms, void (*fire)(void*), void* user);
  static void emitDelta(void* ctx, const char* text, std::size_t size);
  static void log(void* ctx, std::int32_t level, const char* message, std::size_t size);
  static std::int32_t isCancelled(void* ctx);

  void complete(bp_status status, std::string output, Json native_output, std::string end_state,
                std::string error);
  void fireTimer(void (*fire)(void*), void* user);
  /// Waits until no callback of this call runs on another thread; mutex_ held.
  void waitForOtherCallbacks(std::unique_lock<std::mutex>& lock);
  void leaveCallback();
  /// Drops the handle's own reference once completed, with run() and every callback returned;
  /// mutex_ held. The reference is destroyed by the caller after unlocking.
  std::shared_ptr<PendingCall> releaseIfDoneLocked();

  mutable std::mutex mutex_;
  std::condition_variable callbacks_done_;
  bp_pending handle_{};
  std::shared_ptr<PendingCall> self_;
  std::shared_ptr<Execution> execution_;  ///< null once delivered or abandoned
  std::shared_ptr<RunShared> run_;        ///< null once delivered or abandoned
  std::shared_ptr<const CompiledAgent> agent_pin_;
  std::shared_ptr<const BlockType> type_pin_;
  std::size_t block_;
  std::uint32_t local_;
  std::string block_id_;
  std::chrono::steady_clock::time_point started_;
  std::vector<Json> logs_;
  void (*on_cancel_)(void*);
  void* user_;
  bool completed_ = false;
  bool abandoned_ = false;
  bool run_returned_ = false;
  /// Threads running on_cancel or a timer callback of this call now.
  std::vector<std::thread::id> callback_threads_;
  std::vector<TimerService::TimerId> timers_;
};

}  // namespace blueprint::host
