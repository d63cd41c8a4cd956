// SPDX-License-Identifier: Apache-2.0
#include "core_blocks.hpp"

namespace blueprint::core {

BlockSpec ApiTrigger::spec() {
  return BlockSpec(kType, "API Trigger")
      .description(
          "Starts the blueprint from an API call. Its result is the request body "
          "(`{\"inputs\":{…}}`), or the Default result when the payload is empty "
          "(the editor's Run blueprint button).")
      .field(Field::any("default_result")
                 .description("Result used when the run has no payload: JSON, or plain text."))
      .endStates({"trigger"})
      .instant()
      .role("trigger")
      .example(R"({"default_result":"{\"inputs\":{\"name\":\"Ada\"}}"})",
               R"({"inputs":{"name":"Ada"}})");
}

namespace {
bool isEmptyPayload(const std::optional<Json>& payload) {
  return !payload || payload->is_null() || (payload->is_object() && payload->empty());
}
}  // namespace

Result ApiTrigger::run(Context& ctx, const Json& fields) {
  std::optional<Json> payload = ctx.env("payload");
  if (!isEmptyPayload(payload)) return Result::endState("trigger", std::move(*payload));
  auto it = fields.find("default_result");
  if (it == fields.end() || it->is_null()) return Result::endState("trigger", Json::object());
  if (it->is_string()) {
    // The editor stores the Default result as text; use its JSON value when it is JSON.
    // Bounded like every JSON from outside: text nested past the limit stays text.
    JsonParse parsed = parseJsonLimited(it->get_ref<const std::string&>(), ctx.jsonMaxDepth());
    return Result::endState("trigger", parsed.ok() ? std::move(parsed.value) : *it);
  }
  return Result::endState("trigger", *it);
}

}  // namespace blueprint::core
