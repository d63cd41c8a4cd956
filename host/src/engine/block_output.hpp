// SPDX-License-Identifier: Apache-2.0
// block_output.hpp: the checks a block's result passes before the run takes it (DESIGN §4,
// docs/security.md). A result crosses the ABI as JSON text or, on the native path (ABI 1.2), as
// a value; both get the same checks: size as text, nesting depth, strings that are UTF-8.
#pragma once

#include <string>

#include "blueprint/template.hpp"
#include "engine/run_limits.hpp"

namespace blueprint::host {

/// A block's result as the run takes it, or why it was refused.
struct BlockOutput {
  /// The result; null when refused.
  Json value;
  /// Empty when taken; else a sentence naming the limit or defect (the block's error).
  std::string error;
};

/// Takes `text` (the text ABI's output, parsed with the depth bound) or, when `text` is empty,
/// `native` (walked once). Refuses output over limits.max_output_bytes, nested deeper than
/// limits.json_max_depth, or not valid JSON (malformed text, a string that is not UTF-8).
BlockOutput acceptBlockOutput(const std::string& text, Json native, const RunLimits& limits);

}  // namespace blueprint::host
