// SPDX-License-Identifier: Apache-2.0
// fields.hpp: typed, checked access to a block's fields inside Block::run.
//
//   blueprint::Result run(blueprint::Context& ctx, const blueprint::Json& json) override {
//     const blueprint::Fields fields(json);
//     std::string name = fields.get<std::string>("name");      // present, a string, or it throws
//     std::optional<std::int64_t> limit = fields.optional<std::int64_t>("limit");  // absent:
//     nullopt
//
// A wrong or missing field throws blueprint::FieldError naming the field and the type it needed
// ("field 'limit' must be an integer, got string"); the SDK turns it into the block's `error`
// end state with that message, so a block needs no hand-written type checks. The host has
// already applied manifest defaults and converted each value to its manifest type
// (DESIGN §3), so a field declared `Field::number` arrives as a number or null.
#ifndef BLUEPRINT_FIELDS_HPP
#define BLUEPRINT_FIELDS_HPP

#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

namespace blueprint {

/// Thrown by Fields when a field is missing or not of the type asked for; its message names the
/// field and that type.
class FieldError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A read-only view of a block's fields (a JSON object) with typed accessors. `T` is one of:
/// std::string, bool, an integer type, a floating-point type, nlohmann::json (any value),
/// nlohmann::json::object_t or nlohmann::json::array_t. Valid while the viewed object lives.
class Fields {
 public:
  using Json = nlohmann::json;

  explicit Fields(const Json& fields) : fields_(fields) {}

  /// True when the field is present and not null.
  bool has(std::string_view name) const { return find(name) != nullptr; }

  /// The field as a T. Throws FieldError when it is absent, null or not a T.
  template <typename T>
  T get(std::string_view name) const {
    const Json* value = find(name);
    if (value == nullptr) throw FieldError("field '" + std::string(name) + "' is missing");
    return as<T>(name, *value);
  }

  /// The field as a T, or nullopt when it is absent or null. Throws FieldError when it is
  /// present but not a T.
  template <typename T>
  std::optional<T> optional(std::string_view name) const {
    const Json* value = find(name);
    if (value == nullptr) return std::nullopt;
    return as<T>(name, *value);
  }

  /// The whole fields object.
  const Json& json() const { return fields_; }

 private:
  const Json* find(std::string_view name) const {
    if (!fields_.is_object()) return nullptr;
    const auto it = fields_.find(std::string(name));
    return it == fields_.end() || it->is_null() ? nullptr : &*it;
  }

  [[noreturn]] static void wrongType(std::string_view name, const char* expected,
                                     const Json& value) {
    throw FieldError("field '" + std::string(name) + "' must be " + expected + ", got " +
                     value.type_name());
  }

  template <typename T>
  static T as(std::string_view name, const Json& value) {
    if constexpr (std::is_same_v<T, Json>) {
      return value;
    } else if constexpr (std::is_same_v<T, std::string>) {
      if (!value.is_string()) wrongType(name, "a string", value);
      return value.get<std::string>();
    } else if constexpr (std::is_same_v<T, bool>) {
      if (!value.is_boolean()) wrongType(name, "a boolean", value);
      return value.get<bool>();
    } else if constexpr (std::is_integral_v<T>) {
      return integer<T>(name, value);
    } else if constexpr (std::is_floating_point_v<T>) {
      if (!value.is_number()) wrongType(name, "a number", value);
      return value.get<T>();
    } else if constexpr (std::is_same_v<T, Json::object_t>) {
      if (!value.is_object()) wrongType(name, "an object", value);
      return value.get<Json::object_t>();
    } else if constexpr (std::is_same_v<T, Json::array_t>) {
      if (!value.is_array()) wrongType(name, "a list", value);
      return value.get<Json::array_t>();
    } else {
      static_assert(std::is_same_v<T, Json>,
                    "Fields: use std::string, bool, an integer or floating-point type, Json, "
                    "Json::object_t or Json::array_t");
    }
  }

  /// An integer field: an integral JSON number, or a whole floating one (`5.0`), within T's range.
  template <typename T>
  static T integer(std::string_view name, const Json& value) {
    if (!value.is_number()) wrongType(name, "an integer", value);
    const auto outOfRange = [&]() {
      return FieldError("field '" + std::string(name) + "' must be an integer from " +
                        std::to_string(std::numeric_limits<T>::min()) + " to " +
                        std::to_string(std::numeric_limits<T>::max()) + ", got " + value.dump());
    };
    if (value.is_number_unsigned()) {
      const std::uint64_t v = value.get<std::uint64_t>();
      if (v > static_cast<std::uint64_t>(std::numeric_limits<T>::max())) throw outOfRange();
      return static_cast<T>(v);
    }
    if (value.is_number_integer()) {
      const std::int64_t v = value.get<std::int64_t>();
      if constexpr (std::is_unsigned_v<T>) {
        if (v < 0 || static_cast<std::uint64_t>(v) > std::numeric_limits<T>::max())
          throw outOfRange();
      } else if (v < static_cast<std::int64_t>(std::numeric_limits<T>::min()) ||
                 v > static_cast<std::int64_t>(std::numeric_limits<T>::max())) {
        throw outOfRange();
      }
      return static_cast<T>(v);
    }
    const double v = value.get<double>();
    if (!std::isfinite(v) || v != std::trunc(v))
      throw FieldError("field '" + std::string(name) + "' must be an integer, got " + value.dump());
    // Compared as long double: double cannot hold every bound of a 64-bit T exactly.
    const long double whole = static_cast<long double>(v);
    if (whole < static_cast<long double>(std::numeric_limits<T>::min()) ||
        whole > static_cast<long double>(std::numeric_limits<T>::max()))
      throw outOfRange();
    return static_cast<T>(v);
  }

  const Json& fields_;
};

}  // namespace blueprint

#endif  // BLUEPRINT_FIELDS_HPP
