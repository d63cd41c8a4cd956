// SPDX-License-Identifier: Apache-2.0
#include "engine/block_output.hpp"

#include <blueprint/json_limits.hpp>

#include "engine/json_text_size.hpp"

namespace blueprint::host {

namespace {

std::string tooLarge(std::size_t bytes, const RunLimits& limits) {
  return "output of " + std::to_string(bytes) + " bytes exceeds the run's max output size of " +
         std::to_string(limits.max_output_bytes) + " bytes";
}

std::string tooDeep(const RunLimits& limits) {
  return "the block returned output that nests objects and lists deeper than the limit of " +
         std::to_string(limits.json_max_depth) + " levels (json_max_depth)";
}

}  // namespace

BlockOutput acceptBlockOutput(const std::string& text, Json native, const RunLimits& limits) {
  BlockOutput out;
  if (!text.empty()) {
    if (text.size() > limits.max_output_bytes) {
      out.error = tooLarge(text.size(), limits);
      return out;
    }
    JsonParse parsed = parseJsonLimited(text, limits.json_max_depth);
    if (parsed.status == JsonParse::Status::TooDeep)
      out.error = tooDeep(limits);
    else if (!parsed.ok())
      out.error = "the block returned output that is not valid JSON";
    else
      out.value = std::move(parsed.value);
    return out;
  }
  if (native.is_null()) return out;
  // One walk gives what parsing gives text: its size as text, its depth, valid UTF-8.
  const JsonTextSize size = measureJsonText(native, limits.max_output_bytes, limits.json_max_depth);
  if (!size.valid_utf8)
    out.error = "the block returned output that is not valid JSON (a string is not UTF-8)";
  else if (size.depth > limits.json_max_depth)
    out.error = tooDeep(limits);
  else if (size.bytes > limits.max_output_bytes)
    out.error = tooLarge(measureJsonText(native, SIZE_MAX).bytes, limits);
  else
    out.value = std::move(native);
  return out;
}

}  // namespace blueprint::host
