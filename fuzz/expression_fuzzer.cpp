// SPDX-License-Identifier: Apache-2.0
// Fuzzes the if_else expression language (plugins/core/expression.cpp): any bytes parsed, and
// what parses evaluated against a small environment. Only ExpressionError (a parse or type
// error, by contract) may leave parse() or evaluate(); a crash, a sanitizer report or another
// exception is a finding.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "expression.hpp"

namespace {

using blueprint::core::Expression;
using blueprint::core::ExpressionError;
using blueprint::core::Json;

Json resolve(const std::string& path) {
  static const Json env = {{"result", {{"items", {1, "two", {{"id", 3}}}}, {"name", "Ada"}}},
                           {"state", {{"n", 7}, {"f", 1.5}, {"big", 18446744073709551615u}}},
                           {"item", "x"},
                           {"flag", true}};
  const Json* at = &env;
  std::size_t start = 0;
  while (at != nullptr && start <= path.size()) {
    const std::size_t dot = std::min(path.find('.', start), path.size());
    const std::string segment = path.substr(start, dot - start);
    start = dot + 1;
    if (at->is_object()) {
      auto it = at->find(segment);
      at = it == at->end() ? nullptr : &*it;
    } else if (at->is_array() && segment.size() == 1 && segment[0] >= '0' && segment[0] <= '9') {
      const std::size_t index = static_cast<std::size_t>(segment[0] - '0');
      at = index < at->size() ? &(*at)[index] : nullptr;
    } else {
      at = nullptr;
    }
  }
  return at != nullptr ? *at : Json();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const Expression expression = Expression::parse(text);
    (void)expression.evaluate(&resolve).dump(-1, ' ', false, Json::error_handler_t::replace);
  } catch (const ExpressionError&) {
    // A syntax or type error, reported to the block's `error` end state by contract.
  }
  return 0;
}
