// SPDX-License-Identifier: Apache-2.0
// json_text_size.hpp: what a JSON value would cost as text, without writing the text. A block
// on the native JSON path (ABI 1.2) hands the host a value instead of text, so the checks the
// text path gets from parsing — the output size limit, and strings that are valid UTF-8 — are
// made here by walking the value once.
#pragma once

#include <cstddef>
#include <cstdint>

#include "blueprint/template.hpp"

namespace blueprint::host {

struct JsonTextSize {
  /// Exactly value.dump().size(), or some size above `stop` once counting passed it.
  std::size_t bytes = 0;
  /// False when a string or key is not valid UTF-8 (value.dump() would throw).
  bool valid_utf8 = true;
  /// Nesting depth (a scalar 0, `[]` 1) of the part walked: exact when the walk was not stopped.
  std::size_t depth = 0;
};

/// Measures `value` as compact JSON text; stops counting once past `stop` bytes or nested deeper
/// than `stop_depth`.
JsonTextSize measureJsonText(const Json& value, std::size_t stop,
                             std::size_t stop_depth = SIZE_MAX);

}  // namespace blueprint::host
