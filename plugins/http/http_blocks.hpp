// SPDX-License-Identifier: Apache-2.0
// The blocks of http_blocks.so (DESIGN §8): every type is declared here; plugin.cpp lists them.
// libcurl and Poco::Foundation (for URIs) are linked PRIVATE: none of their types crosses the
// plugin's boundary.
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

/// Starts the HttpClient every request of this load of the library shares (its loop thread).
/// Called once by the plugin's init hook, before any run, after curl_global_init. Throws when
/// libcurl cannot set up.
void initHttpClient();

/// Stops the client and joins its loop thread. Called once by the deinit hook, after the last
/// run, before curl_global_cleanup.
void deinitHttpClient();

}  // namespace blueprint::http
