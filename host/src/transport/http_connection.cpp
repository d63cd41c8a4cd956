// SPDX-License-Identifier: Apache-2.0
#include "transport/http_connection.hpp"

#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/Logger.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/NetException.h>
#include <Poco/Timestamp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <string>

#include "http/http_error.hpp"
#include "transport/connection_limit.hpp"
#include "transport/handler_pool.hpp"
#include "transport/reactor.hpp"
#include "transport/server_request.hpp"

namespace blueprint::host {

namespace {

/// The Date header, formatted once per second per thread rather than once per request.
const std::string& httpDate() {
  thread_local std::time_t formatted_for = 0;
  thread_local std::string text;
  const std::time_t now = std::time(nullptr);
  if (now != formatted_for) {
    text = Poco::DateTimeFormatter::format(Poco::Timestamp::fromEpochTime(now),
                                           Poco::DateTimeFormat::HTTP_FORMAT);
    formatted_for = now;
  }
  return text;
}

Poco::Net::SocketAddress addressOf(int fd, bool peer) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  const int rc = peer ? ::getpeername(fd, reinterpret_cast<sockaddr*>(&address), &length)
                      : ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  if (rc != 0) return {};
  return Poco::Net::SocketAddress(reinterpret_cast<const sockaddr*>(&address), length);
}

/// An idle keep-alive connection gives its input buffer back after this long.
constexpr auto kReleaseIdleBufferAfter = std::chrono::seconds(1);

}  // namespace

HttpConnection::HttpConnection(int fd, Reactor& reactor, ConnectionContext& context)
    : fd_(fd),
      reactor_(reactor),
      context_(context),
      limits_(context.limits),
      client_(addressOf(fd, true)),
      server_(addressOf(fd, false)),
      input_(fd, context.limits.framing.max_header_bytes + 1),
      output_(fd, context.limits.max_output_buffer_bytes, context.limits.send_timeout),
      started_(Clock::now()),
      request_started_(started_),
      idle_since_(started_) {}

HttpConnection::~HttpConnection() {
  if (!fd_closed_) {
    ::close(fd_);
    if (context_.limit != nullptr) context_.limit->closed();
  }
}

HttpConnection::Phase HttpConnection::phase() {
  std::lock_guard<std::mutex> lock(mutex_);
  return phase_;
}

// ---- the reactor thread ----

void HttpConnection::onEvents(std::uint32_t events) {
  if ((events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (phase_ == Phase::Dispatched && !gone_) {
      lock.unlock();
      reportGone();
    }
  }
  if ((events & EPOLLOUT) != 0 && output_.flush() == ConnectionOutput::Flush::Failed) {
    if (phase() == Phase::Dispatched) {
      abort();
      return;
    }
  }
  switch (phase()) {
    case Phase::Reading:
      if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) readInput();
      if (phase() == Phase::Reading) process();
      return;
    case Phase::Dispatched: {
      if ((events & EPOLLIN) == 0) return;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (phase_ == Phase::Dispatched) {
          read_pending_ = true;  // read once the answer is complete
          return;
        }
      }
      // Handed back since the check above, without knowing of this input: read it now.
      if (phase() == Phase::Reading) onResume();
      return;
    }
    case Phase::Closing:
      closingStep();
      return;
    case Phase::Closed:
      return;
  }
}

void HttpConnection::onResume() {
  switch (phase()) {
    case Phase::Reading:
      readInput();
      if (phase() == Phase::Reading) process();
      return;
    case Phase::Closing:
      closingStep();
      return;
    default:
      return;
  }
}

void HttpConnection::readInput() {
  while (!eof_ && !input_.full()) {
    switch (input_.fill()) {
      case ConnectionInput::Fill::Data:
        if (input_.lastFillWasFull()) continue;  // edge-triggered: more may be waiting
        return;
      case ConnectionInput::Fill::End:
        eof_ = true;
        return;
      case ConnectionInput::Fill::Error:
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
        closeNow();
        return;
    }
  }
}

