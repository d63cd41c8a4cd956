// SPDX-License-Identifier: Apache-2.0
#include "core_blocks.hpp"

namespace blueprint::core {

BlockSpec ParseJson::spec() {
  return BlockSpec(kType, "Parse JSON")
      .description(
          "Parses `text` as JSON; the parsed value is the result. A value that is already "
          "JSON (a field that is exactly one `@{…}` of a list, object, number or boolean) "
          "passes unchanged. Empty text, null (a path that did not resolve) and text that "
          "does not parse end in `error`, naming the byte where parsing stopped.")
      .field(Field::string("text").required().description("JSON text."))
      .endStates({"success", "error"})
      .instant()
      .example(R"({"text":"{\"a\":1}"})", R"({"a":1})");
}

Result ParseJson::run(Context&, const Json& fields) {
  const Json text = fields.value("text", Json());
  // A template that resolved to nothing (a mistyped path) must not pass as a parsed null.
  if (text.is_null()) return Result::error("text is null: there is nothing to parse");
  // A value that is already JSON (a template that kept its type) needs no parsing.
  if (!text.is_string()) return Result::success(text);
  const std::string& source = text.get_ref<const std::string&>();
  if (source.find_first_not_of(" \t\r\n") == std::string::npos)
    return Result::error("text is empty: there is nothing to parse");
  try {
    return Result::success(Json::parse(source));
  } catch (const Json::parse_error& e) {
    // The position only: the text may hold secrets, and nlohmann's message quotes it.
    if (e.byte > source.size())
      return Result::error("text is not valid JSON (it ends before the value is complete)");
    return Result::error("text is not valid JSON (syntax error at byte " + std::to_string(e.byte) +
                         " of " + std::to_string(source.size()) + ")");
  }
}

}  // namespace blueprint::core
