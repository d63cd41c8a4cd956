// SPDX-License-Identifier: Apache-2.0
// The host's own HTTP/1.1 connection loop (host/src/http/http_connection.cpp) over raw sockets:
// keep-alive reuse, pipelined requests, HEAD, malformed requests, Expect: 100-continue, the
// per-connection request limit, the idle timeout, and shutdown with idle connections open.
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "support/api_helpers.hpp"
#include "support/test_host.hpp"

namespace blueprint::testing {
namespace {

/// A raw client: writes bytes, reads until the answer it was told to expect is complete.
class RawClient {
 public:
  explicit RawClient(int port) : socket_(Poco::Net::SocketAddress("127.0.0.1", port)) {
    socket_.setReceiveTimeout(Poco::Timespan(10, 0));
  }
  void send(const std::string& bytes) {
    socket_.sendBytes(bytes.data(), static_cast<int>(bytes.size()));
  }

  /// Reads one response with a Content-Length body (or none): status line + headers + body.
  std::string readResponse() {
    for (;;) {
      const auto end = buffer_.find("\r\n\r\n");
      if (end != std::string::npos) {
        const std::string head = buffer_.substr(0, end + 4);
        std::size_t length = 0;
        const auto cl = lower(head).find("content-length: ");
        if (cl != std::string::npos) length = std::stoul(head.substr(cl + 16));
        if (buffer_.size() >= end + 4 + length) {
          std::string whole = buffer_.substr(0, end + 4 + length);
          buffer_.erase(0, whole.size());
          return whole;
        }
      }
      if (!fill()) return "";
    }
  }

  /// True when the server closed the connection (EOF) within the socket's receive timeout.
  bool closedByServer() {
    char c;
    try {
      return socket_.receiveBytes(&c, 1) == 0;
    } catch (const Poco::Exception&) {
      return false;
    }
  }

  Poco::Net::StreamSocket& socket() { return socket_; }

