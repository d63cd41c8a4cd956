// SPDX-License-Identifier: Apache-2.0
// The event-loop transport (host/src/transport) with a tiny handler factory over real loopback
// sockets: a handler that detaches its response frees its handler thread while the answer stays
// open, the connection goes on (keep-alive, the next pipelined request, in order) once the
// answer is finished from another thread, and a client that leaves is reported to the holder.
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support/raw_socket.hpp"
#include "transport/http_server.hpp"
#include "transport/response_writer.hpp"

namespace blueprint::host {
namespace {

using namespace std::chrono_literals;

/// What the test's handlers share with the test: deferred answers wait here to be finished.
struct Deferred {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<std::shared_ptr<ResponseWriter>> writers;
  std::atomic<int> gone{0};

  void add(std::shared_ptr<ResponseWriter> writer) {
    std::lock_guard<std::mutex> lock(mutex);
    writers.push_back(std::move(writer));
    changed.notify_all();
  }
  /// Waits until `n` answers are deferred.
  bool waitFor(std::size_t n) {
    std::unique_lock<std::mutex> lock(mutex);
    return changed.wait_for(lock, 10s, [&] { return writers.size() >= n; });
  }
};

/// GET /now answers at once; GET /defer detaches and returns (the test finishes the answer).
class TestHandler final : public Poco::Net::HTTPRequestHandler {
 public:
  explicit TestHandler(Deferred& deferred) : deferred_(deferred) {}
  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    if (request.getURI() == "/defer") {
      response.setChunkedTransferEncoding(true);
      response.setContentType("text/plain");
      std::shared_ptr<ResponseWriter> writer = detachResponse(response);
      if (!writer) throw std::runtime_error("the response could not be detached");
      Deferred* deferred = &deferred_;  // the handler object ends when this call returns
      writer->onClientGone([deferred] { deferred->gone.fetch_add(1); });
      deferred_.add(std::move(writer));
      return;  // the handler thread is free; the answer stays open
    }
    const std::string body = "now";
    response.sendBuffer(body.data(), body.size());
  }

 private:
  Deferred& deferred_;
};

class TestHandlers final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit TestHandlers(Deferred& deferred) : deferred_(deferred) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new TestHandler(deferred_);
  }

 private:
  Deferred& deferred_;
};

using Client = ::blueprint::testing::RawSocket;

class DeferredResponse : public ::testing::Test {
 protected:
  void SetUp() override {
    listener_.bind(Poco::Net::SocketAddress("127.0.0.1", 0), true, false);
    listener_.listen(64);
    auto* params = new Poco::Net::HTTPServerParams;
    params->setKeepAlive(true);
    params->setKeepAliveTimeout(Poco::Timespan(30, 0));
    TransportSettings settings;
    settings.reactor_threads = 1;
    settings.handler_threads = 1;  // one thread: a deferred answer must not hold it
    settings.max_connections = 64;
    server_ = std::make_unique<HttpServer>(listener_, new TestHandlers(deferred_),
                                           Poco::Net::HTTPServerParams::Ptr(params), settings);
    server_->start();
  }
  void TearDown() override {
    {
      std::lock_guard<std::mutex> lock(deferred_.mutex);
      for (auto& writer : deferred_.writers) writer->finish(false);
    }
    server_->stop(1s);
  }
  int port() const { return listener_.address().port(); }

  Deferred deferred_;
  Poco::Net::ServerSocket listener_;
  std::unique_ptr<HttpServer> server_;
};

const std::string kDefer = "GET /defer HTTP/1.1\r\nHost: x\r\n\r\n";
const std::string kNow = "GET /now HTTP/1.1\r\nHost: x\r\n\r\n";

