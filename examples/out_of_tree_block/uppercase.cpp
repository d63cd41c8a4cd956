// SPDX-License-Identifier: Apache-2.0
// An out-of-tree block built against the installed SDK: upper-cases its `text` field.
// [uppercase]
#include <blueprint/sdk.hpp>

#include <cctype>

namespace acme {

/// Upper-cases `text`. Takes the `error` end state when `text` is empty.
class Uppercase final : public blueprint::Block {
 public:
  static constexpr std::string_view kType = "acme.uppercase";

  static blueprint::BlockSpec spec() {
    return blueprint::BlockSpec(kType, "Uppercase")
        .description("Returns the `text` field in upper case.")
        .field(blueprint::Field::string("text").required().description("Text to convert."))
        .endStates({"success", "error"})
        .instant()
        .example(R"({"text":"hi"})", R"("HI")");
  }

  blueprint::Result run(blueprint::Context& ctx, const blueprint::Json& fields) override {
    std::string text = fields.at("text").get<std::string>();
    if (text.empty()) return blueprint::Result::error("text is empty");
    for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    ctx.log(blueprint::LogLevel::Debug, "upper-cased " + std::to_string(text.size()) + " bytes");
    return blueprint::Result::success(text);  // what the next block sees as @{result}
  }
};

}  // namespace acme

// Expands to bp_plugin_v1(): manifest JSON, init/deinit and noexcept thunks for every listed type.
BLUEPRINT_PLUGIN("com.acme.text", "1.2.0", acme::Uppercase)
// [uppercase]
