// SPDX-License-Identifier: Apache-2.0
// sse_client.hpp: a strict, incremental reader of the host's text/event-stream responses
// (DESIGN §2). Every item must be `data: <payload>\n\n` (an event) or `: <text>\n\n` (a comment);
// any other line shape fails the test. Items are read as they arrive, so a test can read the
// first events of a run, then disconnect() mid-run.
//
//   SseClient sse(host.port(), host.invokeKey());
//   ASSERT_EQ(sse.open("POST", "/v1/agents/a/blueprints/b", R"({"inputs":{}})"), 200);
//   std::vector<std::string> events = sse.readToDone();   // payloads, [DONE] last
#pragma once

#include <Poco/Exception.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/http_client.hpp"

namespace blueprint::testing {

struct SseItem {
  bool is_comment = false;
  /// The event's payload (after `data: `) or the comment's text (after `: `).
  std::string data;
};

class SseClient {
 public:
  /// `read_timeout` bounds every single read: a stream that stays silent longer ends the read
  /// with timedOut().
  SseClient(int port, std::string key,
            std::chrono::milliseconds read_timeout = std::chrono::seconds(10))
      : port_(port), key_(std::move(key)), read_timeout_(read_timeout) {}

  /// Sends the request and reads the response head; returns the status. The body is read by
  /// next() (or readBody() for a response that is not a stream).
  int open(const std::string& method, const std::string& path, const std::string& body = {},
           Headers headers = {}) {
    try {
      session_ = std::make_unique<Poco::Net::HTTPClientSession>("127.0.0.1",
                                                                static_cast<Poco::UInt16>(port_));
      session_->setTimeout(Poco::Timespan(static_cast<long>(read_timeout_.count() / 1000),
                                          static_cast<long>(read_timeout_.count() % 1000) * 1000));
      Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
      if (!key_.empty()) request.set("Authorization", "Bearer " + key_);
      for (const auto& [name, value] : headers) request.set(name, value);
      if (!body.empty() || method == "POST") {
        request.setContentLength(static_cast<std::streamsize>(body.size()));
        request.setContentType("application/json");
      }
      session_->sendRequest(request) << body;
      in_ = &session_->receiveResponse(response_);
      // Poco's stream buffers throw from reads (timeouts, resets); let them reach us.
      in_->exceptions(std::ios::badbit);
    } catch (const Poco::Exception& e) {
      throw std::runtime_error(method + " " + path + " failed: " + e.displayText());
    }
    return static_cast<int>(response_.getStatus());
  }

  const Poco::Net::HTTPResponse& response() const { return response_; }
  std::string header(const std::string& name) const { return response_.get(name, ""); }

  /// The next event or comment; nullopt at the end of the stream, on a read timeout
  /// (timedOut()) or a malformed item (failed(), and the test fails).
  std::optional<SseItem> next() {
    if (in_ == nullptr || ended_ || failed_ || timed_out_) return std::nullopt;
    std::optional<std::string> line = readLine();
    if (!line) return std::nullopt;
    SseItem item;
    if (line->rfind("data: ", 0) == 0) {
      item.data = line->substr(6);
    } else if (line->rfind(": ", 0) == 0) {
      item.is_comment = true;
      item.data = line->substr(2);
      ++comments_;
    } else {
      return fail("expected `data: …` or `: …`, got " + quote(*line));
    }
    std::optional<std::string> blank = readLine();
    if (!blank) {
      if (ended_) return fail("the stream ended inside an item after " + quote(*line));
      return std::nullopt;
    }
    if (!blank->empty())
      return fail("expected a blank line after " + quote(*line) + ", got " + quote(*blank));
    return item;
  }

  /// The next event's payload, skipping (and counting) comments.
  std::optional<std::string> nextEvent() {
    while (std::optional<SseItem> item = next())
      if (!item->is_comment) return item->data;
    return std::nullopt;
  }

  /// Every remaining event payload up to and including `[DONE]`; checks that the stream ends
  /// right after it. Fails the test when the stream ends, stalls or breaks before `[DONE]`.
  std::vector<std::string> readToDone() {
    std::vector<std::string> events;
    while (std::optional<std::string> e = nextEvent()) {
      events.push_back(*e);
      if (*e == "[DONE]") {
        if (std::optional<SseItem> extra = next())
          ADD_FAILURE() << "an item follows [DONE]: " << quote(extra->data);
        else if (!ended_ && !failed_)
          ADD_FAILURE() << "the stream did not end after [DONE]";
        return events;
      }
    }
    ADD_FAILURE() << "the stream " << (timed_out_ ? "went silent" : "ended")
                  << " before [DONE]; events so far: " << events.size();
    return events;
  }

  /// The whole remaining body as text (for a response that is not a stream).
  std::string readBody() {
    std::string body;
    if (in_ != nullptr) Poco::StreamCopier::copyToString(*in_, body);
    return body;
  }

  /// Closes the connection now, mid-stream.
  void disconnect() {
    if (session_) session_->abort();
    in_ = nullptr;
  }

  bool ended() const { return ended_; }
  bool timedOut() const { return timed_out_; }
  bool failed() const { return failed_; }
  int comments() const { return comments_; }

 private:
  static std::string quote(const std::string& s) { return "\"" + s + "\""; }

  std::optional<SseItem> fail(const std::string& why) {
    failed_ = true;
    ADD_FAILURE() << "malformed SSE stream: " << why;
    return std::nullopt;
  }

  /// One `\n`-terminated line without the `\n`; nullopt at the end or on a timeout.
  std::optional<std::string> readLine() {
    std::string line;
    try {
      std::getline(*in_, line);
    } catch (const Poco::TimeoutException&) {
      timed_out_ = true;
      return std::nullopt;
    } catch (const std::exception&) {
      ended_ = true;  // reset by the peer
      return std::nullopt;
    }
    if (in_->eof()) {
      ended_ = true;
      if (!line.empty()) fail("the stream ended inside a line: " + quote(line));
      return std::nullopt;
    }
    if (!line.empty() && line.back() == '\r') {
      fail("a line ends with \\r: " + quote(line));
      return std::nullopt;
    }
    return line;
  }

  int port_;
  std::string key_;
  std::chrono::milliseconds read_timeout_;
  std::unique_ptr<Poco::Net::HTTPClientSession> session_;
  Poco::Net::HTTPResponse response_;
  std::istream* in_ = nullptr;
  bool ended_ = false;
  bool failed_ = false;
  bool timed_out_ = false;
  int comments_ = 0;
};

}  // namespace blueprint::testing
