// SPDX-License-Identifier: Apache-2.0
#include "core_blocks.hpp"

namespace blueprint::core {

BlockSpec ReturnValue::spec() {
  return BlockSpec(kType, "Return Value")
      .description(
          "Ends the run and returns `value` to the caller (the last SSE delta, the "
          "job's artifact). The first Return Value to fire wins. Empty strings, lists "
          "and objects are valid values; only null is an error.")
      .field(Field::any("value").required().description("The value to return."))
      .endStates({"success", "error"})
      .instant()
      .role("return")
      .example(R"({"value":"Hello, Ada"})", R"("Hello, Ada")");
}

Result ReturnValue::run(Context&, const Json& fields) {
  auto it = fields.find("value");
  if (it == fields.end() || it->is_null()) return Result::error("value is null");
  return Result::success(*it);
}

}  // namespace blueprint::core
