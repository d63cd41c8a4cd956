// SPDX-License-Identifier: Apache-2.0
// data_dir.hpp: the host's data directory is private (issue 11, L5). It holds job payloads and
// results, KV values, the generated admin key's hash and the plugin cache: nobody but the
// host's user may read it.
#pragma once

#include <Poco/Logger.h>

#include <filesystem>

namespace blueprint::host {

/// Sets the process umask to 077, so every file and directory the host creates from now on
/// (the database and its -wal/-shm, the key file, the plugin cache) is private whatever the
/// umask it was started with; then creates `dir` 0700, or tightens an existing one, and the
/// files the host keeps in it, to owner-only access, logging each change on `log`. Throws
/// std::runtime_error naming the directory when it cannot be created.
void preparePrivateDataDir(const std::filesystem::path& dir, Poco::Logger& log);

}  // namespace blueprint::host
