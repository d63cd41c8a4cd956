// SPDX-License-Identifier: Apache-2.0
#include "core_blocks.hpp"

namespace blueprint::core {

BlockSpec SetState::spec() {
  return BlockSpec(kType, "Set state")
      .description(
          "Sets run-scoped state at a dot path (`order.user.id`), creating missing "
          "parent objects. Later blocks read it as `@{state.<key>}`. With value_type "
          "json, a value that is exactly one `@{…}` resolving to text is parsed as JSON "
          "(as Writer Framework does).")
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

namespace {
bool isJsonValueType(const Json& fields) {
  const auto value_type = fields.find("value_type");
  return value_type != fields.end() && *value_type == "json";
}
}  // namespace

SetState::SetState(const Json& config) {
  auto value = config.find("value");
  if (value == config.end() || !value->is_string()) return;
  const std::string& text = value->get_ref<const std::string&>();
  // `@{path}`: a path holds no `}`, so the first `}` must be the last character.
  value_is_one_template_ =
      text.size() > 3 && text.compare(0, 2, "@{") == 0 && text.find('}') == text.size() - 1;
}

Result SetState::run(Context& ctx, const Json& fields) {
  const Json& key = fields.at("key");
  if (!key.is_string() || key.get_ref<const std::string&>().empty())
    return Result::error("key is empty");
  Json value = fields.value("value", Json());
  // JSON mode inserts what `@{x}` resolves to as a JSON literal, so text holding JSON arrives
  // here as a string; Writer Framework parses such text once more, and blueprints rely on it.
  if (value_is_one_template_ && value.is_string() && isJsonValueType(fields)) {
    Json parsed = Json::parse(value.get_ref<const std::string&>(), nullptr, false);
    if (parsed.is_discarded())
      return Result::error("field 'value': the text it resolved to is not valid JSON");
    value = std::move(parsed);
  }
  ctx.setState(key.get_ref<const std::string&>(), value);
  return Result::success(std::move(value));
}

}  // namespace blueprint::core