void HttpConnection::process() {
  if (!scanner_) {
    if (input_.buffered().empty()) {
      if (eof_) closeNow();
      return;
    }
    scanner_.emplace(limits_.framing);
    // A new connection's wait for its first byte counts against its head deadline.
    request_started_ = served_ == 0 ? started_ : Clock::now();
  }
  const RequestHeadScanner::Result scanned = scanner_->scan(input_.buffered());
  if (scanned == RequestHeadScanner::Result::NeedMore) {
    if (eof_) closeNow();  // gone before a whole head
    return;
  }
  if (scanned == RequestHeadScanner::Result::Invalid) {
    const FramingError error = scanner_->error();
    scanner_.reset();
    refuse(error.status, error.code, error.message);
    startClosing(true);
    return;
  }
  head_length_ = scanner_->headLength();
  framing_ = scanner_->body();
  scanner_.reset();
  if (context_.stopping.load()) {
    closeNow();  // shutting down: no request starts any more
    return;
  }
  ++served_;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    phase_ = Phase::Dispatched;
    read_pending_ = false;
    serving_ = true;
    finish_requested_ = false;
  }
  if (servesInline()) {
    serve();
    return;
  }
  context_.pool->submit(shared_from_this());
}

bool HttpConnection::servesInline() const {
  if (!context_.serve_inline) return false;
  const std::string_view buffered = input_.buffered();
  const std::uint64_t body = framing_.kind == BodyFraming::Kind::Length ? framing_.length : 0;
  if (framing_.kind == BodyFraming::Kind::Chunked || buffered.size() - head_length_ < body)
    return false;
  // The request line: method SP target SP version (the scanner checked its shape).
  const std::string_view head = buffered.substr(0, head_length_);
  const std::size_t method_end = head.find(' ');
  const std::size_t target_end = head.find(' ', method_end + 1);
  if (method_end == std::string_view::npos || target_end == std::string_view::npos) return false;
  return context_.serve_inline(head.substr(0, method_end),
                               head.substr(method_end + 1, target_end - method_end - 1));
}

void HttpConnection::refuse(int status, const std::string& code, const std::string& message) {
  OneWriteResponse response(output_, nullptr);
  response.setVersion(Poco::Net::HTTPMessage::HTTP_1_1);
  response.set("Date", httpDate());
  response.setKeepAlive(false);
  try {
    sendError(response, status, code, message);
  } catch (...) {
    // The peer is gone; nothing to tell it.
  }
}

void HttpConnection::startClosing(bool linger) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (phase_ == Phase::Closed) return;
    phase_ = Phase::Closing;
  }
  linger_ = linger;
  closingStep();
}

void HttpConnection::closingStep() {
  switch (output_.flush()) {
    case ConnectionOutput::Flush::Failed:
      closeNow();
      return;
    case ConnectionOutput::Flush::Pending:
      return;  // epoll reports the socket writable again
    case ConnectionOutput::Flush::Empty:
      break;
  }
  if (!linger_ || eof_) {
    closeNow();
    return;
  }
  if (!shut_write_) {
    // The answer is complete: the peer sees its end now, and input is discarded until it
    // closes (or for drain_timeout / drain_limit_bytes), so that closing with unread input
    // (which makes the kernel send a reset) cannot destroy the answer before it is read.
    ::shutdown(fd_, SHUT_WR);
    shut_write_ = true;
    linger_deadline_ = Clock::now() + limits_.drain_timeout;
    discarded_ = input_.buffered().size();
    input_.consume(input_.buffered().size());
  }
  char sink[16384];
  for (;;) {
    if (discarded_ >= limits_.drain_limit_bytes) {
      closeNow();
      return;
    }
    const ssize_t n = ::recv(fd_, sink, sizeof sink, MSG_DONTWAIT);
    if (n > 0) {
      discarded_ += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    closeNow();
    return;
  }
}

void HttpConnection::closeNow() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (phase_ == Phase::Closed) return;
    phase_ = Phase::Closed;
  }
  output_.fail();
  reportGone();
  reactor_.remove(*this);
  ::close(fd_);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    fd_closed_ = true;
  }
  if (context_.limit != nullptr) context_.limit->closed();
}

