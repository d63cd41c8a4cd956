// SPDX-License-Identifier: Apache-2.0
// agent_id.hpp: the one grammar of agent and blueprint ids (issue 11, L7). Ids name URL path
// segments (`/v1/agents/{id}`), files of the agents directory (`<id>.json`) and log lines, so
// `.` and `..` (a directory and its parent) and anything that starts like a flag or a hidden
// file are refused wherever an id enters: PUT, the agents directory, Writer Framework imports,
// and the agent patterns of an API key.
#pragma once

#include <cstddef>
#include <string_view>

namespace blueprint::host {

/// The longest id, in bytes.
inline constexpr std::size_t kMaxAgentIdLength = 128;

/// The grammar as error messages state it.
inline constexpr const char* kAgentIdRule =
    "1-128 letters, digits, '_', '.' or '-', starting with a letter, digit or '_', "
    "without '..'";

/// True when `c` may appear in an id.
constexpr bool isAgentIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.';
}

/// True when `c` may start an id.
constexpr bool isAgentIdFirstChar(char c) { return isAgentIdChar(c) && c != '-' && c != '.'; }

/// True for `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}` without `..`: an agent or blueprint id.
constexpr bool isValidAgentId(std::string_view id) {
  if (id.empty() || id.size() > kMaxAgentIdLength || !isAgentIdFirstChar(id.front())) return false;
  for (std::size_t i = 0; i < id.size(); ++i) {
    if (!isAgentIdChar(id[i])) return false;
    if (id[i] == '.' && i + 1 < id.size() && id[i + 1] == '.') return false;
  }
  return true;
}

}  // namespace blueprint::host
