// SPDX-License-Identifier: Apache-2.0
// json_limits.hpp: JSON that cannot hurt the code that reads it. Header-only, shared by the host
// and every block plugin (docs/security.md).
//
// nlohmann/json parses without recursion, but copying, comparing and dumping a value recurse once
// per nesting level: a 400 KB body of `[` builds a value whose first copy overflows the stack.
// And dump() throws on a string that is not UTF-8. So text from outside is parsed with
// parseJsonLimited (a nesting bound, no exceptions), values built without parsing are checked with
// jsonDepth, and text that goes into JSON (error messages, remote headers) passes toValidUtf8.
//
//   blueprint::JsonParse parsed = blueprint::parseJsonLimited(text);
//   if (!parsed.ok()) return Result::error("text is not usable JSON: " + parsed.error);
#ifndef BLUEPRINT_JSON_LIMITS_HPP
#define BLUEPRINT_JSON_LIMITS_HPP

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace blueprint {

/// Containers nested in one JSON value when nothing else is configured (the host's
/// `json_max_depth`; a block reads the host's value with Context::jsonMaxDepth()). Deep enough
/// for any document people write, shallow enough for every recursive walk over it.
inline constexpr std::size_t kDefaultJsonMaxDepth = 128;

/// Length of the UTF-8 sequence at `p` (1–4), or 0 when the bytes there are not UTF-8: strict
/// (RFC 3629): no overlong forms, no surrogates, nothing past U+10FFFF, no truncated sequence.
inline std::size_t utf8SequenceLength(const unsigned char* p, const unsigned char* end) {
  const unsigned char c = *p;
  if (c < 0x80) return 1;
  std::size_t len;
  std::uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
    cp = c & 0x1Fu;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    cp = c & 0x0Fu;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    cp = c & 0x07u;
  } else {
    return 0;
  }
  if (static_cast<std::size_t>(end - p) < len) return 0;
  for (std::size_t i = 1; i < len; ++i) {
    if ((p[i] & 0xC0u) != 0x80u) return 0;
    cp = (cp << 6) | (p[i] & 0x3Fu);
  }
  if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
      (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
    return 0;
  return len;
}

/// True when all of `text` is UTF-8 (what nlohmann's dump() requires of every string).
inline bool isValidUtf8(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  while (p < end) {
    const std::size_t len = utf8SequenceLength(p, end);
    if (len == 0) return false;
    p += len;
  }
  return true;
}

/// `text` with each byte that does not start a UTF-8 sequence replaced by U+FFFD. For text made
/// from what others sent (a server's reason phrase, a URL's decoded path, a plugin's message)
/// before it goes into JSON.
inline std::string toValidUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  const auto* begin = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = begin + text.size();
  for (const unsigned char* p = begin; p < end;) {
    const std::size_t len = utf8SequenceLength(p, end);
    if (len == 0) {
      out += "\xEF\xBF\xBD";
      ++p;
    } else {
      out.append(reinterpret_cast<const char*>(p), len);
      p += len;
    }
  }
  return out;
}

/// Makes `text` UTF-8 in place (see toValidUtf8); no copy when it already is, the usual case.
inline void makeValidUtf8(std::string& text) {
  if (!isValidUtf8(text)) text = toValidUtf8(text);
}

/// The outcome of parseJsonLimited.
struct JsonParse {
  enum class Status { Ok, Malformed, TooDeep };
  Status status = Status::Ok;
  /// The parsed value; null unless ok().
  nlohmann::json value;
  /// Empty when ok(); else a phrase saying why: nlohmann's message (with the byte where parsing
  /// stopped), or the nesting limit.
  std::string error;
  /// Where parsing stopped, counted from 1 (nlohmann's `byte`); 0 when ok() or too deep.
  std::size_t byte = 0;
  bool ok() const { return status == Status::Ok; }
};

namespace detail {

/// nlohmann's own DOM builder behind a nesting counter: the value is built exactly as
/// nlohmann::json::parse builds it, and the parse stops at the first container past the bound.
template <typename BasicJson>
class DepthLimitedSax {
 public:
  DepthLimitedSax(BasicJson& result, std::size_t max_depth)
      : dom_(result, /*allow_exceptions=*/false), max_depth_(max_depth) {}