void HttpConnection::reportGone() {
  std::function<void()> callback;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (gone_) return;
    gone_ = true;
    callback = std::move(on_gone_);
  }
  if (callback) callback();
}

void HttpConnection::abort() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (phase_ == Phase::Closed) return;
    if (phase_ != Phase::Dispatched) {
      phase_ = Phase::Closing;
      aborted_ = true;
    } else {
      // A handler still owns the socket's input: it must not be closed under it. Its reads
      // and writes fail now; the connection closes when the handler returns.
      aborted_ = true;
      output_.fail();
      ::shutdown(fd_, SHUT_RDWR);
      return;
    }
  }
  closeNow();
}

void HttpConnection::onTick(Clock::time_point now) {
  const Phase current = phase();
  if (current == Phase::Closed) return;
  if (output_.stalled(now)) {
    abort();  // a client that stopped reading past send_timeout (decision 011)
    return;
  }
  // Epoll reports writability on edges; a queue left behind by a race with a writer is sent
  // here at the latest.
  if (!output_.empty() && output_.flush() == ConnectionOutput::Flush::Failed) {
    abort();
    return;
  }
  if (current == Phase::Closing) {
    if (shut_write_ && now >= linger_deadline_) closeNow();
    return;
  }
  if (current != Phase::Reading) return;
  if (scanner_ || !input_.buffered().empty()) {
    if (now < request_started_ + limits_.header_timeout) return;
    if (!input_.buffered().empty()) {
      refuse(408, "request_timeout",
             "the request head did not arrive within " +
                 std::to_string(limits_.header_timeout.count()) + " ms");
      scanner_.reset();
      startClosing(true);
    } else {
      closeNow();
    }
    return;
  }
  if (context_.stopping.load() && output_.empty()) {
    closeNow();  // idle at shutdown
    return;
  }
  const auto keep_alive =
      std::chrono::milliseconds(context_.params->getKeepAliveTimeout().totalMilliseconds());
  const Clock::time_point deadline =
      served_ == 0 ? started_ + limits_.header_timeout : idle_since_ + keep_alive;
  if (now >= deadline) {
    closeNow();
    return;
  }
  if (now - idle_since_ > kReleaseIdleBufferAfter) input_.release();
}

// ---- a handler pool thread ----

void HttpConnection::serve() {
  const Poco::Net::HTTPServerParams& params = *context_.params;
  const int max_requests = params.getMaxKeepAliveRequests();  // 0: unlimited
  body_.emplace(input_, framing_, limits_.framing,
                std::chrono::milliseconds(params.getTimeout().totalMilliseconds()));
  response_.emplace(output_, [this]() {
    return std::make_shared<ResponseWriter>(shared_from_this(), *response_);
  });
  OneWriteResponse& response = *response_;
  bool keep_alive = false;
  bool answered = true;  // false: the answer could not be written whole
  try {
    ServerRequest request(response, input_.buffered().substr(0, head_length_), *body_,
                          limits_.framing, params, client_, server_);
    input_.consume(head_length_);
    response.setHeadRequest(request.getMethod() == Poco::Net::HTTPRequest::HTTP_HEAD);
    response.setVersion(request.getVersion());
    response.set("Date", httpDate());
    response.setKeepAlive(params.getKeepAlive() && request.getKeepAlive() &&
                          (max_requests <= 0 || served_ < max_requests) &&
                          !context_.stopping.load());
    handle(request, response);
    if (response.detached()) {
      // The handler read what it wanted of the body; the rest is drained now, on this thread,
      // so that the next request starts where this body ends once the answer is finished.
      detached_body_read_ =
          body_->finish(limits_.drain_limit_bytes, Clock::now() + limits_.drain_timeout);
      bool finished = false;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        serving_ = false;
        finished = finish_requested_;
      }
      // Finished (or dropped) while this thread still drained: the request ends here.
      if (finished) afterRequest(finish_keep_alive_, finish_answered_, detached_body_read_);
      return;
    }
    response.complete();  // a streamed answer ends here, before the body is drained
    keep_alive = params.getKeepAlive() && response.getKeepAlive();
    answered = !response.broken();
  } catch (const Poco::Net::MessageException& e) {
    // The scanner accepted what Poco's parser refuses: refuse it too.
    response_.reset();
    refuse(400, "invalid_request", std::string("malformed request head: ") + e.message());
    afterRequest(false, true, false);
    return;
  }
  // The body the handler left unread is drained (up to a bound) before the next request is
  // read, or the connection closes: never is it parsed as a request (issue 11, C1).
  const bool body_read = body_->finish(keep_alive && answered ? limits_.drain_limit_bytes : 0,
                                       Clock::now() + limits_.drain_timeout);
  afterRequest(keep_alive, answered, body_read);
}

