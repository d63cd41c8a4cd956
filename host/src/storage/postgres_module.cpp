// SPDX-License-Identifier: Apache-2.0
// postgres_module.cpp: the PostgreSQL backend as a module the host loads only when its storage
// URL is postgresql:// (storage/storage_modules.cpp). libpq brings some twenty libraries (TLS,
// Kerberos, LDAP, SASL, …); a host on the embedded SQLite default never maps any of them.
#include "storage/postgres_storage.hpp"

extern "C" __attribute__((visibility("default"))) blueprint::host::Storage*
blueprint_open_postgres_storage(const char* url) {
  // Errors (an unreachable server, a bad URL) leave as StorageError, as from the linked class.
  return new blueprint::host::PostgresStorage(url);
}
