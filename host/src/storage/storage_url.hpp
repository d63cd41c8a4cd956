// SPDX-License-Identifier: Apache-2.0
// storage_url.hpp: storage URLs as messages and logs may show them (issue 11, L4). A PostgreSQL
// URL carries a password; every message that names a storage URL, whatever is wrong with it
// (a mistyped scheme, a '/' in the password), shows it through redactStorageUrl.
#pragma once

#include <string>

namespace blueprint::host {

/// A storage URL made safe to print, and what was hidden.
struct RedactedUrl {
  /// The URL without a password, query or fragment: `postgresql://user@host:5432/db`. When the
  /// user information is too malformed to tell the user name from the password, all of it is
  /// shown as `***`.
  std::string display;
  /// The text left out of `display` that may be a password (the raw password, or the whole
  /// user information), for scrubbing messages of libraries that might echo it; may be empty.
  std::string secret;
};

/// Redacts any storage URL, well-formed or not. `sqlite:` and `memory:` URLs hold no secret and
/// come back as they are. Everything between the scheme and the last '@' is user information:
/// only the user name before its first ':' is kept, and only if it holds no '/', '?', '#'. A URL
/// without '@' whose authority has a ':' not followed by a port number has that text masked.
RedactedUrl redactStorageUrl(const std::string& url);

}  // namespace blueprint::host
