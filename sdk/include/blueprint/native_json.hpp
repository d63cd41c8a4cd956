// SPDX-License-Identifier: Apache-2.0
// native_json.hpp: the tag that says "my JSON values are laid out like yours" (ABI 1.2).
//
// JSON normally crosses the plugin boundary as text, which costs a serialise and a parse per
// value. A plugin built with the SDK and a host built with the same nlohmann/json and the same
// C++ standard library can pass `nlohmann::json` objects by pointer instead. Both sides compute
// this tag from their own headers; the host uses the native path for a plugin only when the two
// strings are equal, and keeps the text path otherwise (C plugins, other compilers, other
// nlohmann/json releases). docs/decisions/008-native-json-fast-path.md says why.
#ifndef BLUEPRINT_NATIVE_JSON_HPP
#define BLUEPRINT_NATIVE_JSON_HPP

#include <nlohmann/json.hpp>
#include <string>
#include <typeinfo>

namespace blueprint {

/// The in-memory layout of nlohmann::json as this translation unit sees it: the mangled type
/// (nlohmann's ABI namespace encodes its version and layout options; the template arguments, the
/// containers and allocator), its size and alignment, and the C++ library and its ABI.
inline const std::string& nativeJsonTag() {
  static const std::string tag = [] {
    std::string t = "nlohmann ";
    t += typeid(nlohmann::json).name();
    t += " size " + std::to_string(sizeof(nlohmann::json));
    t += " align " + std::to_string(alignof(nlohmann::json));
    t += " string " + std::to_string(sizeof(std::string));
#if defined(__GLIBCXX__)
    t += " libstdc++ " + std::to_string(__GLIBCXX__);
#if defined(_GLIBCXX_USE_CXX11_ABI)
    t += " cxx11abi " + std::to_string(_GLIBCXX_USE_CXX11_ABI);
#endif
#elif defined(_LIBCPP_VERSION)
    t += " libc++ " + std::to_string(_LIBCPP_VERSION);
#else
    t += " unknown-stdlib";
#endif
#if defined(_GLIBCXX_DEBUG) || defined(_GLIBCXX_ASSERTIONS)
    t += " checked";
#endif
    return t;
  }();
  return tag;
}

}  // namespace blueprint

#endif  // BLUEPRINT_NATIVE_JSON_HPP
