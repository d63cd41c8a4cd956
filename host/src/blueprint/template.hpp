// SPDX-License-Identifier: Apache-2.0
// template.hpp: `@{path}` templates in block field values (DESIGN §3), compiled once per
// deployed blueprint and rendered per run.
//
// Start with Template::compile(field_value, mode) and Template::render(env).
#pragma once

#include <blueprint/json_limits.hpp>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace blueprint::host {

using Json = nlohmann::json;

/// A dot path split into segments once: `result.items.-1.id` → {"result","items","-1","id"}.
struct Path {
  /// The first segment as the run environment knows it, decided once when the path is parsed
  /// (lookups happen per block per run; the root names are compared only here).
  enum class Root : std::uint8_t { None, Result, Message, Results, Payload, State, EnvVar, Other };
  std::string text;
  std::vector<std::string> segments;
  Root root = Root::None;
};

/// Splits `text` at dots. Whitespace around the path is trimmed. Never throws.
Path parsePath(std::string_view text);

/// Walks `segments[from..]` down from `root`. A numeric segment (optionally negative) indexes a
/// list (negative counts from the end) and is an ordinary key on an object; any segment that does
/// not apply (missing key, index out of range, non-numeric on a list, anything on a scalar)
/// yields nullptr, never an error.
const Json* walkPath(const Json& root, const std::vector<std::string>& segments,
                     std::size_t from = 0);

/// What a template reads from: the run environment (result, results, state, payload, message,
/// item, itemId, `$NAME` for allow-listed environment variables, …).
class TemplateEnv {
 public:
  virtual ~TemplateEnv() = default;
  /// The value at `path`, or null when it does not resolve.
  virtual Json lookup(const Path& path) const = 0;
  /// How deep a Json-mode field's rendered text may nest (the run's json_max_depth).
  virtual std::size_t jsonMaxDepth() const { return kDefaultJsonMaxDepth; }
};

/// Thrown by Template::render in Json mode when the rendered text is not valid JSON.
class TemplateError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A compiled field value.
class Template {
 public:
  enum class Mode {
    /// The value is used as written. A string that is exactly one `@{…}` keeps the JSON type of
    /// what it resolves to; other strings interpolate (strings as they are, other values as
    /// compact JSON, null as `null`); `\@{` is a literal `@{`. Objects and lists are rendered
    /// leaf by leaf (every string inside them as above).
    Text,
    /// The value is JSON text (set_state with value_type json, for_each `items`, …): a template
    /// inside a JSON string literal inserts its value escaped for that string (strings as their
    /// text, other values as their JSON text); a template where a JSON value stands inserts the
    /// value as a JSON literal. The result is then parsed; a non-string field value is used as is
    /// (its string leaves rendered as in Text mode).
    Json,
  };

  Template();
  ~Template();
  Template(Template&&) noexcept;
  Template& operator=(Template&&) noexcept;

  /// Compiles a field value (any JSON). Never throws: malformed templates (an unterminated `@{`)
  /// are literal text.
  static Template compile(const Json& value, Mode mode);

  /// True when the value has no template: render() returns the same value every time.
  bool isConstant() const;

  /// Renders against `env`. Json mode throws TemplateError("…") naming the JSON parse problem.
  Json render(const TemplateEnv& env) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace blueprint::host
