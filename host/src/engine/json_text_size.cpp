// SPDX-License-Identifier: Apache-2.0
#include "engine/json_text_size.hpp"

#include <cstdint>
#include <vector>

namespace blueprint::host {

namespace {

/// Bytes of `s` as a JSON string literal (nlohmann's escaping with ensure_ascii off: the short
/// escapes, \u00XX for other control characters), or false if `s` is not valid UTF-8.
bool stringTextSize(const std::string& s, std::size_t& bytes) {
  std::size_t n = 2;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    const unsigned char c = *p;
    if (c < 0x80) {
      if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t')
        n += 2;
      else if (c < 0x20)
        n += 6;
      else
        n += 1;
      ++p;
      continue;
    }
    // Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
    std::size_t len;
    std::uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (static_cast<std::size_t>(end - p) < len) return false;
    for (std::size_t i = 1; i < len; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
      return false;
    n += len;
    p += len;
  }
  bytes += n;
  return true;
}

template <typename T>
std::size_t digits(T v) {
  std::size_t n = 1;
  while (v >= 10) {
    v /= 10;
    ++n;
  }
  return n;
}

}  // namespace

JsonTextSize measureJsonText(const Json& value, std::size_t stop) {
  JsonTextSize out;
  std::vector<const Json*> todo{&value};
  while (!todo.empty() && out.bytes <= stop) {
    const Json* j = todo.back();
    todo.pop_back();
    switch (j->type()) {
      case Json::value_t::null:
        out.bytes += 4;
        break;
      case Json::value_t::boolean:
        out.bytes += j->get<bool>() ? 4 : 5;
        break;
      case Json::value_t::number_integer: {
        const std::int64_t v = j->get<std::int64_t>();
        out.bytes += v < 0 ? 1 + digits(0 - static_cast<std::uint64_t>(v))
                           : digits(static_cast<std::uint64_t>(v));
        break;
      }
      case Json::value_t::number_unsigned:
        out.bytes += digits(j->get<std::uint64_t>());
        break;
      case Json::value_t::string:
        if (!stringTextSize(j->get_ref<const std::string&>(), out.bytes)) {
          out.valid_utf8 = false;
          return out;
        }
        break;
      case Json::value_t::object: {
        const auto& object = j->get_ref<const Json::object_t&>();
        out.bytes += object.empty() ? 2 : 1 + object.size() * 2;  // braces, colons, commas
        for (const auto& [key, member] : object) {
          if (!stringTextSize(key, out.bytes)) {
            out.valid_utf8 = false;
            return out;
          }
          todo.push_back(&member);
        }
        break;
      }
      case Json::value_t::array: {
        const auto& array = j->get_ref<const Json::array_t&>();
        out.bytes += array.empty() ? 2 : 1 + array.size();  // brackets, commas
        for (const Json& item : array) todo.push_back(&item);
        break;
      }
      default:  // floating point and binary: rare in results; let the serialiser count them
        out.bytes += j->dump().size();
        break;
    }
  }
  return out;
}

}  // namespace blueprint::host
