// SPDX-License-Identifier: Apache-2.0
// Fuzzes the bounded JSON parser (sdk/include/blueprint/json_limits.hpp) that every request body
// and every JSON from outside goes through: any bytes must get the same verdict as nlohmann's own
// parse (up to the depth bound), the same value when accepted, and a value that copies and dumps
// without exceptions. A mismatch or a crash is a finding.
#include <blueprint/json_limits.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace {

constexpr std::size_t kMaxDepth = 16;  // small, so the fuzzer reaches it often

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const blueprint::JsonParse bounded = blueprint::parseJsonLimited(text, kMaxDepth);
  const nlohmann::json plain = nlohmann::json::parse(text, nullptr, false);
  if (bounded.ok()) {
    // Accepted: nlohmann accepts it too, with the same value, within the bound.
    if (plain.is_discarded() || plain != bounded.value) std::abort();
    if (blueprint::jsonDepth(bounded.value) > kMaxDepth) std::abort();
    const nlohmann::json copy = bounded.value;
    (void)copy.dump();  // parsed JSON holds only UTF-8: a strict dump must not throw
  } else if (bounded.status == blueprint::JsonParse::Status::Malformed) {
    if (!plain.is_discarded()) std::abort();
    if (bounded.error.empty() || !blueprint::isValidUtf8(bounded.error)) std::abort();
  } else {
    // Too deep: nlohmann may accept it (deeper than the bound) or find an error further on.
    if (!plain.is_discarded() && blueprint::jsonDepth(plain) <= kMaxDepth) std::abort();
    if (!bounded.value.is_null()) std::abort();
  }
  // The UTF-8 repair always yields text a strict dump accepts.
  const std::string repaired = blueprint::toValidUtf8(text);
  if (!blueprint::isValidUtf8(repaired)) std::abort();
  (void)nlohmann::json(repaired).dump();
  if (blueprint::isValidUtf8(text) != (repaired == text)) std::abort();
  return 0;
}
