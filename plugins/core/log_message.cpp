// SPDX-License-Identifier: Apache-2.0
#include "core_blocks.hpp"

namespace blueprint::core {

BlockSpec LogMessage::spec() {
  return BlockSpec(kType, "Log message")
      .description("Writes `message` to the host log and the run trace at the given level.")
      .field(Field::select("level", {"info", "warning", "error"})
                 .defaultValue("info")
                 .description("Severity."))
      .field(Field::string("message").required().description("Text to log."))
      .endStates({"success", "error"})
      .instant()
      .example(R"({"level":"info","message":"started"})", R"("started")");
}

Result LogMessage::run(Context& ctx, const Json& fields) {
  const Json& message = fields.at("message");
  std::string text = message.is_string() ? message.get<std::string>() : message.dump();
  const std::string level = fields.value("level", "info");
  LogLevel lv = level == "error"     ? LogLevel::Error
                : level == "warning" ? LogLevel::Warning
                                     : LogLevel::Info;
  ctx.log(lv, text);
  return Result::success(std::move(text));
}

}  // namespace blueprint::core
