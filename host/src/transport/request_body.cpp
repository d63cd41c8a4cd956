// SPDX-License-Identifier: Apache-2.0
#include "transport/request_body.hpp"

#include <cerrno>

namespace blueprint::host {

RequestBody::Buffer::Buffer(ConnectionInput& input, const BodyFraming& framing,
                            const FramingLimits& limits, std::chrono::milliseconds idle_timeout)
    : input_(input),
      chunked_(framing.kind == BodyFraming::Kind::Chunked),
      remaining_(framing.kind == BodyFraming::Kind::Length ? framing.length : 0),
      decoder_(limits),
      ended_(framing.kind == BodyFraming::Kind::None ||
             (framing.kind == BodyFraming::Kind::Length && framing.length == 0)),
      idle_timeout_(idle_timeout) {}

void RequestBody::Buffer::commit() {
  // The get area points into the input's buffer; every byte of it is body, read or not.
  input_.consume(static_cast<std::size_t>(egptr() - eback()));
  setg(nullptr, nullptr, nullptr);
}

bool RequestBody::Buffer::nextBuffered() {
  commit();
  while (!ended_) {
    const std::string_view view = input_.buffered();
    if (view.empty()) return false;
    if (!chunked_) {
      const std::size_t run =
          remaining_ < view.size() ? static_cast<std::size_t>(remaining_) : view.size();
      remaining_ -= run;
      if (remaining_ == 0) ended_ = true;
      char* start = const_cast<char*>(view.data());
      setg(start, start, start + run);
      return true;
    }
    const ChunkedDecoder::Step step = decoder_.decode(view.data(), view.size());
    if (decoder_.failed())
      throw RequestBodyError(400, "invalid_request",
                             "malformed chunked request body: " + decoder_.error());
    if (decoder_.done()) ended_ = true;
    if (step.data_size > 0) {
      input_.consume(step.data_offset);  // the chunk's framing before its data
      char* start = const_cast<char*>(input_.buffered().data());
      setg(start, start, start + step.data_size);
      return true;
    }
    input_.consume(step.consumed);
  }
  return false;
}

void RequestBody::Buffer::receive() {
  for (;;) {
    switch (input_.fill()) {
      case ConnectionInput::Fill::Data:
        return;
      case ConnectionInput::Fill::End:
        throw RequestBodyError(400, "invalid_request",
                               "the connection ended before the request body was complete");
      case ConnectionInput::Fill::Error:
        if (errno != EAGAIN && errno != EWOULDBLOCK)
          throw RequestBodyError(400, "invalid_request", "the request body could not be read");
        // The socket is non-blocking: wait here, on the handler thread, for the next bytes.
        if (!input_.waitReadable(std::chrono::steady_clock::now() + idle_timeout_, idle_timeout_))
          throw RequestBodyError(408, "request_timeout", "the request body stopped arriving");
    }
  }
}

RequestBody::Buffer::int_type RequestBody::Buffer::underflow() {
  for (;;) {
    if (nextBuffered()) return traits_type::to_int_type(*gptr());
    if (ended_) return traits_type::eof();
    receive();
  }
}

RequestBody::RequestBody(ConnectionInput& input, const BodyFraming& framing,
                         const FramingLimits& limits, std::chrono::milliseconds idle_timeout)
    : std::istream(nullptr), buffer_(input, framing, limits, idle_timeout) {
  rdbuf(&buffer_);
  // A framing error or timeout must reach the handler's caller as itself: without badbit in
  // the mask the stream would swallow it and the handler would see a short body.
  exceptions(std::ios::badbit);
}

bool RequestBody::finish(std::size_t max_bytes, std::chrono::steady_clock::time_point deadline) {
  return buffer_.drain(max_bytes, deadline);
}

bool RequestBody::Buffer::drain(std::size_t max_bytes,
                                std::chrono::steady_clock::time_point deadline) {
  std::size_t discarded = 0;
  try {
    for (;;) {
      if (nextBuffered()) {
        discarded += static_cast<std::size_t>(egptr() - gptr());
        if (discarded > max_bytes) break;
        continue;
      }
      if (ended_) {
        commit();
        return true;
      }
      // A Content-Length body's rest is known: do not wait for bytes past the bound.
      if (!chunked_ && discarded + remaining_ > max_bytes) break;
      if (!input_.waitReadable(deadline, std::chrono::milliseconds(1000))) {
        if (std::chrono::steady_clock::now() >= deadline) break;
        continue;
      }
      receive();
    }
  } catch (const RequestBodyError&) {
    // Malformed or cut short: the connection cannot carry another request.
  }
  commit();
  return false;
}

}  // namespace blueprint::host