TEST_F(DeferredResponse, ADetachedAnswerFreesItsHandlerThread) {
  Client waiting(port());
  ASSERT_TRUE(waiting.connected());
  ASSERT_TRUE(waiting.send(kDefer));
  ASSERT_TRUE(deferred_.waitFor(1));
  // The only handler thread is free: another client is answered while the first answer is open.
  Client other(port());
  ASSERT_TRUE(other.send(kNow));
  EXPECT_TRUE(other.readUntil("\r\n\r\nnow", 10s)) << other.received();
  EXPECT_EQ(waiting.received(), "");
  // Finished from this thread (not the handler's): the answer arrives whole.
  std::shared_ptr<ResponseWriter> writer = deferred_.writers[0];
  std::thread finisher([writer] {
    EXPECT_TRUE(writer->write("first "));
    EXPECT_TRUE(writer->write("second"));
    writer->finish(true);
  });
  finisher.join();
  ASSERT_TRUE(waiting.readUntil("0\r\n\r\n", 10s)) << waiting.received();
  EXPECT_EQ(waiting.received().rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << waiting.received();
  EXPECT_NE(waiting.received().find("Transfer-Encoding: chunked"), std::string::npos);
  EXPECT_NE(waiting.received().find("6\r\nfirst \r\n6\r\nsecond\r\n0\r\n\r\n"), std::string::npos)
      << waiting.received();
  EXPECT_EQ(waiting.received().find("Connection: Close"), std::string::npos);
}

TEST_F(DeferredResponse, PipelinedRequestsWaitForTheDeferredAnswerAndKeepTheirOrder) {
  Client client(port());
  ASSERT_TRUE(client.send(kDefer + kNow + kDefer));
  ASSERT_TRUE(deferred_.waitFor(1));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(client.received(), "");  // nothing may overtake the open first answer
  EXPECT_FALSE(client.readUntil("HTTP/1.1", 200ms));
  deferred_.writers[0]->write("one");
  deferred_.writers[0]->finish(true);
  // The second request is served after the first answer is complete, then the third defers.
  ASSERT_TRUE(deferred_.waitFor(2));
  deferred_.writers[1]->write("three");
  deferred_.writers[1]->finish(true);
  ASSERT_TRUE(client.readUntil("5\r\nthree\r\n0\r\n\r\n", 10s)) << client.received();
  const std::string& all = client.received();
  const auto one = all.find("3\r\none\r\n0\r\n\r\n");
  const auto now = all.find("\r\n\r\nnow");
  const auto three = all.find("5\r\nthree\r\n");
  ASSERT_NE(one, std::string::npos) << all;
  ASSERT_NE(now, std::string::npos) << all;
  EXPECT_LT(one, now);
  EXPECT_LT(now, three);
}

TEST_F(DeferredResponse, AClientThatLeavesIsReportedToTheHolder) {
  Client client(port());
  ASSERT_TRUE(client.send(kDefer));
  ASSERT_TRUE(deferred_.waitFor(1));
  EXPECT_FALSE(deferred_.writers[0]->clientGone());
  client.close();
  const auto give_up = std::chrono::steady_clock::now() + 10s;
  while (deferred_.gone.load() == 0 && std::chrono::steady_clock::now() < give_up)
    std::this_thread::sleep_for(10ms);
  EXPECT_EQ(deferred_.gone.load(), 1);
  EXPECT_TRUE(deferred_.writers[0]->clientGone());
  deferred_.writers[0]->finish(true);  // harmless after the client left
  // The server still serves.
  Client other(port());
  ASSERT_TRUE(other.send(kNow));
  EXPECT_TRUE(other.readUntil("\r\n\r\nnow", 10s)) << other.received();
}

TEST_F(DeferredResponse, AForgottenWriterClosesTheConnectionInsteadOfHangingIt) {
  Client client(port());
  ASSERT_TRUE(client.send(kDefer + kNow));
  ASSERT_TRUE(deferred_.waitFor(1));
  {
    std::lock_guard<std::mutex> lock(deferred_.mutex);
    deferred_.writers.clear();  // the last handle goes: the answer ends, the connection closes
  }
  EXPECT_FALSE(client.readUntil("now", 5s));  // ends with the close, before the next request
  EXPECT_NE(client.received().find("Content-Length: 0"), std::string::npos) << client.received();
  EXPECT_NE(client.received().find("Connection: Close"), std::string::npos) << client.received();
}

}  // namespace
}  // namespace blueprint::host
