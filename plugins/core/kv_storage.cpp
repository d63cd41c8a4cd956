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

Result KvStorage::run(Context& ctx, const Json& json) {
  const Fields fields(json);
  // Both may come from templates that resolved to null: name the field instead of throwing.
  const std::optional<std::string> action = fields.optional<std::string>("action");
  if (!action) return Result::error("action is null, not get, set or delete");
  const std::string key = fields.optional<std::string>("key").value_or("");
  if (key.empty()) return Result::error("key is empty");
  if (*action == "get") return Result::success(ctx.kvGet(key).value_or(Json()));
  if (*action == "set") {
    Json value = fields.optional<Json>("value").value_or(Json());
    ctx.kvSet(key, value);
    return Result::success(std::move(value));
  }
  if (*action == "delete") return Result::success(ctx.kvDelete(key));
  return Result::error("action '" + *action + "' is not get, set or delete");
}

}  // namespace blueprint::core
