// SPDX-License-Identifier: Apache-2.0
#include "engine/json_text_size.hpp"

#include <algorithm>
#include <blueprint/json_limits.hpp>
#include <cstdint>
#include <utility>
#include <vector>

namespace blueprint::host {

namespace {

using blueprint::utf8SequenceLength;

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
    const std::size_t len = utf8SequenceLength(p, end);
    if (len == 0) return false;
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

JsonTextSize measureJsonText(const Json& value, std::size_t stop, std::size_t stop_depth) {
  JsonTextSize out;
  // Each value with the depth of the container holding it.
  std::vector<std::pair<const Json*, std::size_t>> todo{{&value, 0}};
  while (!todo.empty() && out.bytes <= stop && out.depth <= stop_depth) {
    const auto [j, outer] = todo.back();
    todo.pop_back();
    if (j->is_structured()) out.depth = std::max(out.depth, outer + 1);
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
          todo.emplace_back(&member, outer + 1);
        }
        break;
      }
      case Json::value_t::array: {
        const auto& array = j->get_ref<const Json::array_t&>();
        out.bytes += array.empty() ? 2 : 1 + array.size();  // brackets, commas
        for (const Json& item : array) todo.emplace_back(&item, outer + 1);
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
