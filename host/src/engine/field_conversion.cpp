// SPDX-License-Identifier: Apache-2.0
#include "engine/field_conversion.hpp"

namespace blueprint::host {

namespace {
std::string renderText(const Json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }
}  // namespace

bool convertField(const FieldSpec& spec, Json& value, std::string& error) {
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
  Json parsed = Json::parse(text, nullptr, false);
  const bool ok = !parsed.is_discarded() && ((spec.kind == Kind::Number && parsed.is_number()) ||
                                             (spec.kind == Kind::Object && parsed.is_object()) ||
                                             (spec.kind == Kind::List && parsed.is_array()));
  if (!ok) {
    error = "'" + (text.size() > 80 ? text.substr(0, 80) + "…" : text) + "' is not a " +
            (spec.kind == Kind::List     ? std::string("JSON list")
             : spec.kind == Kind::Object ? std::string("JSON object")
                                         : spec.type);
    return false;
  }
  value = std::move(parsed);
  return true;
}

}  // namespace blueprint::host
