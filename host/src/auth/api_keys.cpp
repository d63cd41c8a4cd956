// SPDX-License-Identifier: Apache-2.0
#include "auth/api_keys.hpp"

#include <Poco/DigestEngine.h>
#include <Poco/RandomStream.h>
#include <Poco/SHA2Engine.h>

#include <sys/stat.h>
#include <atomic>
#include <blueprint/json_limits.hpp>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <stdexcept>

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

ApiKeys::Key parseKey(const Json& j, const std::string& where) {
  if (!j.is_object() || !j.contains("sha256") || !j["sha256"].is_string())
    throw std::runtime_error(where + ": every key needs a \"sha256\" hex string");
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
  for (const Json& k : j["keys"]) keys.keys_.push_back(parseKey(k, file.string()));
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
    std::ofstream out(tmp);
    out << j.dump(2) << "\n";
    if (!out) throw std::runtime_error("cannot write " + tmp.string());
  }
  ::chmod(tmp.c_str(), 0600);
  fs::rename(tmp, file);
  return fromFile(file);
}

std::optional<Principal> ApiKeys::authenticate(std::string_view header) const {
  constexpr std::string_view kBearer = "Bearer ";
  if (header.size() <= kBearer.size() || header.substr(0, kBearer.size()) != kBearer)
    return std::nullopt;
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
      found = Principal{k.name, k.admin, k.invoke};
  }
  if (found && set_id_ != 0) {
    last.set_id = set_id_;
    last.token.assign(token);
    last.principal = *found;
  }
  return found;
}

}  // namespace blueprint::host
