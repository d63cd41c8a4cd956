// SPDX-License-Identifier: Apache-2.0
// max_connections: a connection past the limit is answered 503 too_many_connections with
// Retry-After on the accepting thread and closed (Poco alone would reset it once its accept
// queue is full); once one of the open connections closes, the next one is served.
#include <gtest/gtest.h>

#include <memory>
#include <thread>
#include <vector>

#include "hostile/hostile_support.hpp"
#include "support/test_host.hpp"

namespace blueprint::testing {
namespace {

constexpr const char* kHealthz = "GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n";

/// Opens a keep-alive connection and has one request answered on it: it then holds a thread.
std::unique_ptr<RawConnection> heldConnection(int port) {
  auto connection = std::make_unique<RawConnection>(port);
  EXPECT_TRUE(connection->send(kHealthz));
  std::optional<std::string> answer = connection->readResponse();
  EXPECT_TRUE(answer.has_value());
  if (answer) {
    EXPECT_EQ(statusOf(*answer), 200) << *answer;
  }
  return connection;
}

TEST(ConnectionLimit, PastTheLimitANewConnectionIsAnswered503AndClosed) {
  TestHostOptions options;
  options.config = {{"max_connections", 3}, {"threads", 8}, {"keep_alive_timeout_s", 30}};
  TestHost host(options);
  ASSERT_TRUE(host.start());

  std::vector<std::unique_ptr<RawConnection>> held;
  for (int i = 0; i < 3; ++i) held.push_back(heldConnection(host.port()));

  for (int i = 0; i < 5; ++i) {
    RawConnection extra(host.port());
    extra.send(kHealthz);  // may already find the connection closed: the answer is still there
    std::optional<std::string> answer = extra.readResponse();
    ASSERT_TRUE(answer.has_value()) << "a refused connection must still get an answer";
    EXPECT_EQ(statusOf(*answer), 503) << *answer;
    EXPECT_NE(answer->find("Retry-After: 1"), std::string::npos) << *answer;
    EXPECT_NE(bodyOf(*answer).find("\"too_many_connections\""), std::string::npos) << *answer;
    EXPECT_TRUE(extra.closedByPeer());
  }

  // The host counts a connection until it has seen it close, which takes it a moment: a new
  // one is served once it has (within a generous bound).
  auto servedSoon = [&] {
    int status = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (status != 200 && std::chrono::steady_clock::now() < deadline) {
      RawConnection next(host.port());
      next.send(kHealthz);
      std::optional<std::string> answer = next.readResponse();
      status = answer ? statusOf(*answer) : 0;
      if (status != 200) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return status;
  };
  held.pop_back();  // one held connection closes: the next connection is served
  EXPECT_EQ(servedSoon(), 200);
  held.clear();
  EXPECT_EQ(servedSoon(), 200);
  EXPECT_TRUE(stillServing(host));
}

TEST(ConnectionLimit, ANegativeLimitIsAConfigurationError) {
  TestHostOptions options;
  options.config = {{"max_connections", -1}};
  TestHost host(options);
  EXPECT_FALSE(host.start(std::chrono::seconds(10)));
  EXPECT_NE(host.output().find("max_connections must be >= 0"), std::string::npos) << host.output();
}

}  // namespace
}  // namespace blueprint::testing