void HttpConnection::handle(ServerRequest& request, OneWriteResponse& response) {
  auto answerFailure = [&](int status, const std::string& code, const std::string& message) {
    const bool answered = response.sent();
    response.setKeepAlive(false);
    if (answered) return;
    try {
      sendError(response, status, code, message);
    } catch (...) {
      // The peer is gone.
    }
  };
  try {
    std::unique_ptr<Poco::Net::HTTPRequestHandler> handler(
        context_.handlers->createRequestHandler(request));
    if (!handler) {
      response.setKeepAlive(false);
      sendError(response, 501, "not_implemented", "no handler serves this request");
      return;
    }
    if (request.getExpectContinue() && response.getStatus() == Poco::Net::HTTPResponse::HTTP_OK)
      response.sendContinue();
    handler->handleRequest(request, response);
  } catch (const RequestBodyError& e) {
    answerFailure(e.status(), e.code(), e.what());
  } catch (const std::exception& e) {
    failed(request, response, e.what());
  } catch (...) {
    failed(request, response, "an exception that is not a std::exception");
  }
}

void HttpConnection::failed(ServerRequest& request, OneWriteResponse& response,
                            const std::string& what) {
  if (response.broken()) {
    response.setKeepAlive(false);
    return;  // a write to a peer that left or stopped reading: nothing went wrong here
  }
  const std::string incident = newIncidentId();
  Poco::Logger::get("blueprint.http")
      .error("incident %s: %s %s failed: %s", incident, printableForLog(request.getMethod()),
             printableForLog(request.getURI()), printableForLog(what, 1024));
  response.setKeepAlive(false);
  if (response.sent()) return;
  try {
    sendError(response, 500, "internal_error",
              "internal error (incident " + incident + "; the host log has the details)");
  } catch (...) {
    // The peer is gone.
  }
}

// ---- any thread ----

void HttpConnection::responseFinished(bool keep_alive) {
  const bool answered = response_ && !response_->broken();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (serving_) {
      // The handler thread is still in serve() (draining the body): it ends the request.
      finish_requested_ = true;
      finish_keep_alive_ = keep_alive && context_.params->getKeepAlive();
      finish_answered_ = answered;
      return;
    }
  }
  afterRequest(keep_alive && context_.params->getKeepAlive(), answered, detached_body_read_);
}

void HttpConnection::afterRequest(bool keep_alive, bool answered, bool body_read) {
  response_.reset();
  body_.reset();
  bool resume = true;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (phase_ != Phase::Dispatched) return;
    serving_ = false;
    if (keep_alive && answered && body_read && !aborted_ && !context_.stopping.load()) {
      phase_ = Phase::Reading;
      idle_since_ = Clock::now();
      // Bytes already here (pipelined), or readiness epoll reported while the handler ran
      // (edge-triggered: it is not reported again), are the reactor's to read now.
      resume = read_pending_ || eof_ || !input_.buffered().empty() || input_.lastFillWasFull();
      read_pending_ = false;
    } else {
      phase_ = Phase::Closing;
      linger_ = answered && !aborted_ && (!body_read || !input_.buffered().empty());
    }
  }
  if (resume) reactor_.post(shared_from_this());
}

bool HttpConnection::clientGone() {
  std::lock_guard<std::mutex> lock(mutex_);
  return gone_;
}

void HttpConnection::setClientGoneCallback(std::function<void()> callback) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!gone_) {
      on_gone_ = std::move(callback);
      return;
    }
  }
  if (callback) callback();
}

}  // namespace blueprint::host
