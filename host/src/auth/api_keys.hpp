// SPDX-License-Identifier: Apache-2.0
// api_keys.hpp: bearer-key authentication (DESIGN §2, §7). Keys are configured as SHA-256 hex
// hashes; a presented key is hashed and compared with every configured hash in constant time.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace blueprint::host {

/// Who a request authenticated as.
struct Principal {
  std::string name;
  bool admin = false;
  bool invoke = false;
};

class ApiKeys {
 public:
  struct Key {
    std::string name;
    std::string sha256_hex;
    bool admin = false;
    bool invoke = false;
  };

  /// Loads `{"keys":[{"name","sha256","scopes":[…]}]}`; throws std::runtime_error naming the file
  /// and what is wrong.
  static ApiKeys fromFile(const std::filesystem::path& file);
  /// The data dir's generated keys file; if it does not exist, creates one admin+invoke key,
  /// stores only its hash and returns the plain key in `created_key` (printed once at start-up).
  static ApiKeys fromDataDir(const std::filesystem::path& data_dir, std::string& created_key);

  /// The principal for an `Authorization` header value, or nullopt if missing or wrong.
  std::optional<Principal> authenticate(std::string_view authorization_header) const;

  const std::vector<Key>& keys() const { return keys_; }

  /// Lower-case hex SHA-256 of `text`.
  static std::string sha256Hex(std::string_view text);
  /// A new random key: "bp_" + 64 hex characters.
  static std::string generateKey();

 private:
  std::vector<Key> keys_;
  /// Tells key sets apart for the per-thread cache of authenticate() (a reload makes a new set).
  std::uint64_t set_id_ = 0;
};

}  // namespace blueprint::host
