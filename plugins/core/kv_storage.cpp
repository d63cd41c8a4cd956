// SPDX-License-Identifier: Apache-2.0
#include "core_blocks.hpp"

namespace blueprint::core {

BlockSpec KvStorage::spec() {
  return BlockSpec(kType, "Key-value storage")
      .description(
          "Gets, sets or deletes `key` in the agent's persistent key-value store (the "
          "host's database: it survives runs and restarts and is shared by hosts on one "
          "database). `get` of a missing key gives null; `set` returns the value; "
          "`delete` returns whether the key existed.")
      .field(
          Field::select("action", {"get", "set", "delete"}).required().description("What to do."))
      .field(Field::string("key").required().description("The entry's key."))
      .field(Field::any("value").description("The value to store (for set)."))
      .endStates({"success", "error"})
      .example(R"({"action":"set","key":"greeting","value":"hi"})", R"("hi")");
}

Result KvStorage::run(Context& ctx, const Json& fields) {
  // Both may come from templates that resolved to null: name the field instead of throwing.
  const Json action_field = fields.value("action", Json());
  const Json key_field = fields.value("key", Json());
  if (!action_field.is_string())
    return Result::error("action is " + std::string(action_field.type_name()) +
                         ", not get, set or delete");
  if (!key_field.is_string() || key_field.get_ref<const std::string&>().empty())
    return Result::error("key is empty");
  const std::string& action = action_field.get_ref<const std::string&>();
  const std::string& key = key_field.get_ref<const std::string&>();
  if (action == "get") return Result::success(ctx.kvGet(key).value_or(Json()));
  if (action == "set") {
    Json value = fields.value("value", Json());
    ctx.kvSet(key, value);
    return Result::success(std::move(value));
  }
  if (action == "delete") return Result::success(ctx.kvDelete(key));
  return Result::error("action '" + action + "' is not get, set or delete");
}

}  // namespace blueprint::core
