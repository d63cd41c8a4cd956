// SPDX-License-Identifier: Apache-2.0
// field_defaults.hpp: which value a block's field starts from, the blueprint's or the manifest's
// default (DESIGN §3). One rule, shared by the host's compiler (engine/compiled_blueprint.cpp)
// and by blueprint/testing.hpp, so a block sees the same fields in its own tests as in the host.
#ifndef BLUEPRINT_FIELD_DEFAULTS_HPP
#define BLUEPRINT_FIELD_DEFAULTS_HPP

#include <nlohmann/json.hpp>
#include <string>

namespace blueprint {

/// The value field `name` starts from before templates render: the blueprint's own value when it
/// gives one that is not null, else `default_value` (the manifest's `default`, NULL when it has
/// none). NULL means the field is left out of the block's fields.
inline const nlohmann::json* fieldValueOrDefault(const nlohmann::json& given_fields,
                                                 const std::string& name,
                                                 const nlohmann::json* default_value) {
  if (given_fields.is_object()) {
    const auto it = given_fields.find(name);
    if (it != given_fields.end() && !it->is_null()) return &*it;
  }
  return default_value;
}

/// `fields` as the host hands them to run() for a block described by `block_manifest` (one entry
/// of a manifest's "blocks" list), by fieldValueOrDefault: a declared field that `fields` leaves
/// out or sets to null takes its `default`, or is left out when it has none. Fields the manifest
/// does not declare pass unchanged (the host refuses such a blueprint at deploy).
inline nlohmann::json withFieldDefaults(const nlohmann::json& block_manifest,
                                        nlohmann::json fields) {
  if (!fields.is_object()) return fields;
  const auto declared = block_manifest.find("fields");
  if (declared == block_manifest.end() || !declared->is_array()) return fields;
  for (const nlohmann::json& field : *declared) {
    if (!field.is_object()) continue;
    const auto name = field.find("name");
    if (name == field.end() || !name->is_string()) continue;
    const std::string& field_name = name->get_ref<const std::string&>();
    const auto default_value = field.find("default");
    const nlohmann::json* chosen = fieldValueOrDefault(
        fields, field_name, default_value == field.end() ? nullptr : &*default_value);
    if (chosen == nullptr)
      fields.erase(field_name);
    else if (default_value != field.end() && chosen == &*default_value)
      fields[field_name] = *default_value;
  }
  return fields;
}

}  // namespace blueprint

#endif  // BLUEPRINT_FIELD_DEFAULTS_HPP
