// SPDX-License-Identifier: Apache-2.0
// Fuzzes the path a plugin's result takes into the engine (host/src/engine/block_output.cpp):
// any bytes as a block's output text, and (when they parse) the same value as a native result
// (ABI 1.2). Both must be taken or refused without exceptions, a taken value must respect the
// limits and dump as strict JSON, and text and native forms must get the same verdict.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "engine/block_output.hpp"
#include "engine/json_text_size.hpp"

using blueprint::host::acceptBlockOutput;
using blueprint::host::BlockOutput;
using blueprint::host::Json;
using blueprint::host::RunLimits;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  RunLimits limits;
  limits.json_max_depth = 16;
  limits.max_output_bytes = 4096;
  const BlockOutput from_text = acceptBlockOutput(text, nullptr, limits);
  if (from_text.error.empty()) {
    if (blueprint::jsonDepth(from_text.value) > limits.json_max_depth) std::abort();
    (void)from_text.value.dump();
  } else if (!from_text.value.is_null()) {
    std::abort();
  }
  // The same value handed over natively: the walk must agree with the parse.
  const Json parsed = Json::parse(text, nullptr, false);
  if (!parsed.is_discarded() && !parsed.is_null() && from_text.error.empty()) {
    const BlockOutput native = acceptBlockOutput(std::string(), parsed, limits);
    // Text may hold spaces the value does not: a value taken as text is taken natively.
    if (!native.error.empty() || native.value != from_text.value) std::abort();
  }
  // A native string that is not UTF-8 (a C plugin can hand over anything) is refused, never
  // passed on to a dump that would throw.
  const BlockOutput raw = acceptBlockOutput(std::string(), Json(text), limits);
  if (raw.error.empty()) (void)raw.value.dump();
  if (!blueprint::isValidUtf8(text) && raw.error.empty()) std::abort();
  return 0;
}
