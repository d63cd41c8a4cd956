// SPDX-License-Identifier: Apache-2.0
// The web console's input path (GET / and GET /console/<file>, issue 14) with hostile bytes:
// targets that try to leave the embedded files (dot segments, percent-encoded, NUL, doubled
// slashes) and crafted Accept-Encoding / If-None-Match headers. Only embedded files are ever
// served, every request gets an answer, and the host still serves afterwards.
#include <string>
#include <vector>

#include "hostile/hostile_support.hpp"

namespace blueprint::testing {
namespace {

/// One GET over its own connection; the raw response, or "" when none came.
std::string rawGet(int port, const std::string& target, const std::string& headers = "") {
  RawConnection connection(port);
  EXPECT_TRUE(connection.send("GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers +
                              "Connection: close\r\n\r\n"));
  return connection.readResponse().value_or("");
}

std::string headOf(const std::string& response) {
  return response.substr(0, response.find("\r\n\r\n"));
}

TEST(HostileConsole, TargetsOutsideTheEmbeddedFilesAreNotFound) {
  TestHost host;
  ASSERT_TRUE(host.start());
  const std::vector<std::string> targets = {"/console/../openapi.json",
                                            "/console/%2e%2e/openapi.json",
                                            "/console/..%2fopenapi.json",
                                            "/console/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
                                            "/console//etc/passwd",
                                            "/console/vendor/../../../etc/passwd",
                                            "/console/index.html%00.js",
                                            "/console/%00",
                                            "/console/./app.js.map",
                                            "/console/" + std::string(4000, 'a') + ".js",
                                            "/console/vendor/%2e%2e/%2e%2e/host.json"};
  for (const std::string& target : targets) {
    SCOPED_TRACE(target.substr(0, 80));
    const std::string response = rawGet(host.port(), target);
    const int status = statusOf(response);
    // 400/414: a framing limit refused it first; never 200.
    EXPECT_TRUE(status == 404 || status == 400 || status == 414) << headOf(response);
    const std::string body = bodyOf(response);
    EXPECT_EQ(body.find("\"paths\""), std::string::npos) << "the OpenAPI document leaked";
    EXPECT_EQ(body.find("root:"), std::string::npos) << "a file outside the console leaked";
    EXPECT_EQ(body.find("<!doctype"), std::string::npos) << "index.html served for a bad path";
  }
  EXPECT_TRUE(stillServing(host));
}

TEST(HostileConsole, CraftedEncodingAndValidatorHeadersAreAnswered) {
  TestHost host;
  ASSERT_TRUE(host.start());
  const int port = host.port();
  // gzip refused with q=0 (in several spellings): the file goes uncompressed.
  for (const char* refusal : {"gzip;q=0", "GZIP ; Q=0.000", "gzip; q=0, identity"}) {
    const std::string response =
        rawGet(port, "/console/app.js", std::string("Accept-Encoding: ") + refusal + "\r\n");
    EXPECT_EQ(statusOf(response), 200) << refusal;
    EXPECT_EQ(headOf(response).find("Content-Encoding"), std::string::npos) << refusal;
  }
  // Long and malformed lists: still one answer each, gzip only where it is really offered.
  const std::string many_commas = std::string(2000, ',') + "gzip";
  std::string response =
      rawGet(port, "/console/app.js", "Accept-Encoding: " + many_commas + "\r\n");
  EXPECT_EQ(statusOf(response), 200);
  EXPECT_NE(headOf(response).find("Content-Encoding: gzip"), std::string::npos);
  response = rawGet(port, "/console/app.js", "Accept-Encoding: ;;;=q=;gzipx, \"gzip\"\r\n");
  EXPECT_EQ(statusOf(response), 200);
  EXPECT_EQ(headOf(response).find("Content-Encoding"), std::string::npos);
  // If-None-Match: hundreds of tags that do not match, W/ and * forms, an unterminated quote.
  std::string tags;
  for (int i = 0; i < 300; ++i) tags += "\"t" + std::to_string(i) + "\", ";
  response = rawGet(port, "/console/", "If-None-Match: " + tags + "\r\n");
  EXPECT_EQ(statusOf(response), 200);
  response = rawGet(port, "/console/", "If-None-Match: \"unterminated\r\n");
  EXPECT_EQ(statusOf(response), 200);
  response = rawGet(port, "/console/", "If-None-Match: *\r\n");
  EXPECT_EQ(statusOf(response), 304);
  EXPECT_TRUE(bodyOf(response).empty());
  EXPECT_TRUE(stillServing(host));
}

}  // namespace
}  // namespace blueprint::testing
