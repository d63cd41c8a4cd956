// SPDX-License-Identifier: Apache-2.0
#include "core_blocks.hpp"

namespace blueprint::core {

BlockSpec SetState::spec() {
  return BlockSpec(kType, "Set state")
      .description(
          "Sets run-scoped state at a dot path (`order.user.id`), creating missing "
          "parent objects. Later blocks read it as `@{state.<key>}`.")
      .field(Field::string("key").required().description("Dot path of the state entry."))
      .field(Field::any("value")
                 .jsonWhen("value_type", "json")
                 .description(
                     "The value; with value_type json, JSON text parsed before it is stored."))
      .field(Field::select("value_type", {"text", "json"})
                 .defaultValue("text")
                 .description("`text` stores the value as rendered; `json` parses it."))
      .endStates({"success", "error"})
      .instant()
      .example(R"({"key":"order.id","value":"42"})", R"("42")");
}

Result SetState::run(Context& ctx, const Json& fields) {
  const Json& key = fields.at("key");
  if (!key.is_string() || key.get_ref<const std::string&>().empty())
    return Result::error("key is empty");
  Json value = fields.value("value", Json());
  ctx.setState(key.get_ref<const std::string&>(), value);
  return Result::success(std::move(value));
}

}  // namespace blueprint::core
