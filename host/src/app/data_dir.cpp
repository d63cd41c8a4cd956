// SPDX-License-Identifier: Apache-2.0
#include "app/data_dir.hpp"

#include <sys/stat.h>

#include <cstdio>
#include <stdexcept>
#include <string>
#include <system_error>

namespace blueprint::host {

namespace fs = std::filesystem;

namespace {

/// The files the host keeps directly in its data directory: an older host created them with
/// the umask it was given (often 0644).
constexpr const char* kHostFiles[] = {"host.db",         "host.db-wal",   "host.db-shm",
                                      "host.db-journal", "api-keys.json", "plugin-cache"};

std::string octal(fs::perms mode) {
  char text[8];
  std::snprintf(text, sizeof(text), "%04o", static_cast<unsigned>(mode) & 07777U);
  return text;
}

/// Removes group and other access from `path` (never following a symlink); logs what changed.
void tighten(const fs::path& path, Poco::Logger& log) {
  std::error_code ec;
  const fs::file_status status = fs::symlink_status(path, ec);
  if (ec || !fs::exists(status) || fs::is_symlink(status)) return;
  const fs::perms mode = status.permissions();
  const fs::perms open = fs::perms::group_all | fs::perms::others_all;
  if ((mode & open) == fs::perms::none) return;
  const fs::perms tight = mode & fs::perms::owner_all;
  fs::permissions(path, tight, fs::perm_options::replace, ec);
  if (ec) {
    log.warning("%s is readable by other users (mode %s) and cannot be tightened: %s",
                path.string(), octal(mode), ec.message());
    return;
  }
  log.warning("tightened %s from mode %s to %s: it holds job data and key hashes", path.string(),
              octal(mode), octal(tight));
}

}  // namespace

void preparePrivateDataDir(const fs::path& dir, Poco::Logger& log) {
  ::umask(077);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    throw std::runtime_error("cannot create the data directory " + dir.string() + ": " +
                             ec.message());
  tighten(dir, log);
  for (const char* name : kHostFiles) tighten(dir / name, log);
}

}  // namespace blueprint::host
