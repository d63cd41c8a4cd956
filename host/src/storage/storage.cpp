// SPDX-License-Identifier: Apache-2.0
// storage.cpp: openStorage (the URL → backend switch) and the shared clock.
#include "storage/storage.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <system_error>

#include "storage/memory_storage.hpp"
#include "storage/sqlite_storage.hpp"
#include "storage/storage_modules.hpp"
#include "storage/storage_url.hpp"

namespace blueprint::host {

namespace {

bool startsWith(const std::string& text, const std::string& prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

const char* const kAcceptedForms =
    "accepted forms: 'sqlite:<path>' (embedded database file), 'memory:' (ephemeral, lost on "
    "exit), 'postgresql://user:password@host:port/database' (one database shared by several "
    "hosts)";

}  // namespace

std::unique_ptr<Storage> openStorage(const std::string& url) {
  if (url == "memory:") return std::make_unique<MemoryStorage>();

  if (startsWith(url, "sqlite:")) {
    const std::filesystem::path path = url.substr(std::string("sqlite:").size());
    if (path.empty()) {
      throw StorageError("storage URL '" + url + "' has no database path; " + kAcceptedForms);
    }
    // The operator names a file; creating its directory saves a confusing "unable to open
    // database file" on a fresh install.
    if (path.has_parent_path()) {
      std::error_code ec;
      std::filesystem::create_directories(path.parent_path(), ec);
      if (ec) {
        throw StorageError("storage URL '" + url + "': cannot create directory '" +
                           path.parent_path().string() + "': " + ec.message());
      }
    }
    // The database holds payloads, results and KV values: a new file is the owner's alone
    // (SQLite gives its -wal and -shm files the database file's mode). An existing file keeps
    // its mode; the host tightens the one in its data directory at start-up.
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) ::close(fd);
    return std::make_unique<SqliteStorage>(path.string());
  }

  if (startsWith(url, "postgresql://") || startsWith(url, "postgres://")) {
    return openPostgresStorage(url);  // a module: libpq's libraries only when asked for
  }

  // A mistyped scheme ("postgresq://user:password@…") must not print the password either.
  throw StorageError("unsupported storage URL '" + redactStorageUrl(url).display + "'; " +
                     kAcceptedForms);
}

}  // namespace blueprint::host
