// SPDX-License-Identifier: Apache-2.0
// The event-loop transport (docs/decisions/016-event-loop-connections.md) against the real host
// over real sockets: thousands of idle keep-alive connections cost no thread and do not keep a
// new client waiting, and a client that stops reading its stream stalls only its own stream.
// The first test opens 2,000 connections: this process needs about 2,100 file descriptors and
// raises its soft limit to the hard one (the host raises its own the same way).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "support/api_helpers.hpp"
#include "support/http_client.hpp"
#include "support/raw_socket.hpp"
#include "support/test_host.hpp"

namespace blueprint::testing {
namespace {

using namespace std::chrono_literals;

const std::string kHealthz = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";

/// The host's thread count, from /proc/<pid>/task.
int threadsOf(pid_t pid) {
  int count = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    ++count;
  return count;
}

/// Raises this process's soft file-descriptor limit to the hard one; false when it stays
/// below `needed`.
bool raiseDescriptorLimit(rlim_t needed) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return false;
  limit.rlim_cur = limit.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &limit);
  ::getrlimit(RLIMIT_NOFILE, &limit);
  return limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur >= needed;
}

TEST(EventLoopConnections, TwoThousandIdleKeepAliveConnectionsCostNoThread) {
  constexpr int kIdle = 2000;
  ASSERT_TRUE(raiseDescriptorLimit(kIdle + 100))
      << "the test needs " << kIdle + 100 << " file descriptors (ulimit -n)";
  TestHostOptions options;
  options.config = {{"keep_alive_timeout_s", 120}, {"reactor_threads", 2}};
  TestHost host(options);
  ASSERT_TRUE(host.start());
  ASSERT_EQ(httpRequest(host.port(), "GET", "/healthz", {}, {}).status, 200);
  const int threads_before = threadsOf(host.pid());
  ASSERT_GT(threads_before, 0);

  std::vector<std::unique_ptr<RawSocket>> idle;
  idle.reserve(kIdle);
  for (int i = 0; i < kIdle; ++i) {
    auto connection = std::make_unique<RawSocket>(host.port());
    ASSERT_TRUE(connection->connected()) << "connection " << i;
    ASSERT_TRUE(connection->send(kHealthz)) << "connection " << i;
    ASSERT_TRUE(connection->readUntil("\"ok\"", 10s)) << "connection " << i;
    const std::string answer = connection->take();
    ASSERT_EQ(answer.rfind("HTTP/1.1 200", 0), 0u) << "connection " << i << ": " << answer;
    ASSERT_EQ(answer.find("Connection: Close"), std::string::npos) << answer;
    idle.push_back(std::move(connection));  // stays open and idle
  }

  // Every one of them open and idle, the host has the threads it had before (a handler thread
  // or two more at most: the requests above came one at a time).
  const int threads_idle = threadsOf(host.pid());
  EXPECT_LE(threads_idle, threads_before + 2)
      << "threads grew from " << threads_before << " with " << kIdle << " idle connections";

  const auto start = std::chrono::steady_clock::now();
  const HttpResponse fresh = httpRequest(host.port(), "GET", "/healthz", {}, {}, 5s);
  EXPECT_EQ(fresh.status, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);

  // The idle connections still serve, the first and the last alike.
  for (RawSocket* connection : {idle.front().get(), idle.back().get()}) {
    ASSERT_TRUE(connection->send(kHealthz));
    EXPECT_TRUE(connection->readUntil("\"ok\"", 10s)) << connection->take();
  }
  EXPECT_LE(threadsOf(host.pid()), threads_before + 2);
}

/// trigger → test.sleep(`ms`) → return_value `reply`.
Json sleepyBlueprint(const std::string& id, int ms, const std::string& reply) {
  return blueprint(id, {block("trigger", "api_trigger", {}, {{"trigger", "nap"}}),
                        block("nap", "test.sleep", {{"ms", ms}}, {{"success", "reply"}}),
                        block("reply", "return_value", {{"value", reply}})});
}

/// The body of a chunked answer (`answer`: head and body), decoded.
std::string dechunked(const std::string& answer) {
  std::string body;
  std::size_t at = answer.find("\r\n\r\n");
  if (at == std::string::npos) return body;
  at += 4;
  for (;;) {
    const std::size_t line_end = answer.find("\r\n", at);
    if (line_end == std::string::npos) return body;
    const std::size_t size = std::stoul(answer.substr(at, line_end - at), nullptr, 16);
    if (size == 0 || line_end + 2 + size > answer.size()) return body;
    body.append(answer, line_end + 2, size);
    at = line_end + 2 + size + 2;
  }
}

TEST(EventLoopConnections, AClientThatStopsReadingItsStreamDoesNotSlowAnother) {
  TestHostOptions options;
  options.plugins = {corePluginPath(), fixturePluginPath("test_blocks")};
  // The large answer waits in a small output queue: its handler blocks there, not the others.
  options.config = {{"max_output_buffer_bytes", 65536}, {"send_timeout_ms", 60000}};
  options.agents["sleepy"] = agent("Sleepy", {sleepyBlueprint("big", 100, "@{payload.inputs.text}"),
                                              sleepyBlueprint("short", 200, "rested")});
  TestHost host(options);
  ASSERT_TRUE(host.start());

  // A stream of more than 2 MB to a client with a small receive buffer that reads nothing.
  const std::string text(2 * 1000 * 1000, 'a');
  const std::string body = Json{{"inputs", {{"text", text}}}}.dump();
  RawSocket stalled(host.port(), 4096);
  ASSERT_TRUE(stalled.send(
      "POST " + triggerPath("sleepy", "big") + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
      host.invokeKey() + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body));
  ASSERT_TRUE(stalled.answerStarted(60s)) << "the stream did not begin within 60 s";
  std::this_thread::sleep_for(500ms);  // its run ends and its last event fills every buffer

  // Meanwhile other clients' runs are answered whole, as if the stalled one did not exist.
  const HttpClient client(host.port(), host.invokeKey());
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) {
    const SyncRun run = runSync(client, "sleepy", "short");
    EXPECT_EQ(run.status, 200) << run.body;
    EXPECT_EQ(returnedText(run.events), "rested");
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 20s);
  EXPECT_EQ(httpRequest(host.port(), "GET", "/healthz", {}, {}, 5s).status, 200);

  // The stalled stream lost nothing: once its client reads, the rest arrives.
  EXPECT_TRUE(stalled.readUntil("data: [DONE]", 30s));
  const std::string received = stalled.take();
  EXPECT_EQ(received.rfind("HTTP/1.1 200", 0), 0u) << received.substr(0, 300);
  EXPECT_NE(dechunked(received).find(text), std::string::npos)
      << "the returned text did not arrive whole";
}

}  // namespace
}  // namespace blueprint::testing
