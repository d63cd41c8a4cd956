// SPDX-License-Identifier: Apache-2.0
#include "engine/field_conversion.hpp"

#include <algorithm>

namespace blueprint::host {

namespace {
std::string renderText(const Json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }
}  // namespace

bool convertField(const FieldSpec& spec, Json& value, std::string& error, std::size_t max_depth) {
  using Kind = FieldSpec::Kind;
  if (value.is_null() || spec.kind == Kind::Any || spec.kind == Kind::Json) return true;
  if (spec.kind == Kind::String) {
    if (!value.is_string()) value = renderText(value);
    return true;
  }
  if (!value.is_string()) {
    const bool ok = (spec.kind == Kind::Number && value.is_number()) ||
                    (spec.kind == Kind::Boolean && value.is_boolean()) ||
                    (spec.kind == Kind::Object && value.is_object()) ||
                    (spec.kind == Kind::List && value.is_array());
    if (!ok) error = "is not a " + spec.type;
    return ok;
  }
  const std::string text = value.get<std::string>();
  if (spec.kind == Kind::Boolean) {
    if (text == "true" || text == "True")
      value = true;
    else if (text == "false" || text == "False")
      value = false;
    else {
      error = "'" + text + "' is not a boolean (true or false)";
      return false;
    }
    return true;
  }
  JsonParse parsed = parseJsonLimited(text, max_depth);
  if (parsed.status == JsonParse::Status::TooDeep) {
    error = "is not usable JSON: " + parsed.error;
    return false;
  }
  const bool ok = parsed.ok() && ((spec.kind == Kind::Number && parsed.value.is_number()) ||
                                  (spec.kind == Kind::Object && parsed.value.is_object()) ||
                                  (spec.kind == Kind::List && parsed.value.is_array()));
  if (!ok) {
    // Cut at a character boundary: the message goes into JSON (events, the stored job).
    std::size_t cut = std::min<std::size_t>(text.size(), 80);
    while (cut > 0 && cut < text.size() && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80)
      --cut;
    error = "'" + (cut < text.size() ? text.substr(0, cut) + "…" : text) + "' is not a " +
            (spec.kind == Kind::List     ? std::string("JSON list")
             : spec.kind == Kind::Object ? std::string("JSON object")
                                         : spec.type);
    return false;
  }
  value = std::move(parsed.value);
  return true;
}

}  // namespace blueprint::host
