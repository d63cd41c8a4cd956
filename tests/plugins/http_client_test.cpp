// SPDX-License-Identifier: Apache-2.0
// http_client_test.cpp: the http plugin's HttpClient (libcurl multi on one loop thread) and the
// Exchange that chains its hops, compiled from plugins/http/ and run against servers this test
// starts on 127.0.0.1 port 0: many requests overlapping on one thread, cancellation, exactly-once
// completion, the size limit, and the connect policy on every redirect hop.
#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "http/address_policy.hpp"
#include "http/http_client.hpp"
#include "http/http_exchange.hpp"
#include "plugins/local_http_server.hpp"

namespace blueprint::http {
namespace {

using namespace std::chrono_literals;
using testing_support::LocalServer;
using testing_support::okResponse;
using testing_support::targetOf;

/// The threads of this process now.
std::size_t threadCount() {
  std::size_t count = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/task"))
    ++count;
  return count;
}

/// Waits for completions counted by the tests.
struct Completions {
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<ClientOutcome> outcomes;
  std::map<HttpClient::Handle, int> per_handle;

  HttpClient::Completion forHandle(std::shared_ptr<std::atomic<HttpClient::Handle>> handle) {
    return [this, handle](ClientOutcome outcome) {
      std::lock_guard<std::mutex> lock(mutex);
      ++per_handle[handle->load()];
      outcomes.push_back(std::move(outcome));
      cv.notify_all();
    };
  }
  HttpClient::Completion any() {
    return [this](ClientOutcome outcome) {
      std::lock_guard<std::mutex> lock(mutex);
      outcomes.push_back(std::move(outcome));
      cv.notify_all();
    };
  }
  bool waitFor(std::size_t count, std::chrono::seconds limit) {
    std::unique_lock<std::mutex> lock(mutex);
    return cv.wait_for(lock, limit, [&] { return outcomes.size() >= count; });
  }
};

class CurlGlobal : public ::testing::Environment {
 public:
  void SetUp() override { ASSERT_EQ(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK); }
  void TearDown() override { curl_global_cleanup(); }
};
::testing::Environment* const kCurlGlobal = ::testing::AddGlobalTestEnvironment(new CurlGlobal);

ClientRequest get(const std::string& url, std::chrono::milliseconds timeout = 30s) {
  ClientRequest request;
  request.url = url;
  request.deadline = Clock::now() + timeout;
  return request;
}

// ---- the client ----

TEST(HttpClient, ManyRequestsToASlowServerOverlapOnOneThread) {
  // 200 requests to a server that answers each 1 s after it arrived: one after another they
  // would take 200 s; overlapping, about 1 s. Threads do not grow with the requests.
  const int requests = std::getenv("BLUEPRINT_HTTP_CLIENT_REQUESTS") != nullptr
                           ? std::atoi(std::getenv("BLUEPRINT_HTTP_CLIENT_REQUESTS"))
                           : 200;
  LocalServer server(1000ms, [](const std::string&) { return okResponse(); });
  HttpClient client;
  const std::size_t threads_before = threadCount();
  Completions done;
  const auto started = Clock::now();
  for (int i = 0; i < requests; ++i) client.start(get(server.url("/slow")), done.any());
  std::size_t peak_threads = threadCount();
  while (!done.waitFor(static_cast<std::size_t>(requests), std::chrono::seconds(0))) {
    peak_threads = std::max(peak_threads, threadCount());
    std::this_thread::sleep_for(20ms);
    if (Clock::now() - started > 60s) break;
  }
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  ASSERT_TRUE(done.waitFor(static_cast<std::size_t>(requests), 1s));
  int ok = 0;
  for (const ClientOutcome& outcome : done.outcomes)
    ok += outcome.error == ClientError::None && outcome.response.status == 200 &&
          outcome.response.body == "ok";
  EXPECT_EQ(ok, requests) << done.outcomes.front().detail;
  EXPECT_LT(took, 60s);  // generous: serially this would take 200 s
  EXPECT_LE(peak_threads, threads_before) << "the client started threads per request";
  std::cout << requests << " requests to a 1 s server: " << took.count() << " ms, threads "
            << threads_before << " before, " << peak_threads << " at most during\n";
  EXPECT_EQ(client.inFlight(), 0u);
}

TEST(HttpClient, CancelEndsARequestToASlowServerPromptly) {
  LocalServer server(30000ms, [](const std::string&) { return okResponse(); });
  HttpClient client;
  Completions done;
  const HttpClient::Handle handle = client.start(get(server.url("/never")), done.any());
  while (server.requests() == 0) std::this_thread::sleep_for(5ms);
  const auto cancelled = Clock::now();
  client.cancel(handle);
  ASSERT_TRUE(done.waitFor(1, 10s));
  EXPECT_LT(Clock::now() - cancelled, 5s);  // generous: the server would answer after 30 s
  EXPECT_EQ(done.outcomes.front().error, ClientError::Cancelled);
  client.cancel(handle);  // after completion: left alone
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(done.outcomes.size(), 1u);
}

TEST(HttpClient, EveryRequestCompletesExactlyOnceWhateverCancelsRace) {
  LocalServer server(0ms, [](const std::string&) { return okResponse(); });
  HttpClient client;
  Completions done;
  constexpr int kRequests = 300;
  std::vector<HttpClient::Handle> handles;
  for (int i = 0; i < kRequests; ++i) {
    auto handle = std::make_shared<std::atomic<HttpClient::Handle>>(0);
    std::unique_lock<std::mutex> lock(done.mutex);  // the completion reads the handle once set
    handle->store(client.start(get(server.url("/fast")), done.forHandle(handle)));
    handles.push_back(handle->load());
    lock.unlock();
    // Cancel every other request at once, some later, some twice: before it starts, while it
    // runs or after it completed.
    if (i % 2 == 0) client.cancel(handles.back());
    if (i % 3 == 0 && i > 5) client.cancel(handles[static_cast<std::size_t>(i - 5)]);
  }
  ASSERT_TRUE(done.waitFor(kRequests, 30s));
  std::this_thread::sleep_for(200ms);
  std::lock_guard<std::mutex> lock(done.mutex);
  EXPECT_EQ(done.outcomes.size(), static_cast<std::size_t>(kRequests));
  for (const HttpClient::Handle handle : handles) EXPECT_EQ(done.per_handle[handle], 1) << handle;
  for (const ClientOutcome& outcome : done.outcomes)
    EXPECT_TRUE(outcome.error == ClientError::None || outcome.error == ClientError::Cancelled)
        << static_cast<int>(outcome.error) << " " << outcome.detail;
}

TEST(HttpClient, RequestsInFlightWhenItStopsCompleteAsStopped) {
  LocalServer server(30000ms, [](const std::string&) { return okResponse(); });
  Completions done;
  {
    HttpClient client;
    for (int i = 0; i < 5; ++i) client.start(get(server.url("/never")), done.any());
    while (server.requests() < 5) std::this_thread::sleep_for(5ms);
  }
  ASSERT_EQ(done.outcomes.size(), 5u);
  for (const ClientOutcome& outcome : done.outcomes) EXPECT_EQ(outcome.error, ClientError::Stopped);
}

TEST(HttpClient, CutsABodyPastTheLimitAndRefusesADeclaredOne) {
  const std::string big(64 * 1024, 'x');
  LocalServer server(0ms, [&big](const std::string& head) {
    if (targetOf(head) == "/declared")
      return std::string("HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n");
    return "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + big;  // no length: read to the end
  });
  HttpClient client;
  Completions done;
  ClientRequest streamed = get(server.url("/streamed"));
  streamed.max_body_bytes = 1000;
  client.start(streamed, done.any());
  ASSERT_TRUE(done.waitFor(1, 10s));
  EXPECT_EQ(done.outcomes[0].error, ClientError::BodyTooLarge) << done.outcomes[0].detail;
  EXPECT_EQ(done.outcomes[0].response.status, 200);
  EXPECT_TRUE(done.outcomes[0].response.body.empty());
  ClientRequest declared = get(server.url("/declared"));
  declared.max_body_bytes = 1000;
  client.start(declared, done.any());
  ASSERT_TRUE(done.waitFor(2, 10s));
  EXPECT_EQ(done.outcomes[1].error, ClientError::DeclaredTooLarge) << done.outcomes[1].detail;
  EXPECT_EQ(done.outcomes[1].response.content_length, 1000000u);
}

TEST(HttpClient, ThePolicySeesTheAddressThatConnects) {
  LocalServer server(0ms, [](const std::string&) { return okResponse(); });
  HttpClient client;
  Completions done;
  std::mutex mutex;
  std::vector<std::string> seen;
  ClientRequest request = get("http://localhost:" + std::to_string(server.port()) + "/");
  // localhost has two addresses (127.0.0.1 and ::1); only the IPv4 one is allowed.
  request.policy = [&](const sockaddr& address) -> std::string {
    std::lock_guard<std::mutex> lock(mutex);
    seen.push_back(addressText(address));
    return address.sa_family == AF_INET ? "" : "not IPv4";
  };
  client.start(request, done.any());
  ASSERT_TRUE(done.waitFor(1, 10s));
  EXPECT_EQ(done.outcomes[0].error, ClientError::None) << done.outcomes[0].detail;
  EXPECT_EQ(done.outcomes[0].address, "127.0.0.1");
  std::lock_guard<std::mutex> lock(mutex);
  EXPECT_NE(std::find(seen.begin(), seen.end(), "127.0.0.1"), seen.end());
}

// ---- the exchange: hops on the client ----

/// Runs one Exchange to its end.
Result exchange(HttpClient& client, ExchangePlan plan) {
  std::mutex mutex;
  std::condition_variable cv;
  std::optional<Result> result;
  std::shared_ptr<Exchange> running =
      Exchange::start(client, std::move(plan), [&](Result r, std::vector<std::string>) {
        std::lock_guard<std::mutex> lock(mutex);
        result = std::move(r);
        cv.notify_all();
      });
  std::unique_lock<std::mutex> lock(mutex);
  cv.wait_for(lock, 30s, [&] { return result.has_value(); });
  if (!result) return Result::error("the exchange did not end");
  return std::move(*result);
}

ExchangePlan plan(const std::string& url, ConnectPolicy policy) {
  ExchangePlan p;
  p.method = "GET";
  p.url = url;
  p.deadline = Clock::now() + 30s;
  p.policy = std::move(policy);
  p.refusal_advice = ": refused by the test";
  return p;
}

TEST(HttpExchange, ARedirectHopToARefusedAddressIsRefusedBeforeItConnects) {
  // The first hop (127.0.0.1) is allowed; its redirect to 127.0.0.2 is not. The refused hop
  // never reaches a server: nothing listens there, and the refusal names the policy's reason.
  std::uint16_t port = 0;
  LocalServer server(0ms, [&port](const std::string& head) {
    if (targetOf(head) == "/hop")
      return "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.2:" + std::to_string(port) +
             "/inside\r\nContent-Length: 0\r\n\r\n";
    return std::string("HTTP/1.1 302 Found\r\nLocation: /hop\r\nContent-Length: 0\r\n\r\n");
  });
  port = server.port();
  HttpClient client;
  std::mutex mutex;
  std::vector<std::string> checked;
  const Result r = exchange(client, plan(server.url("/start"), [&](const sockaddr& address) {
                              std::lock_guard<std::mutex> lock(mutex);
                              checked.push_back(addressText(address));
                              return addressText(address) == "127.0.0.1" ? std::string()
                                                                         : "a test-refused address";
                            }));
  EXPECT_EQ(r.state(), "connection_error") << r.message();
  EXPECT_NE(r.message().find("GET http://127.0.0.2:" + std::to_string(port) +
                             "/inside: refused to connect to 127.0.0.2 (a test-refused "
                             "address): refused by the test"),
            std::string::npos)
      << r.message();
  std::lock_guard<std::mutex> lock(mutex);
  // One check per hop: /start, /hop, then the refused one.
  EXPECT_EQ(checked, (std::vector<std::string>{"127.0.0.1", "127.0.0.1", "127.0.0.2"}));
}

TEST(HttpExchange, TheRealPolicyRefusesARedirectToLoopbackByName) {
  // With the block's own classification: a server allowed by a policy that admits only its
  // port, redirecting to localhost on another port, which addressRestriction refuses.
  LocalServer server(0ms, [](const std::string&) {
    return std::string("HTTP/1.1 301 Moved\r\nLocation: http://localhost:1/x\r\n\r\n");
  });
  const std::uint16_t port = server.port();
  HttpClient client;
  ExchangePlan p = plan(server.url("/"), nullptr);
  p.policy = [port](const sockaddr& address) -> std::string {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(address);
    if (address.sa_family == AF_INET && ntohs(v4.sin_port) == port) return {};
    return addressRestriction(address);
  };
  const Result r = exchange(client, std::move(p));
  EXPECT_EQ(r.state(), "connection_error") << r.message();
  EXPECT_NE(r.message().find("GET http://localhost:1/x: refused to connect to "), std::string::npos)
      << r.message();
  EXPECT_NE(r.message().find("a loopback address of host 'localhost'"), std::string::npos)
      << r.message();
}

TEST(HttpExchange, ARedirectToANonHttpUrlNamesItInUtf8) {
  // Found by http_response_fuzzer: the Location (with a byte that is not UTF-8) resolves to a URL
  // that is not http(s), and the message quoting it must still be valid UTF-8 (it is JSON).
  LocalServer server(0ms, [](const std::string&) {
    return std::string("HTTP/1.1 302 Found\r\nLocation: $$\xd3$$<$$Content-Length: 0\r\n\r\n");
  });
  HttpClient client;
  const Result r = exchange(client, plan(server.url("/start"), nullptr));
  EXPECT_EQ(r.state(), "connection_error") << r.message();
  EXPECT_NE(r.message().find("is not an http or https URL with a host"), std::string::npos)
      << r.message();
  EXPECT_NO_THROW((void)Json(r.message()).dump()) << r.message();
}

TEST(HttpExchange, CancelEndsTheChainWithCancelled) {
  LocalServer server(30000ms, [](const std::string&) { return okResponse(); });
  HttpClient client;
  std::mutex mutex;
  std::condition_variable cv;
  std::optional<Result> result;
  std::shared_ptr<Exchange> running = Exchange::start(client, plan(server.url("/never"), nullptr),
                                                      [&](Result r, std::vector<std::string>) {
                                                        std::lock_guard<std::mutex> lock(mutex);
                                                        result = std::move(r);
                                                        cv.notify_all();
                                                      });
  while (server.requests() == 0) std::this_thread::sleep_for(5ms);
  running->cancel();
  running->cancel();
  std::unique_lock<std::mutex> lock(mutex);
  ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return result.has_value(); }));
  EXPECT_EQ(result->state(), "error");
  EXPECT_EQ(result->message(), "cancelled");
  EXPECT_TRUE(result->isCancelled());
}

}  // namespace
}  // namespace blueprint::http
