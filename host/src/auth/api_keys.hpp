// SPDX-License-Identifier: Apache-2.0
// api_keys.hpp: bearer-key authentication (DESIGN §2, §7). Keys are configured as SHA-256 hex
// hashes; a presented key is hashed and compared with every configured hash in constant time.
// Tenancy (issue 11): a key may be limited to some agents (AgentAllowList), and its name is
// recorded on every job it creates; Principal says what a request's key may see.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace blueprint::host {

/// The agents a key may use: exact agent ids and `prefix*` patterns (a keys-file entry's
/// `"agents": ["billing", "support-*"]`). Immutable once parsed; shared by the principals of
/// its key.
class AgentAllowList {
 public:
  /// Parses the patterns; throws std::invalid_argument naming the first malformed one (an exact
  /// id must be a valid agent id; a pattern is a prefix of one followed by a single trailing `*`;
  /// `*` alone allows every agent).
  static AgentAllowList parse(const std::vector<std::string>& patterns);

  /// True when `agent_id` matches an exact id or starts with a prefix.
  bool allows(std::string_view agent_id) const;

 private:
  std::vector<std::string> exact_;  // sorted, for a binary search
  std::vector<std::string> prefixes_;
};

/// Who a request authenticated as.
struct Principal {
  std::string name;
  bool admin = false;
  bool invoke = false;
  /// The key's agent allow-list; null means every agent (a key without `"agents"`).
  std::shared_ptr<const AgentAllowList> agents;

  /// True when this key may use `agent_id` on any route that names an agent.
  bool mayUseAgent(std::string_view agent_id) const {
    return agents == nullptr || agents->allows(agent_id);
  }
  /// True when this key may see and control a job of `agent_id` created by the key named
  /// `created_by`: an admin key every job of the agents it may use, any other key its own.
  bool mayAccessJob(std::string_view agent_id, std::string_view created_by) const {
    return mayUseAgent(agent_id) && (admin || created_by == name);
  }
};

class ApiKeys {
 public:
  struct Key {
    std::string name;
    std::string sha256_hex;
    bool admin = false;
    bool invoke = false;
    /// null: every agent.
    std::shared_ptr<const AgentAllowList> agents;
  };

  /// Loads `{"keys":[{"name","sha256","scopes":[…],"agents":[…]?}]}`; throws std::runtime_error
  /// naming the file, the entry and what is wrong. Names must be unique: a job belongs to the
  /// key whose name created it.
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
