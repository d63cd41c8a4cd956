// SPDX-License-Identifier: Apache-2.0
#include "core_blocks.hpp"

namespace blueprint::core {

BlockSpec AddToStateList::spec() {
  return BlockSpec(kType, "Add to state list")
      .description(
          "Appends `value` to the list at state `key` (a dot path), creating the list "
          "when it does not exist. The result is the whole list.")
      .field(Field::string("key").required().description("Dot path of the list in state."))
      .field(Field::any("value").description("The value to append."))
      .endStates({"success", "error"})
      .instant()
      .example(R"({"key":"seen","value":"a"})", R"(["a"])");
}

Result AddToStateList::run(Context& ctx, const Json& fields) {
  const Json& key = fields.at("key");
  if (!key.is_string() || key.get_ref<const std::string&>().empty())
    return Result::error("key is empty");
  const std::string& path = key.get_ref<const std::string&>();
  Json list = ctx.state(path).value_or(Json::array());
  if (list.is_null()) list = Json::array();
  if (!list.is_array())
    return Result::error("state '" + path + "' holds " + std::string(list.type_name()) +
                         ", not a list");
  list.push_back(fields.value("value", Json()));
  ctx.setState(path, list);
  return Result::success(std::move(list));
}

}  // namespace blueprint::core
