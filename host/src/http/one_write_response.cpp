// SPDX-License-Identifier: Apache-2.0
#include "http/one_write_response.hpp"

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
  if (!head_request_) out.append(static_cast<const char*>(buffer), length);

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
  if (!head_request_) return Poco::Net::HTTPServerResponseImpl::send();
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
