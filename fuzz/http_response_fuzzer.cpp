// SPDX-License-Identifier: Apache-2.0
// Fuzzes what a remote server can send `http_request` (DESIGN §11: remote servers are not
// trusted): any bytes, as the whole reply to the request, go through the http plugin's real
// client (libcurl multi on its loop thread, our header, body and socket callbacks) and its
// Exchange (redirect hops, size limit, the JSON body parse, the block's Result) over loopback
// TCP. A Location sends the next hop back to the same server (the only address the policy
// allows, so a redirect elsewhere is refused before it connects), and the same bytes answer it.
// A crash, a sanitizer report, a hang (libFuzzer's -timeout), an end state the block does not
// declare, or a message or result that is not valid UTF-8 JSON is a finding.
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include "http/http_client.hpp"
#include "http/http_exchange.hpp"

namespace {

using blueprint::Json;
using blueprint::Result;
using blueprint::http::ClientRequest;
using blueprint::http::Clock;
using blueprint::http::Exchange;
using blueprint::http::ExchangePlan;
using blueprint::http::HttpClient;

/// A loopback server on its own thread: every connection gets the current reply, then a close.
class ReplyServer {
 public:
  ReplyServer() {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        ::listen(listener_, 64) != 0)
      std::abort();
    socklen_t length = sizeof(address);
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    std::thread([this] { serve(); }).detach();  // lives as long as the fuzzing process
  }
  std::uint16_t port() const { return port_; }
  void setReply(std::string reply) {
    std::lock_guard<std::mutex> lock(mutex_);
    reply_ = std::move(reply);
  }

 private:
  void serve() {
    for (;;) {
      const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      std::string head;
      char buffer[4096];
      while (head.find("\r\n\r\n") == std::string::npos && head.size() < 65536) {
        pollfd in{fd, POLLIN, 0};
        if (::poll(&in, 1, 1000) <= 0) break;
        const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
        if (n <= 0) break;
        head.append(buffer, static_cast<std::size_t>(n));
      }
      std::string reply;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        reply = reply_;
      }
      std::size_t sent = 0;
      while (sent < reply.size()) {
        const ssize_t n = ::send(fd, reply.data() + sent, reply.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) break;
        sent += static_cast<std::size_t>(n);
      }
      ::shutdown(fd, SHUT_RDWR);
      ::close(fd);
    }
  }

  int listener_ = -1;
  std::uint16_t port_ = 0;
  std::mutex mutex_;
  std::string reply_;
};

struct Harness {
  Harness() {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) std::abort();
    client = std::make_unique<HttpClient>();
  }
  ReplyServer server;
  std::unique_ptr<HttpClient> client;
};

bool isUtf8Json(const std::string& text) {
  try {
    (void)Json(text).dump();  // throws on invalid UTF-8
    return true;
  } catch (...) {
    return false;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Harness* harness = new Harness;  // never destroyed: the loop runs for the process
  harness->server.setReply(std::string(reinterpret_cast<const char*>(data), size));
  const std::uint16_t port = harness->server.port();

  ExchangePlan plan;
  plan.method = "GET";
  plan.url = "http://127.0.0.1:" + std::to_string(port) + "/fuzz?q=1";
  plan.timeout_s = 5;
  plan.deadline = Clock::now() + std::chrono::seconds(5);
  plan.max_json_depth = 16;
  plan.max_body_bytes = 64 * 1024;
  plan.policy = [port](const sockaddr& address) -> std::string {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(address);
    if (address.sa_family == AF_INET && v4.sin_addr.s_addr == htonl(INADDR_LOOPBACK) &&
        ntohs(v4.sin_port) == port)
      return {};
    return "an address the fuzzer does not allow";
  };
  plan.refusal_advice = ": refused";

  std::mutex mutex;
  std::condition_variable cv;
  std::optional<Result> result;
  auto exchange = Exchange::start(*harness->client, std::move(plan),
                                  [&](Result r, std::vector<std::string> lines) {
                                    for (const std::string& line : lines)
                                      if (!isUtf8Json(line)) std::abort();
                                    std::lock_guard<std::mutex> lock(mutex);
                                    result = std::move(r);
                                    cv.notify_all();
                                  });
  std::unique_lock<std::mutex> lock(mutex);
  if (!cv.wait_for(lock, std::chrono::seconds(30), [&] { return result.has_value(); }))
    std::abort();  // the deadline is 5 s: an exchange that does not end is a finding
  const std::string& state = result->state();
  if (state != "success" && state != "response_error" && state != "connection_error" &&
      state != "error")
    std::abort();
  if (!isUtf8Json(result->message())) std::abort();
  (void)result->value().dump();  // throws (a finding) on invalid UTF-8
  if (state == "success" && !result->value().is_object()) std::abort();
  return 0;
}
