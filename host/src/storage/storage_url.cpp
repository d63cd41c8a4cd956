// SPDX-License-Identifier: Apache-2.0
// Redaction errs on the side of hiding: a malformed URL may put its password anywhere the
// parser does not expect (a '/' or '?' in it ends the authority early; a missing '@' makes it a
// "port"), so the rules below look at the raw text, not at what a URL parser makes of it.
#include "storage/storage_url.hpp"

#include <algorithm>
#include <cctype>
#include <string_view>

namespace blueprint::host {

namespace {

bool startsWith(const std::string& text, std::string_view prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

/// Where the part after the scheme begins: after "://", after "scheme:" when the text before
/// the first ':' is a scheme, else 0 (no recognisable scheme: all of it may be user info).
std::size_t afterScheme(const std::string& url) {
  const std::size_t slashes = url.find("://");
  const std::size_t colon = url.find(':');
  if (slashes != std::string::npos && slashes == colon) return slashes + 3;
  if (colon == std::string::npos || colon == 0 || !std::isalpha(static_cast<unsigned char>(url[0])))
    return 0;
  const bool is_scheme =
      std::all_of(url.begin(), url.begin() + static_cast<std::ptrdiff_t>(colon), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
      });
  return is_scheme ? colon + 1 : 0;
}

/// `text` up to its first '?' or '#', from `from` on.
std::string withoutQuery(const std::string& text, std::size_t from) {
  return text.substr(0, text.find_first_of("?#", from));
}

bool allDigits(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
}

}  // namespace

RedactedUrl redactStorageUrl(const std::string& url) {
  if (startsWith(url, "sqlite:") || url == "memory:") return {url, ""};
  const std::size_t start = afterScheme(url);
  const std::size_t at = url.rfind('@');
  if (at == std::string::npos || at < start) {
    // No user information. A ':' in the authority must be followed by a port number; anything
    // else there may be a password whose '@' was forgotten.
    std::string display = withoutQuery(url, start);
    const std::size_t authority_end = std::min(display.find('/', start), display.size());
    std::size_t colon = display.find(':', start);
    if (start < display.size() && display[start] == '[')  // [IPv6]:port
      colon = display.find(':', std::min(display.find(']', start), authority_end));
    if (colon != std::string::npos && colon < authority_end) {
      const std::string port = display.substr(colon + 1, authority_end - colon - 1);
      if (!allDigits(port)) {
        display.replace(colon + 1, port.size(), "***");
        return {display, port};
      }
    }
    return {display, ""};
  }
  const std::string user_info = url.substr(start, at - start);
  const std::size_t colon = user_info.find(':');
  const std::string user = user_info.substr(0, colon);
  const std::string host_and_path = withoutQuery(url.substr(at + 1), 0);
  if (user.find_first_of("/?#") != std::string::npos)
    return {url.substr(0, start) + "***@" + host_and_path, user_info};
  const std::string password = colon == std::string::npos ? "" : user_info.substr(colon + 1);
  return {url.substr(0, start) + user + "@" + host_and_path, password};
}

}  // namespace blueprint::host
