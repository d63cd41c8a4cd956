// SPDX-License-Identifier: Apache-2.0
// Fuzzes `@{path}` templates (host/src/blueprint/template.cpp): any bytes as a field value,
// compiled in Text and Json mode and rendered against a small environment. Only TemplateError
// (a Json-mode parse failure) may leave render(); anything else is a finding.
#include <cstddef>
#include <cstdint>
#include <string>

#include "blueprint/template.hpp"

namespace {

using blueprint::host::Json;
using blueprint::host::Path;
using blueprint::host::Template;
using blueprint::host::TemplateError;
using blueprint::host::walkPath;

class FixedEnv final : public blueprint::host::TemplateEnv {
 public:
  Json lookup(const Path& path) const override {
    static const Json env = {
        {"result", {{"items", {1, "two", {{"id", 3}}}}, {"name", "Ada"}}},
        {"payload", {{"inputs", {{"x", nullptr}, {"s", "\"quoted\\\""}}}}},
        {"state", {{"k", {1.5, true}}}},
        {"message", "m"}};
    const Json* found = walkPath(env, path.segments);
    return found != nullptr ? *found : Json();
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const FixedEnv env;
  // A field value is JSON: as a string it may hold any valid UTF-8; as parsed JSON (when the
  // input is JSON) its string leaves are templates too.
  Json values[2] = {Json(text), Json::parse(text, nullptr, false)};
  for (const Json& value : values) {
    if (value.is_discarded()) continue;
    for (Template::Mode mode : {Template::Mode::Text, Template::Mode::Json}) {
      const Template t = Template::compile(value, mode);
      try {
        const Json rendered = t.render(env);
        (void)rendered.dump(-1, ' ', false, Json::error_handler_t::replace);
      } catch (const TemplateError&) {
        // A Json-mode render whose text is not JSON: the block's error, by contract.
      }
    }
  }
  return 0;
}
