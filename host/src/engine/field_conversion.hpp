// SPDX-License-Identifier: Apache-2.0
// field_conversion.hpp: a rendered field value to its manifest type (DESIGN §3: a literal of the
// type, or text that converts). Used per run for templated fields and once at compile time for
// constant ones.
#pragma once

#include <blueprint/json_limits.hpp>
#include <cstddef>
#include <string>

#include "plugins/catalog.hpp"

namespace blueprint::host {

/// Converts `value` in place to `spec`'s type; false with `error` (e.g. "is not a number") when it
/// cannot. Null and `any`/`json` fields pass unchanged. Text parsed into an object or list may
/// nest at most `max_depth` levels.
bool convertField(const FieldSpec& spec, Json& value, std::string& error,
                  std::size_t max_depth = kDefaultJsonMaxDepth);

}  // namespace blueprint::host
