// SPDX-License-Identifier: Apache-2.0
// The blocks of http_blocks.so (DESIGN §8): every type is declared here; plugin.cpp lists them.
// Poco::Net and Poco::NetSSL are linked PRIVATE: no Poco type crosses the plugin's boundary.
#pragma once

#include <blueprint/sdk.hpp>

namespace blueprint::http {

/// Makes one HTTP(S) request and returns `{status_code, headers, body}`. Ends in `success`
/// (2xx), `response_error` (any other status, a JSON response that does not parse, a body over
/// the size limit) or `connection_error` (bad URL, refused address, DNS, connect, TLS, timeout).
class HttpRequest final : public Block {
 public:
  static constexpr std::string_view kType = "http_request";
  static BlockSpec spec();
  Result run(Context& ctx, const Json& fields) override;
};

/// Initialises OpenSSL (Poco::Net::initializeSSL) and builds the TLS client context every HTTPS
/// request shares: peer verification on, CAs from /etc/ssl/certs. Called once by the plugin's
/// init hook, before any run. A context that cannot be built is remembered, and HTTPS requests
/// then end in `connection_error` naming why; plain HTTP keeps working.
void initTls();

/// Drops the TLS context and calls Poco::Net::uninitializeSSL. Called once by the deinit hook,
/// after the last run.
void deinitTls();

}  // namespace blueprint::http
