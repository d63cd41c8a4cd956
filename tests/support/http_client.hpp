// SPDX-License-Identifier: Apache-2.0
// http_client.hpp: small HTTP helpers over Poco::Net::HTTPClientSession for integration tests.
// Start with HttpClient(port, key).get/post/put/del: each call opens its own connection, sends
// `Authorization: Bearer <key>` (when the key is not empty) and returns status, headers and the
// whole body. Network failures become std::runtime_error naming the request.
#pragma once

#include <Poco/Exception.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/NameValueCollection.h>
#include <Poco/StreamCopier.h>
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace blueprint::testing {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpResponse {
  int status = 0;
  /// Response headers (names compare case-insensitively).
  Poco::Net::NameValueCollection headers;
  std::string body;

  /// A header's value, or empty.
  std::string header(const std::string& name) const { return headers.get(name, ""); }
  /// The body as JSON; a body that does not parse fails the test and gives a discarded value.
  nlohmann::json json() const {
    nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
    if (j.is_discarded())
      ADD_FAILURE() << "response body is not JSON (status " << status << "): " << body;
    return j;
  }
  /// `error.code` of an error body, or empty.
  std::string errorCode() const {
    nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("error") || !j["error"].is_object())
      return {};
    return j["error"].value("code", "");
  }
};

/// One request on a fresh connection to 127.0.0.1:`port`.
inline HttpResponse httpRequest(int port, const std::string& method, const std::string& path,
                                const std::string& body = {}, const Headers& headers = {},
                                std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
  try {
    Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port));
    session.setTimeout(Poco::Timespan(static_cast<long>(timeout.count() / 1000),
                                      static_cast<long>(timeout.count() % 1000) * 1000));
    Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    for (const auto& [name, value] : headers) request.set(name, value);
    if (!body.empty() || method == "POST" || method == "PUT") {
      request.setContentLength(static_cast<std::streamsize>(body.size()));
      if (!request.has("Content-Type")) request.setContentType("application/json");
    }
    std::ostream& out = session.sendRequest(request);
    out << body;
    Poco::Net::HTTPResponse response;
    std::istream& in = session.receiveResponse(response);
    HttpResponse result;
    result.status = static_cast<int>(response.getStatus());
    for (const auto& [name, value] : response) result.headers.add(name, value);
    Poco::StreamCopier::copyToString(in, result.body);
    return result;
  } catch (const Poco::Exception& e) {
    throw std::runtime_error(method + " " + path + " failed: " + e.displayText());
  }
}

/// Requests as one API key.
class HttpClient {
 public:
  HttpClient(int port, std::string key) : port_(port), key_(std::move(key)) {}

  HttpResponse request(const std::string& method, const std::string& path,
                       const std::string& body = {}, Headers headers = {}) const {
    if (!key_.empty()) headers.emplace_back("Authorization", "Bearer " + key_);
    return httpRequest(port_, method, path, body, headers);
  }
  HttpResponse get(const std::string& path) const { return request("GET", path); }
  HttpResponse del(const std::string& path) const { return request("DELETE", path); }
  HttpResponse post(const std::string& path, const std::string& body = {},
                    Headers headers = {}) const {
    return request("POST", path, body, std::move(headers));
  }
  HttpResponse postJson(const std::string& path, const nlohmann::json& body,
                        Headers headers = {}) const {
    return request("POST", path, body.dump(), std::move(headers));
  }
  HttpResponse put(const std::string& path, const nlohmann::json& body) const {
    return request("PUT", path, body.dump());
  }

  int port() const { return port_; }
  const std::string& key() const { return key_; }

 private:
  int port_;
  std::string key_;
};

}  // namespace blueprint::testing
