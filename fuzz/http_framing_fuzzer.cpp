// SPDX-License-Identifier: Apache-2.0
// Fuzzes HTTP request framing (issue 11): any bytes, as a client would send them, go through
// the host's real event-loop server (HttpServer, HttpConnection: head scanning and limits,
// Poco's field parsing, body framing, drain, keep-alive, the answers it makes itself) over a
// loopback TCP connection, with a handler that reads all, some or none of each body, streams,
// or throws, chosen by the target's first letters. The same bytes also go, cut at input-chosen
// points, through RequestHeadScanner and ChunkedDecoder, which must decide exactly as they do on
// the whole input at once. A crash, a sanitizer report, a hang (libFuzzer's -timeout), an answer
// that is not HTTP/1.1, or a split-dependent decision is a finding.
#include <Poco/Logger.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/StreamSocket.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>

#include "http/http_error.hpp"
#include "transport/http_server.hpp"
#include "transport/request_framing.hpp"

namespace {

using blueprint::host::ChunkedDecoder;
using blueprint::host::ConnectionLimits;
using blueprint::host::FramingLimits;
using blueprint::host::HttpServer;
using blueprint::host::RequestHeadScanner;
using blueprint::host::TransportSettings;

/// Answers by the target's first letters: /r reads the whole body, /p part of it, /s streams a
/// chunked answer, /t throws, anything else ignores the body.
class FuzzHandler final : public Poco::Net::HTTPRequestHandler {
 public:
  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    const std::string& target = request.getURI();
    std::string body;
    if (target.rfind("/r", 0) == 0 || target.rfind("/p", 0) == 0) {
      const std::size_t want = target[1] == 'r' ? 1 << 20 : 7;
      char buf[4096];
      std::istream& in = request.stream();
      while (in && body.size() < want) {
        in.read(buf, static_cast<std::streamsize>(std::min(sizeof buf, want - body.size())));
        body.append(buf, static_cast<std::size_t>(in.gcount()));
      }
    }
    if (target.rfind("/t", 0) == 0) throw std::runtime_error("handler failure: " + target);
    if (target.rfind("/s", 0) == 0) {
      response.setChunkedTransferEncoding(true);
      std::ostream& out = response.send();
      out << "streamed " << body.size();
      out.flush();
      return;
    }
    blueprint::host::sendJson(response, 200,
                              {{"method", request.getMethod()},
                               {"target", target},
                               {"body", body},
                               {"agent", request.get("User-Agent", "")}});
  }
};

class FuzzHandlers final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new FuzzHandler;
  }
};

/// Small limits, so that inputs of a few KiB reach every one of them.
FramingLimits fuzzFramingLimits() {
  FramingLimits limits;
  limits.max_header_bytes = 2048;
  limits.max_header_fields = 16;
  limits.max_target_bytes = 256;
  return limits;
}

struct Harness {
  Harness() {
    ::signal(SIGPIPE, SIG_IGN);
    Poco::Logger::root().setLevel(Poco::Message::PRIO_FATAL);  // 500s log an incident each
    listener.bind(Poco::Net::SocketAddress("127.0.0.1", 0), true, false);
    listener.listen(64);
    auto* params = new Poco::Net::HTTPServerParams;
    params->setKeepAlive(true);
    params->setKeepAliveTimeout(Poco::Timespan(1, 0));
    params->setTimeout(Poco::Timespan(2, 0));
    TransportSettings settings;
    settings.reactor_threads = 1;
    settings.handler_threads = 2;
    settings.max_connections = 64;
    ConnectionLimits& limits = settings.limits;
    limits.framing = fuzzFramingLimits();
    limits.header_timeout = std::chrono::milliseconds(2000);
    limits.drain_limit_bytes = 4096;
    limits.drain_timeout = std::chrono::milliseconds(500);
    limits.send_timeout = std::chrono::milliseconds(2000);
    port = listener.address().port();
    server = std::make_unique<HttpServer>(listener, new FuzzHandlers,
                                          Poco::Net::HTTPServerParams::Ptr(params), settings);
    server->start();
  }
  Poco::Net::ServerSocket listener;
  Poco::UInt16 port = 0;
  std::unique_ptr<HttpServer> server;
};

