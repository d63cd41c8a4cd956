// SPDX-License-Identifier: Apache-2.0
#include <algorithm>

#include "core_blocks.hpp"

namespace blueprint::core {

namespace {
constexpr double kMaxMs = 365.0 * 24 * 3600 * 1000;
}  // namespace

BlockSpec Delay::spec() {
  return BlockSpec(kType, "Delay")
      .description(
          "Waits `ms` milliseconds without holding a thread (the host's timer, ABI 1.3); the "
          "result is null. Cancellation, a Return Value on another branch and the run's "
          "timeout cut it short. A negative or missing `ms` fails the run (there is no `error` "
          "end state to route).")
      .field(Field::number("ms").required().description("How long to wait, in milliseconds."))
      .endStates({"success"})
      .async()
      .example(R"({"ms":100})", "null");
}

Result Delay::run(Context& ctx, const Json& fields) {
  const Json ms_field = fields.value("ms", Json());
  if (!ms_field.is_number()) return Result::error("ms is null, not a number of milliseconds");
  const double ms = ms_field.get<double>();
  if (ms < 0) return Result::error("ms must not be negative");
  // Anything longer than a year outlasts every run timeout; the clamp keeps the cast defined.
  const double bounded_ms = std::min(ms, kMaxMs);
  const auto wait = std::chrono::milliseconds(static_cast<std::int64_t>(bounded_ms));
  if (!ctx.canDefer()) {
    // A host older than ABI 1.3: wait on this thread. Cut short, the host sees a failure while
    // the run is stopping and records a cancellation.
    if (!ctx.sleepFor(wait)) return Result::error("cancelled");
    return Result::success();
  }
  // No thread waits (issue 12): the host's timer completes the call, and a cancel, the run's
  // timeout or a Return Value elsewhere completes it at once through onCancel.
  Pending pending = ctx.defer();
  pending.onCancel([pending]() mutable { pending.complete(Result::cancelled()); });
  pending.after(wait, [pending]() mutable { pending.complete(Result::success()); });
  return Result::pending();
}

}  // namespace blueprint::core
