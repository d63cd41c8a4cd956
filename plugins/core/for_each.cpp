// SPDX-License-Identifier: Apache-2.0
#include "core_blocks.hpp"

namespace blueprint::core {

BlockSpec ForEach::spec() {
  return BlockSpec(kType, "For-each")
      .description(
          "Runs the blocks behind the `loop` end state once per item, in order. Each "
          "iteration sees `@{item}` and `@{itemId}` (the index, or the key of an "
          "object), and `@{<prefix>_item}` / `@{<prefix>_itemId}` with a prefix. The "
          "result is the list (or object) of each iteration's Return Value (null for an "
          "iteration without one); inside the loop `@{result}` is the item. An "
          "iteration's error fails the block, naming the iteration. Every block of every "
          "iteration counts toward the run's step limit.")
      .field(Field::json("items").required().description("A JSON list or object to iterate."))
      .field(Field::string("prefix").description("Also expose the item as `<prefix>_item`."))
      .endStates({"loop", "success", "error"})
      .branchStates({"loop"})
      .example(R"({"items":"[1,2]"})", R"([null,null])");
}

Result ForEach::run(Context& ctx, const Json& fields) {
  const Json& items = fields.at("items");
  if (!items.is_array() && !items.is_object())
    return Result::error("items must be a JSON list or object, got " +
                         std::string(items.type_name()));
  const std::string prefix = fields.value("prefix", "");
  Json results = items.is_array() ? Json::array() : Json::object();
  std::size_t index = 0;
  for (auto it = items.begin(); it != items.end(); ++it, ++index) {
    if (ctx.cancelled()) return Result::error("cancelled");
    Json id = items.is_array() ? Json(index) : Json(it.key());
    Json scope = {{"item", *it}, {"itemId", id}};
    if (!prefix.empty()) {
      scope[prefix + "_item"] = *it;
      scope[prefix + "_itemId"] = id;
    }
    Json value;
    try {
      value = ctx.runBranch("loop", scope);
    } catch (const blueprint::Error& e) {
      return Result::error("iteration " + id.dump() + ": " + e.what());
    }
    if (items.is_array())
      results.push_back(std::move(value));
    else
      results[it.key()] = std::move(value);
  }
  return Result::success(std::move(results));
}

}  // namespace blueprint::core