/// Writes `input` to `fd` and half-closes it, reading answers meanwhile (so a host blocked on
/// writing answers never blocks our writing), then reads until the host closes.
std::string exchange(int fd, std::string_view input) {
  std::string answers;
  std::size_t written = 0;
  bool write_closed = false;
  char buf[16384];
  for (;;) {
    if (written == input.size() && !write_closed) {
      ::shutdown(fd, SHUT_WR);
      write_closed = true;
    }
    pollfd pfd{fd, static_cast<short>(POLLIN | (write_closed ? 0 : POLLOUT)), 0};
    if (::poll(&pfd, 1, 5000) <= 0) break;
    if ((pfd.revents & POLLOUT) != 0 && !write_closed) {
      const ssize_t n =
          ::send(fd, input.data() + written, input.size() - written, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0)
        written += static_cast<std::size_t>(n);
      else if (errno != EAGAIN && errno != EINTR)
        written = input.size();
    }
    if ((pfd.revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0)
        answers.append(buf, static_cast<std::size_t>(n));
      else if (n == 0 || (errno != EAGAIN && errno != EINTR))
        break;
    }
  }
  return answers;
}

/// The scanner's decision on `input` fed whole, and fed in pieces of the given sizes.
void checkScannerSplits(std::string_view input, std::size_t step) {
  const FramingLimits limits = fuzzFramingLimits();
  RequestHeadScanner whole(limits);
  const auto expected = whole.scan(input);
  RequestHeadScanner pieces(limits);
  auto got = RequestHeadScanner::Result::NeedMore;
  for (std::size_t end = 0; got == RequestHeadScanner::Result::NeedMore && end < input.size();) {
    end = std::min(input.size(), end + step);
    got = pieces.scan(input.substr(0, end));
  }
  if (input.empty()) got = pieces.scan(input);
  if (got != expected) __builtin_trap();
  if (got == RequestHeadScanner::Result::Complete &&
      (whole.headLength() != pieces.headLength() || whole.body().kind != pieces.body().kind ||
       whole.body().length != pieces.body().length))
    __builtin_trap();
  if (got == RequestHeadScanner::Result::Invalid && whole.error().status != pieces.error().status)
    __builtin_trap();
}

/// The decoded body of `input` as chunked, fed whole and in pieces of `step` bytes.
void checkChunkedSplits(std::string_view input, std::size_t step) {
  const FramingLimits limits = fuzzFramingLimits();
  auto decodeAll = [&](std::size_t piece, bool& done, bool& failed) {
    ChunkedDecoder decoder(limits);
    std::string data;
    std::size_t at = 0;
    while (at < input.size() && !decoder.done() && !decoder.failed()) {
      const std::size_t size = std::min(piece, input.size() - at);
      std::size_t used = 0;
      while (used < size && !decoder.done() && !decoder.failed()) {
        const ChunkedDecoder::Step s = decoder.decode(input.data() + at + used, size - used);
        data.append(input.data() + at + used + s.data_offset, s.data_size);
        if (s.consumed == 0) break;
        used += s.consumed;
      }
      if (used == 0 && !decoder.done() && !decoder.failed()) break;
      at += used;
    }
    done = decoder.done();
    failed = decoder.failed();
    return data;
  };
  bool done_whole = false, failed_whole = false, done_pieces = false, failed_pieces = false;
  const std::string whole = decodeAll(input.size() + 1, done_whole, failed_whole);
  const std::string pieces = decodeAll(step, done_pieces, failed_pieces);
  if (done_whole != done_pieces || failed_whole != failed_pieces) __builtin_trap();
  if (!failed_whole && whole != pieces) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Harness harness;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t step = size > 0 ? 1 + data[0] % 13 : 1;
  checkScannerSplits(input, step);
  checkChunkedSplits(input, step);

  // The host's own server (event loop, handler pool) serves the input over loopback.
  Poco::Net::StreamSocket client(Poco::Net::SocketAddress("127.0.0.1", harness.port));
  const std::string answers = exchange(client.impl()->sockfd(), input);
  client.close();
  if (!answers.empty() && answers.rfind("HTTP/1.1 ", 0) != 0 && answers.rfind("HTTP/1.0 ", 0) != 0)
    __builtin_trap();
  return 0;
}
