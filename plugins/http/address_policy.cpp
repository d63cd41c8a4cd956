// SPDX-License-Identifier: Apache-2.0
#include "address_policy.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>

namespace blueprint::http {

namespace {

/// Why an IPv4 address (4 bytes, network order) must not be reached by default; empty if it may.
std::string ipv4Restriction(const unsigned char* a) {
  if (a[0] == 0) return "an unspecified address";
  if (a[0] == 127) return "a loopback address";
  if (a[0] == 10 || (a[0] == 172 && (a[1] & 0xF0) == 16) || (a[0] == 192 && a[1] == 168))
    return "a private address";
  if (a[0] == 169 && a[1] == 254) return "a link-local address";
  if (a[0] == 100 && (a[1] & 0xC0) == 64) return "a shared (carrier-grade NAT) address";
  if (a[0] == 192 && a[1] == 0 && a[2] == 0) return "a reserved address";
  if (a[0] == 198 && (a[1] & 0xFE) == 18) return "a reserved address";
  if (a[0] >= 224) return a[0] < 240 ? "a multicast address" : "a reserved address";
  return {};
}

/// Why an IPv6 address (16 bytes) must not be reached by default; empty if it may.
std::string ipv6Restriction(const unsigned char* a) {
  static const unsigned char kZero[16] = {};
  if (std::equal(a, a + 16, kZero)) return "an unspecified address";
  if (std::equal(a, a + 15, kZero) && a[15] == 1) return "a loopback address";
  if (a[0] == 0xFE && (a[1] & 0xC0) == 0x80) return "a link-local address";
  if (a[0] == 0xFE && (a[1] & 0xC0) == 0xC0) return "a site-local address";
  if ((a[0] & 0xFE) == 0xFC) return "a unique local (private) address";
  if (a[0] == 0xFF) return "a multicast address";
  // IPv4 inside IPv6 reaches the IPv4 network: check the embedded address.
  static const unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
  static const unsigned char kNat64[12] = {0, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0};
  if (std::equal(a, a + 12, kMapped) || std::equal(a, a + 12, kNat64) ||
      std::equal(a, a + 12, kZero))  // IPv4-compatible (deprecated)
    return ipv4Restriction(a + 12);
  if (a[0] == 0x20 && a[1] == 0x02) return ipv4Restriction(a + 2);  // 6to4
  return {};
}

}  // namespace

std::string addressRestriction(const sockaddr& address) {
  if (address.sa_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(address);
    return ipv4Restriction(reinterpret_cast<const unsigned char*>(&v4.sin_addr));
  }
  if (address.sa_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(address);
    return ipv6Restriction(v6.sin6_addr.s6_addr);
  }
  return "an address of an unknown family";
}

std::string addressText(const sockaddr& address) {
  char text[INET6_ADDRSTRLEN] = {};
  const void* bytes = nullptr;
  if (address.sa_family == AF_INET)
    bytes = &reinterpret_cast<const sockaddr_in&>(address).sin_addr;
  else if (address.sa_family == AF_INET6)
    bytes = &reinterpret_cast<const sockaddr_in6&>(address).sin6_addr;
  if (bytes == nullptr || ::inet_ntop(address.sa_family, bytes, text, sizeof(text)) == nullptr)
    return "(unknown address)";
  return text;
}

}  // namespace blueprint::http
