// SPDX-License-Identifier: Apache-2.0
#include "transport/one_write_response.hpp"

#include <Poco/Exception.h>
#include <Poco/Net/NetException.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

#include "transport/response_writer.hpp"

namespace blueprint::host {

namespace {

/// A streamed body on its way to the connection's output: chunked (each flush one chunk, like
/// Poco's HTTPChunkedOutputStream), of a fixed length, or plain (ends with the connection).
/// Bytes are gathered up to kBufferBytes and written as one piece.
class ResponseBodyBuffer final : public std::streambuf {
 public:
  enum class Framing { Chunked, Fixed, Plain };
  static constexpr std::size_t kBufferBytes = 4096;

  ResponseBodyBuffer(ConnectionOutput& output, Framing framing, std::uint64_t length,
                     std::uint64_t& count, bool& broken)
      : output_(output), framing_(framing), left_(length), count_(count), broken_(broken) {
    setp(buffer_, buffer_ + kBufferBytes);
  }

  /// The rest of the body and, when chunked, the last chunk.
  void close() {
    if (closed_) return;
    writeOut();
    closed_ = true;
    if (framing_ == Framing::Chunked && !failed_) send("0\r\n\r\n", 5);
  }

 protected:
  int_type overflow(int_type ch) override {
    if (!writeOut()) return traits_type::eof();
    if (traits_type::eq_int_type(ch, traits_type::eof())) return traits_type::not_eof(ch);
    *pptr() = traits_type::to_char_type(ch);
    pbump(1);
    return ch;
  }
  int sync() override { return writeOut() ? 0 : -1; }

 private:
  bool send(const char* data, std::size_t size) {
    if (failed_) return false;
    if (!output_.write(data, size)) {
      failed_ = broken_ = true;
      return false;
    }
    return true;
  }

  /// Writes what is gathered (one chunk when chunked).
  bool writeOut() {
    std::size_t size = static_cast<std::size_t>(pptr() - pbase());
    setp(buffer_, buffer_ + kBufferBytes);
    if (failed_ || closed_) return !failed_ && size == 0;
    if (size == 0) return true;
    count_ += size;
    if (framing_ == Framing::Chunked) {
      char head[24];
      const int n = std::snprintf(head, sizeof head, "%zx\r\n", size);
      piece_.assign(head, static_cast<std::size_t>(n));
      piece_.append(buffer_, size);
      piece_.append("\r\n", 2);
      return send(piece_.data(), piece_.size());
    }
    if (framing_ == Framing::Fixed) {
      if (size > left_) size = static_cast<std::size_t>(left_);  // never past Content-Length
      left_ -= size;
    }
    return size == 0 || send(buffer_, size);
  }

  ConnectionOutput& output_;
  const Framing framing_;
  std::uint64_t left_;
  std::uint64_t& count_;
  bool& broken_;
  bool failed_ = false;
  bool closed_ = false;
  std::string piece_;
  char buffer_[kBufferBytes];
};

}  // namespace

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

OneWriteResponse::OneWriteResponse(ConnectionOutput& output,
                                   std::function<std::shared_ptr<ResponseWriter>()> detacher)
    : output_(output), detacher_(std::move(detacher)) {}

OneWriteResponse::~OneWriteResponse() = default;

void OneWriteResponse::sendAll(const std::string& out) {
  if (!output_.write(out.data(), out.size())) {
    broken_ = true;
    throw Poco::IOException("the client left or stopped reading the answer");
  }
}

void OneWriteResponse::sendContinue() {
  static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
  sendAll(kContinue);
}

void OneWriteResponse::sendBuffer(const void* buffer, std::size_t length) {
  setContentLength(static_cast<std::streamsize>(length));
  setChunkedTransferEncoding(false);

  // Reused per thread: a handler thread answers many requests, and the buffer keeps its
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

std::ostream& OneWriteResponse::send() {
  if (body_stream_) return *body_stream_;
  ResponseBodyBuffer::Framing framing = ResponseBodyBuffer::Framing::Plain;
  std::uint64_t length = 0;
  if (getChunkedTransferEncoding()) {
    framing = ResponseBodyBuffer::Framing::Chunked;
  } else if (hasContentLength()) {
    framing = ResponseBodyBuffer::Framing::Fixed;
    length = static_cast<std::uint64_t>(getContentLength64());
  } else {
    setKeepAlive(false);  // the body ends with the connection
  }
  std::string out;
  appendHead(out);
  if (head_request_) {
    // No body for HEAD: a stream that is already failed stops a streaming handler at once.
    body_buffer_ = std::make_unique<std::stringbuf>();
    body_stream_ = std::make_unique<std::ostream>(body_buffer_.get());
    body_stream_->setstate(std::ios::badbit);
  } else {
    body_buffer_ =
        std::make_unique<ResponseBodyBuffer>(output_, framing, length, body_bytes_, broken_);
    body_stream_ = std::make_unique<std::ostream>(body_buffer_.get());
  }
  sendAll(out);
  return *body_stream_;
}

void OneWriteResponse::complete() {
  if (!body_stream_ || head_request_) return;
  body_stream_->flush();
  static_cast<ResponseBodyBuffer*>(body_buffer_.get())->close();
}

void OneWriteResponse::sendFile(const std::string& path, const std::string& media_type) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw Poco::FileNotFoundException(path);
  const std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  setContentType(media_type);
  sendBuffer(bytes.data(), bytes.size());
}

void OneWriteResponse::redirect(const std::string& uri, HTTPStatus status) {
  setStatusAndReason(status);
  set("Location", uri);
  sendBuffer(nullptr, 0);
}

void OneWriteResponse::requireAuthentication(const std::string& realm) {
  setStatusAndReason(HTTP_UNAUTHORIZED);
  set("WWW-Authenticate", "Basic realm=\"" + realm + "\"");
  sendBuffer(nullptr, 0);
}

bool OneWriteResponse::sent() const { return sent_whole_ || body_stream_ != nullptr; }

std::shared_ptr<ResponseWriter> OneWriteResponse::detach() {
  if (detached_ || !detacher_) return nullptr;
  detached_ = true;
  return detacher_();
}

}  // namespace blueprint::host
