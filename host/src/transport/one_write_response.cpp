// SPDX-License-Identifier: Apache-2.0
#include "transport/one_write_response.hpp"

#include <Poco/Net/StreamSocket.h>
#include <Poco/NullStream.h>

#include <cstdio>
#include <string>

namespace blueprint::host {

void OneWriteResponse::appendHead(std::string& out) const {
  // The bytes of HTTPResponse::write (status line, every field as `Name: value`, a blank line),
  // appended straight to the string: an ostream per answer cost more than formatting it.
  out += getVersion();
  out += ' ';
  char status[16];
  const int n = std::snprintf(status, sizeof(status), "%d", static_cast<int>(getStatus()));
  out.append(status, static_cast<std::size_t>(n));
  out += ' ';
  out += getReason();
  out += "\r\n";
  for (auto it = begin(); it != end(); ++it) {
    out += it->first;
    out += ": ";
    out += it->second;
    out += "\r\n";
  }
  out += "\r\n";
}

OneWriteResponse::OneWriteResponse(Poco::Net::HTTPServerSession& session)
    : Poco::Net::HTTPServerResponseImpl(session), session_(session) {}

OneWriteResponse::~OneWriteResponse() = default;

void OneWriteResponse::sendAll(const std::string& out) {
  Poco::Net::StreamSocket& socket = session_.socket();
  std::size_t done = 0;
  try {
    while (done < out.size()) {
      const int n = socket.sendBytes(out.data() + done, static_cast<int>(out.size() - done));
      if (n <= 0) break;
      done += static_cast<std::size_t>(n);
    }
  } catch (...) {
    // Gone, or not reading within the send timeout (SO_SNDTIMEO: "Operation would block").
    broken_ = true;
    throw;
  }
  if (done < out.size()) broken_ = true;
}

void OneWriteResponse::sendBuffer(const void* buffer, std::size_t length) {
  setContentLength(static_cast<std::streamsize>(length));
  setChunkedTransferEncoding(false);

  // Reused per thread: a connection thread answers many requests, and the buffer keeps its
  // capacity between them, so the steady state allocates nothing here.
  thread_local std::string out;
  out.clear();
  appendHead(out);
  if (!head_request_) {
    out.append(static_cast<const char*>(buffer), length);
    body_bytes_ = length;
  }

  sent_whole_ = true;  // even if the peer is gone: never answer this request a second time
  try {
    sendAll(out);
  } catch (...) {
    if (out.capacity() > 1 << 20) std::string().swap(out);
    throw;
  }
  if (out.capacity() > 1 << 20) std::string().swap(out);  // do not pin a large answer's memory
}

namespace {

/// Passes every byte on to `target`'s buffer and counts it. Flushing flushes the target, so
/// the chunked stream under it writes when the SSE stream flushes.
class CountingStreamBuf final : public std::streambuf {
 public:
  CountingStreamBuf(std::ostream& target, std::uint64_t& count)
      : target_(*target.rdbuf()), count_(count) {}

 protected:
  int_type overflow(int_type ch) override {
    if (traits_type::eq_int_type(ch, traits_type::eof())) return traits_type::not_eof(ch);
    if (traits_type::eq_int_type(target_.sputc(traits_type::to_char_type(ch)), traits_type::eof()))
      return traits_type::eof();
    ++count_;
    return ch;
  }
  std::streamsize xsputn(const char* data, std::streamsize size) override {
    const std::streamsize written = target_.sputn(data, size);
    if (written > 0) count_ += static_cast<std::uint64_t>(written);
    return written;
  }
  int sync() override { return target_.pubsync(); }

 private:
  std::streambuf& target_;
  std::uint64_t& count_;
};

}  // namespace

std::ostream& OneWriteResponse::send() {
  if (!head_request_) {
    std::ostream& poco_stream = Poco::Net::HTTPServerResponseImpl::send();
    counting_buffer_ = std::make_unique<CountingStreamBuf>(poco_stream, body_bytes_);
    counting_stream_ = std::make_unique<std::ostream>(counting_buffer_.get());
    return *counting_stream_;
  }
  // Poco drops the body of a HEAD answer only when its request is attached to the response,
  // which only Poco's own request class can do.
  std::string out;
  appendHead(out);
  sent_whole_ = true;
  head_only_ = std::make_unique<Poco::NullOutputStream>();
  head_only_->setstate(std::ios::badbit);
  sendAll(out);
  return *head_only_;
}

bool OneWriteResponse::sent() const {
  return sent_whole_ || Poco::Net::HTTPServerResponseImpl::sent();
}

}  // namespace blueprint::host
