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

Result ParseJson::run(Context& ctx, const Json& fields) {
  const Json text = fields.value("text", Json());
  // A template that resolved to nothing (a mistyped path) must not pass as a parsed null.
  if (text.is_null()) return Result::error("text is null: there is nothing to parse");
  // A value that is already JSON (a template that kept its type) needs no parsing.
  if (!text.is_string()) return Result::success(text);
  const std::string& source = text.get_ref<const std::string&>();
  if (source.find_first_not_of(" \t\r\n") == std::string::npos)
    return Result::error("text is empty: there is nothing to parse");
  const std::size_t max_depth = ctx.jsonMaxDepth();
  JsonParse parsed = parseJsonLimited(source, max_depth);
  if (parsed.ok()) return Result::success(std::move(parsed.value));
  if (parsed.status == JsonParse::Status::TooDeep)
    return Result::error("text nests objects and lists deeper than the limit of " +
                         std::to_string(max_depth) + " levels");
  // The position only: the text may hold secrets, and nlohmann's message quotes it.
  if (parsed.byte > source.size())
    return Result::error("text is not valid JSON (it ends before the value is complete)");
  return Result::error("text is not valid JSON (syntax error at byte " +
                       std::to_string(parsed.byte) + " of " + std::to_string(source.size()) + ")");
}

}  // namespace blueprint::core