  bool null() { return dom_.null(); }
  bool boolean(bool v) { return dom_.boolean(v); }
  bool number_integer(typename BasicJson::number_integer_t v) { return dom_.number_integer(v); }
  bool number_unsigned(typename BasicJson::number_unsigned_t v) { return dom_.number_unsigned(v); }
  bool number_float(typename BasicJson::number_float_t v,
                    const typename BasicJson::string_t& text) {
    return dom_.number_float(v, text);
  }
  bool string(typename BasicJson::string_t& v) { return dom_.string(v); }
  bool binary(typename BasicJson::binary_t& v) { return dom_.binary(v); }
  bool key(typename BasicJson::string_t& v) { return dom_.key(v); }
  bool start_object(std::size_t size) { return enter() && dom_.start_object(size); }
  bool end_object() {
    --depth_;
    return dom_.end_object();
  }
  bool start_array(std::size_t size) { return enter() && dom_.start_array(size); }
  bool end_array() {
    --depth_;
    return dom_.end_array();
  }
  template <typename Exception>
  bool parse_error(std::size_t position, const std::string& last_token, const Exception& ex) {
    error_ = toValidUtf8(ex.what());  // it quotes the input, which may be any bytes
    byte_ = position;
    return dom_.parse_error(position, last_token, ex);
  }

  bool tooDeep() const { return too_deep_; }
  const std::string& error() const { return error_; }
  std::size_t byte() const { return byte_; }

 private:
  bool enter() {
    if (++depth_ <= max_depth_) return true;
    too_deep_ = true;
    return false;
  }

  nlohmann::detail::json_sax_dom_parser<BasicJson> dom_;
  std::size_t max_depth_;
  std::size_t depth_ = 0;
  bool too_deep_ = false;
  std::string error_;
  std::size_t byte_ = 0;
};

}  // namespace detail

/// Parses `text` as one JSON value (nlohmann's grammar: strict, no comments, UTF-8 only) with at
/// most `max_depth` nested objects/lists (`[]` is depth 1, a scalar 0). Never throws for bad
/// input; only std::bad_alloc can leave it.
inline JsonParse parseJsonLimited(std::string_view text,
                                  std::size_t max_depth = kDefaultJsonMaxDepth) {
  JsonParse out;
  detail::DepthLimitedSax<nlohmann::json> sax(out.value, max_depth);
  const bool ok = nlohmann::json::sax_parse(text.data(), text.data() + text.size(), &sax);
  if (ok) return out;
  out.value = nullptr;  // a partial value: never handed out
  if (sax.tooDeep()) {
    out.status = JsonParse::Status::TooDeep;
    out.error = "it nests objects and lists deeper than the limit of " + std::to_string(max_depth) +
                " levels";
  } else {
    out.status = JsonParse::Status::Malformed;
    out.error = sax.error().empty() ? std::string("it is not valid JSON") : sax.error();
    out.byte = sax.byte();
  }
  return out;
}

/// Nesting depth of `value` (a scalar is 0, `[]` and `{}` are 1), without recursion. Stops
/// walking once past `stop` and returns a number above it.
inline std::size_t jsonDepth(const nlohmann::json& value, std::size_t stop = SIZE_MAX) {
  std::size_t deepest = 0;
  std::vector<std::pair<const nlohmann::json*, std::size_t>> todo{{&value, 0}};
  while (!todo.empty()) {
    const auto [j, depth] = todo.back();
    todo.pop_back();
    if (!j->is_structured()) continue;
    const std::size_t inner = depth + 1;
    if (inner > deepest) deepest = inner;
    if (deepest > stop) return deepest;
    for (const auto& item : *j)
      if (item.is_structured()) todo.emplace_back(&item, inner);
  }
  return deepest;
}

}  // namespace blueprint

#endif  // BLUEPRINT_JSON_LIMITS_HPP
