// SPDX-License-Identifier: Apache-2.0
#include "core_blocks.hpp"

namespace blueprint::core {

BlockSpec Delay::spec() {
  return BlockSpec(kType, "Delay")
      .description("Waits `ms` milliseconds. Cancellation and the run's timeout cut it short.")
      .field(Field::number("ms").required().description("How long to wait, in milliseconds."))
      .endStates({"success"})
      .example(R"({"ms":100})", "null");
}

Result Delay::run(Context& ctx, const Json& fields) {
  const double ms = fields.at("ms").get<double>();
  if (ms < 0) return Result::error("ms must not be negative");
  // Cut short: the host sees a failure while the run is stopping and records a cancellation.
  if (!ctx.sleepFor(std::chrono::milliseconds(static_cast<std::int64_t>(ms))))
    return Result::error("cancelled");
  return Result::success();
}

}  // namespace blueprint::core
