// SPDX-License-Identifier: Apache-2.0
// Which addresses http_request may connect to by default (server-side request forgery guard).
// The classification works on the socket address the client is about to connect to, so the
// address checked is the address used: no second DNS answer, no redirect hop and no happy-eyeballs
// fallback reaches a socket without passing through it.
#pragma once

#include <sys/socket.h>

#include <string>

namespace blueprint::http {

/// Why `address` (AF_INET or AF_INET6) must not be reached by default: "a loopback address",
/// "a private address", … Empty if it may. IPv4 embedded in IPv6 (mapped, compatible, NAT64,
/// 6to4) is judged as the IPv4 address it reaches. Any other family is refused.
std::string addressRestriction(const sockaddr& address);

/// The address as text ("127.0.0.1", "::ffff:127.0.0.1"), without port or brackets.
std::string addressText(const sockaddr& address);

}  // namespace blueprint::http
