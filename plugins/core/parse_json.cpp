// SPDX-License-Identifier: Apache-2.0
#include "core_blocks.hpp"

namespace blueprint::core {

BlockSpec ParseJson::spec() {
  return BlockSpec(kType, "Parse JSON")
      .description("Parses `text` as JSON; the parsed value is the result.")
      .field(Field::string("text").required().description("JSON text."))
      .endStates({"success", "error"})
      .instant()
      .example(R"({"text":"{\"a\":1}"})", R"({"a":1})");
}

Result ParseJson::run(Context&, const Json& fields) {
  const Json& text = fields.at("text");
  // A value that is already JSON (a template that kept its type) needs no parsing.
  if (!text.is_string()) return Result::success(text);
  Json parsed = Json::parse(text.get_ref<const std::string&>(), nullptr, false);
  if (parsed.is_discarded()) return Result::error("text is not valid JSON");
  return Result::success(std::move(parsed));
}

}  // namespace blueprint::core
