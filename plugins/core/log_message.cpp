// SPDX-License-Identifier: Apache-2.0
#include "core_blocks.hpp"

namespace blueprint::core {

BlockSpec LogMessage::spec() {
  return BlockSpec(kType, "Log message")
      .description(
          "Writes `message` to the host log and the run trace at the given level; the "
          "result is the message as text (non-text values as JSON). A message that "
          "resolves to nothing (null or empty text) and a level that is not info, warning "
          "or error end in `error`.")
      .field(Field::select("level", {"info", "warning", "error"})
                 .defaultValue("info")
                 .description("Severity."))
      .field(Field::string("message").required().description("Text to log."))
      .endStates({"success", "error"})
      .instant()
      .example(R"({"level":"info","message":"started"})", R"("started")");
}

Result LogMessage::run(Context& ctx, const Json& fields) {
  const auto found = fields.find("message");
  // As in Writer Framework: an empty message is an error, not an empty log line.
  if (found == fields.end() || found->is_null() ||
      (found->is_string() && found->get_ref<const std::string&>().empty()))
    return Result::error("message is required");
  const Json& message = *found;
  std::string text = message.is_string() ? message.get<std::string>() : message.dump();
  // Deploy checks a literal level; one that comes from a template is checked here.
  const Json level = fields.value("level", Json("info"));
  const std::string name = level.is_string() ? level.get<std::string>() : level.dump();
  LogLevel lv = LogLevel::Info;
  if (name == "error")
    lv = LogLevel::Error;
  else if (name == "warning")
    lv = LogLevel::Warning;
  else if (name != "info")
    return Result::error("level '" + name + "' is not one of: info, warning, error");
  ctx.log(lv, text);
  return Result::success(std::move(text));
}

}  // namespace blueprint::core