 private:
  static std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }
  bool fill() {
    char chunk[4096];
    const int n = socket_.receiveBytes(chunk, sizeof(chunk));
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }
  Poco::Net::StreamSocket socket_;
  std::string buffer_;
};

std::string healthz(const std::string& extra = "") {
  return "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra + "\r\n";
}

class HttpConnection : public ::testing::Test {
 protected:
  void startHost(Json config = Json::object()) {
    TestHostOptions o;
    o.config = std::move(config);
    o.agents["hello"] = agent(
        "Hello", {blueprint("hello", {block("trigger", "api_trigger", {}, {{"trigger", "reply"}}),
                                      block("reply", "return_value", {{"value", "hi"}})})});
    host_ = std::make_unique<TestHost>(o);
    ASSERT_TRUE(host_->start());
  }
  std::unique_ptr<TestHost> host_;
};

TEST_F(HttpConnection, ServesManyRequestsOnOneKeepAliveConnection) {
  startHost();
  RawClient client(host_->port());
  for (int i = 0; i < 50; ++i) {
    client.send(healthz());
    const std::string answer = client.readResponse();
    ASSERT_EQ(answer.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << answer;
    EXPECT_NE(answer.find("Date: "), std::string::npos) << answer;
    EXPECT_EQ(answer.find("Connection: Close"), std::string::npos) << answer;
  }
}

TEST_F(HttpConnection, AnswersPipelinedRequestsInOrder) {
  startHost();
  RawClient client(host_->port());
  const std::string trigger =
      "POST /v1/agents/hello/blueprints/hello HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
      host_->invokeKey() + "\r\nContent-Length: 13\r\n\r\n{\"inputs\":{}}";
  client.send(healthz() + trigger + healthz());
  const std::string first = client.readResponse(), second = client.readResponse(),
                    third = client.readResponse();
  EXPECT_NE(first.find("\"status\":\"ok\""), std::string::npos) << first;
  EXPECT_NE(second.find("Content-Type: text/event-stream"), std::string::npos) << second;
  EXPECT_NE(second.find("data: {\"delta\":\"hi\"}\n\ndata: [DONE]\n\n"), std::string::npos)
      << second;
  EXPECT_NE(third.find("\"status\":\"ok\""), std::string::npos) << third;
}

TEST_F(HttpConnection, HeadGetsHeadersWithoutABody) {
  startHost();
  RawClient client(host_->port());
  client.send("HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n" + healthz());
  // The HEAD answer has a Content-Length but no body: reading it as if it had one would
  // swallow the next answer's bytes, so read the header only.
  std::string all;
  char chunk[4096];
  while (all.find("HTTP/1.1", 10) == std::string::npos || all.find("\"ok\"") == std::string::npos) {
    const int n = client.socket().receiveBytes(chunk, sizeof(chunk));
    ASSERT_GT(n, 0) << all;
    all.append(chunk, static_cast<std::size_t>(n));
  }
  const auto second = all.find("HTTP/1.1", 10);
  const std::string head_answer = all.substr(0, second);
  EXPECT_EQ(head_answer.rfind("HTTP/1.1 200", 0), 0u) << head_answer;  // as GET, not 405
  EXPECT_EQ(head_answer.substr(head_answer.size() - 4), "\r\n\r\n") << head_answer;
  EXPECT_NE(all.substr(second).find("\"status\":\"ok\""), std::string::npos) << all;
}

TEST_F(HttpConnection, MalformedRequestGets400AndTheConnectionCloses) {
  startHost();
  RawClient client(host_->port());
  client.send("THIS IS NOT HTTP\r\n\r\n");
  const std::string answer = client.readResponse();
  EXPECT_EQ(answer.rfind("HTTP/1.1 400", 0), 0u) << "[" << answer << "]";
  EXPECT_TRUE(client.closedByServer());
}

TEST_F(HttpConnection, ExpectContinueIsAnsweredBeforeTheBody) {
  startHost();
  RawClient client(host_->port());
  client.send(
      "POST /v1/agents/hello/blueprints/hello HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
      host_->invokeKey() + "\r\nContent-Length: 13\r\nExpect: 100-continue\r\n\r\n");
  const std::string interim = client.readResponse();
  EXPECT_EQ(interim.rfind("HTTP/1.1 100 Continue", 0), 0u) << interim;
  client.send("{\"inputs\":{}}");
  const std::string answer = client.readResponse();
  EXPECT_NE(answer.find("data: [DONE]"), std::string::npos) << answer;
}

TEST_F(HttpConnection, HonoursTheRequestLimitPerConnection) {
  startHost({{"max_keep_alive_requests", 3}});
  RawClient client(host_->port());
  for (int i = 1; i <= 3; ++i) {
    client.send(healthz());
    const std::string answer = client.readResponse();
    ASSERT_EQ(answer.rfind("HTTP/1.1 200", 0), 0u) << answer;
    EXPECT_EQ(answer.find("Connection: Close") != std::string::npos, i == 3) << answer;
  }
  EXPECT_TRUE(client.closedByServer());
}

TEST_F(HttpConnection, ClosesIdleKeepAliveConnectionsAfterTheTimeout) {
  startHost({{"keep_alive_timeout_s", 1}});
  RawClient client(host_->port());
  client.send(healthz());
  ASSERT_EQ(client.readResponse().rfind("HTTP/1.1 200", 0), 0u);
  const auto before = std::chrono::steady_clock::now();
  EXPECT_TRUE(client.closedByServer());  // bounded by the client's 10 s receive timeout
  EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::seconds(8));
}

TEST_F(HttpConnection, ShutsDownPromptlyWithIdleConnectionsOpen) {
  startHost({{"keep_alive_timeout_s", 30}});
  std::vector<std::unique_ptr<RawClient>> idle;
  for (int i = 0; i < 20; ++i) {
    idle.push_back(std::make_unique<RawClient>(host_->port()));
    idle.back()->send(healthz());
    ASSERT_EQ(idle.back()->readResponse().rfind("HTTP/1.1 200", 0), 0u);
  }
  // Well under the 30 s keep-alive timeout: the host must end idle connections itself.
  EXPECT_EQ(host_->stop(std::chrono::seconds(8)), std::optional<int>(0)) << host_->output();
  for (auto& c : idle) EXPECT_TRUE(c->closedByServer());
}

}  // namespace
}  // namespace blueprint::testing
