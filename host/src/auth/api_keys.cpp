// SPDX-License-Identifier: Apache-2.0
#include "auth/api_keys.hpp"

#include <Poco/DigestEngine.h>
#include <Poco/RandomStream.h>
#include <Poco/SHA2Engine.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <cctype>
#include <blueprint/json_limits.hpp>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "agents/agent_id.hpp"

namespace blueprint::host {

namespace fs = std::filesystem;
using Json = nlohmann::json;

std::string ApiKeys::sha256Hex(std::string_view text) {
  Poco::SHA2Engine engine(Poco::SHA2Engine::SHA_256);
  engine.update(text.data(), static_cast<unsigned>(text.size()));
  return Poco::DigestEngine::digestToHex(engine.digest());
}

std::string ApiKeys::generateKey() {
  Poco::RandomInputStream random;
  unsigned char bytes[32];
  random.read(reinterpret_cast<char*>(bytes), sizeof(bytes));
  static const char* kHex = "0123456789abcdef";
  std::string key = "bp_";
  for (unsigned char b : bytes) {
    key += kHex[b >> 4];
    key += kHex[b & 15];
  }
  return key;
}

namespace {

/// True for a `prefix*` pattern's prefix: the start of some valid agent id.
bool isAgentIdPrefix(std::string_view prefix) {
  if (prefix.empty()) return true;  // "*": every agent
  if (prefix.size() >= kMaxAgentIdLength) return false;
  // A prefix is valid when completing it with one letter gives a valid id.
  return isValidAgentId(std::string(prefix) + "a");
}

}  // namespace

AgentAllowList AgentAllowList::parse(const std::vector<std::string>& patterns) {
  AgentAllowList list;
  for (const std::string& pattern : patterns) {
    const std::size_t star = pattern.find('*');
    if (star == std::string::npos) {
      if (!isValidAgentId(pattern))
        throw std::invalid_argument("agent pattern '" + pattern + "' is not an agent id (" +
                                    kAgentIdRule + ") nor a prefix of one followed by '*'");
      list.exact_.push_back(pattern);
      continue;
    }
    const std::string_view prefix(pattern.data(), star);
    if (star + 1 != pattern.size() || !isAgentIdPrefix(prefix))
      throw std::invalid_argument("agent pattern '" + pattern +
                                  "' is not valid: a '*' may only end a prefix of an agent id (" +
                                  kAgentIdRule + "), as in 'support-*'");
    list.prefixes_.emplace_back(prefix);
  }
  std::sort(list.exact_.begin(), list.exact_.end());
  return list;
}

bool AgentAllowList::allows(std::string_view agent_id) const {
  if (std::binary_search(exact_.begin(), exact_.end(), agent_id, std::less<>())) return true;
  for (const std::string& prefix : prefixes_)
    if (agent_id.substr(0, prefix.size()) == prefix) return true;
  return false;
}

namespace {

ApiKeys::Key parseKey(const Json& j, const std::string& where) {
  if (!j.is_object() || !j.contains("sha256") || !j["sha256"].is_string())
    throw std::runtime_error(where + ": every key needs a \"sha256\" hex string");
  if (j.contains("name") && (!j["name"].is_string() || j["name"].get<std::string>().empty()))
    throw std::runtime_error(where + ": a key's \"name\" must be a non-empty string, got " +
                             j["name"].dump());
  ApiKeys::Key key;
  key.name = j.value("name", "key");
  key.sha256_hex = j["sha256"].get<std::string>();
  for (char& c : key.sha256_hex) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (key.sha256_hex.size() != 64 ||
      key.sha256_hex.find_first_not_of("0123456789abcdef") != std::string::npos)
    throw std::runtime_error(where + ": key '" + key.name +
                             "': \"sha256\" must be 64 hex characters (`blueprint hash-key KEY`)");
  for (const Json& s : j.value("scopes", Json::array())) {
    if (s == "admin")
      key.admin = true;
    else if (s == "invoke")
      key.invoke = true;
    else
      throw std::runtime_error(where + ": key '" + key.name + "': unknown scope " + s.dump() +
                               " (scopes are admin and invoke)");
  }
  if (j.contains("agents")) {
    const Json& agents = j["agents"];
    if (!agents.is_array() ||
        !std::all_of(agents.begin(), agents.end(), [](const Json& a) { return a.is_string(); }))
      throw std::runtime_error(where + ": key '" + key.name +
                               "': \"agents\" must be a list of agent ids and 'prefix*' "
                               "patterns, got " +
                               agents.dump());
    try {
      key.agents = std::make_shared<const AgentAllowList>(
          AgentAllowList::parse(agents.get<std::vector<std::string>>()));
    } catch (const std::invalid_argument& e) {
      throw std::runtime_error(where + ": key '" + key.name + "': " + e.what());
    }
  }
  return key;
}

/// Compares two equal-length strings without an early exit.
bool constantTimeEqual(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace

ApiKeys ApiKeys::fromFile(const fs::path& file) {
  std::ifstream in(file);
  if (!in) throw std::runtime_error("API keys file " + file.string() + " cannot be read");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  JsonParse parsed = parseJsonLimited(text);  // nesting bounded like every JSON the host reads
  const Json j = std::move(parsed.value);
  if (!parsed.ok() || !j.is_object() || !j.contains("keys") || !j["keys"].is_array())
    throw std::runtime_error("API keys file " + file.string() +
                             " must be {\"keys\":[{\"name\",\"sha256\",\"scopes\":[…]}]}");
  ApiKeys keys;
  std::set<std::string> names;
  for (const Json& k : j["keys"]) {
    keys.keys_.push_back(parseKey(k, file.string()));
    if (!names.insert(keys.keys_.back().name).second)
      throw std::runtime_error("API keys file " + file.string() + ": two keys are named '" +
                               keys.keys_.back().name +
                               "' (a key without \"name\" is named 'key'); jobs belong to the "
                               "key that created them by its name, so give each key its own");
  }
  static std::atomic<std::uint64_t> next_set_id{1};
  keys.set_id_ = next_set_id.fetch_add(1);
  return keys;
}

ApiKeys ApiKeys::fromDataDir(const fs::path& data_dir, std::string& created_key) {
  const fs::path file = data_dir / "api-keys.json";
  std::error_code ec;
  if (fs::exists(file, ec)) return fromFile(file);
  fs::create_directories(data_dir, ec);
  created_key = generateKey();
  Json j = {{"keys", Json::array({{{"name", "admin"},
                                   {"sha256", sha256Hex(created_key)},
                                   {"scopes", {"admin", "invoke"}}}})}};
  const fs::path tmp = data_dir / "api-keys.json.tmp";
  {
    // 0600 from the start: the file never exists readable by others, whatever the umask.
    const std::string text = j.dump(2) + "\n";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
      throw std::runtime_error("cannot write " + tmp.string() + ": " + std::strerror(errno));
    ::fchmod(fd, 0600);  // an earlier, wider leftover of the same name keeps its mode otherwise
    const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    const bool closed = ::close(fd) == 0;
    if (!written || !closed) throw std::runtime_error("cannot write " + tmp.string());
  }
  fs::rename(tmp, file);
  return fromFile(file);
}

std::optional<Principal> ApiKeys::authenticate(std::string_view header) const {
  // The scheme is case-insensitive (RFC 9110 §11.1): "bearer" and "BEARER" are "Bearer".
  constexpr std::string_view kBearer = "bearer ";
  if (header.size() <= kBearer.size()) return std::nullopt;
  for (std::size_t i = 0; i < kBearer.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(header[i])) != kBearer[i]) return std::nullopt;
  std::string_view token = header.substr(kBearer.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty()) return std::nullopt;
  // A connection thread usually serves one client, which sends the same key on every request:
  // the last key this thread verified is remembered (with the key set it matched in), so a
  // keep-alive client pays for one SHA-256, not one per request. Only successes are cached: a
  // wrong key always costs the hash. The token is compared in constant time like the hashes.
  struct Verified {
    std::uint64_t set_id = 0;
    std::string token;
    Principal principal;
  };
  thread_local Verified last;
  if (set_id_ != 0 && last.set_id == set_id_ && last.token.size() == token.size() &&
      constantTimeEqual(last.token, token))
    return last.principal;
  const std::string hash = sha256Hex(token);
  std::optional<Principal> found;
  for (const Key& k : keys_) {  // every key is compared, so timing does not tell which matched
    if (constantTimeEqual(hash, k.sha256_hex) && !found)
      found = Principal{k.name, k.admin, k.invoke, k.agents};
  }
  if (found && set_id_ != 0) {
    last.set_id = set_id_;
    last.token.assign(token);
    last.principal = *found;
  }
  return found;
}

}  // namespace blueprint::host
