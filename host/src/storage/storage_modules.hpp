// SPDX-License-Identifier: Apache-2.0
// storage_modules.hpp: backends that live in their own shared library, loaded on first use.
#pragma once

#include <memory>
#include <string>

#include "storage/storage.hpp"

namespace blueprint::host {

/// Opens a PostgreSQL storage through blueprint_storage_postgres.so, loaded once from
/// $BLUEPRINT_MODULE_DIR, the directory of the running program, or the install's
/// <libdir>/blueprint. A program that links the backend itself may register it instead.
/// Throws StorageError naming every place it looked when the module is missing.
std::unique_ptr<Storage> openPostgresStorage(const std::string& url);

using StorageFactory = Storage* (*)(const char* url);
/// Makes openPostgresStorage use `factory` (a linked-in backend) instead of the module.
void registerPostgresStorage(StorageFactory factory);

}  // namespace blueprint::host
