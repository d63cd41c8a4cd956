// SPDX-License-Identifier: Apache-2.0
#include "core_blocks.hpp"

namespace blueprint::core {

BlockSpec RunBlueprint::spec() {
  return BlockSpec(kType, "Run blueprint")
      .description(
          "Runs another blueprint of the same deployed agent version. Its payload, and "
          "its trigger's result, is `payload` (parsed as JSON when it parses, else the "
          "text); state is shared. A Return Value in the sub-run ends only the sub-run "
          "and is this block's result. Nesting is bounded by the run's max depth (32 by "
          "default); an unknown blueprint, a failed sub-run or too deep a nesting end in "
          "`error`.")
      .field(Field::string("blueprint_id").required().description("Id of the blueprint to run."))
      .field(Field::any("payload").description("Payload of the sub-run."))
      .endStates({"success", "error"})
      .instant()  // the blocks of the sub-run flush on their own
      .example(R"({"blueprint_id":"greet","payload":"{\"inputs\":{\"name\":\"Ada\"}}"})",
               R"("Hello, Ada")");
}

Result RunBlueprint::run(Context& ctx, const Json& json) {
  const Fields fields(json);
  const std::string id = fields.optional<std::string>("blueprint_id").value_or("");
  if (id.empty()) return Result::error("blueprint_id is empty");
  Json payload = fields.optional<Json>("payload").value_or(Json());
  if (payload.is_string()) {
    // Bounded like every JSON from outside: text nested past the limit stays text.
    JsonParse parsed = parseJsonLimited(payload.get_ref<const std::string&>(), ctx.jsonMaxDepth());
    if (parsed.ok()) payload = std::move(parsed.value);
  }
  try {
    return Result::success(ctx.runBlueprint(id, payload));
  } catch (const blueprint::Error& e) {
    return Result::error(e.what());
  }
}

}  // namespace blueprint::core
