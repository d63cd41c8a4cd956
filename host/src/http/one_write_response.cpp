// SPDX-License-Identifier: Apache-2.0
#include "http/one_write_response.hpp"

#include <Poco/Net/StreamSocket.h>

#include <ostream>
#include <streambuf>
#include <string>

namespace blueprint::host {

namespace {

/// An ostream target that appends to a std::string, so Poco's own header writer
/// (HTTPResponse::write) formats the status line and fields without a stringstream copy.
class StringAppendBuf final : public std::streambuf {
 public:
  explicit StringAppendBuf(std::string& out) : out_(out) {}

 protected:
  int_type overflow(int_type ch) override {
    if (ch != traits_type::eof()) out_.push_back(static_cast<char>(ch));
    return ch;
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    out_.append(s, static_cast<std::size_t>(n));
    return n;
  }

 private:
  std::string& out_;
};

}  // namespace

OneWriteResponse::OneWriteResponse(Poco::Net::HTTPServerSession& session)
    : Poco::Net::HTTPServerResponseImpl(session), session_(session) {}

void OneWriteResponse::sendBuffer(const void* buffer, std::size_t length) {
  setContentLength(static_cast<std::streamsize>(length));
  setChunkedTransferEncoding(false);

  // Reused per thread: a connection thread answers many requests, and the buffer keeps its
  // capacity between them, so the steady state allocates nothing here.
  thread_local std::string out;
  out.clear();
  {
    StringAppendBuf target(out);
    std::ostream header(&target);
    write(header);
  }
  if (!head_request_) out.append(static_cast<const char*>(buffer), length);

  sent_whole_ = true;  // even if the peer is gone: never answer this request a second time
  Poco::Net::StreamSocket& socket = session_.socket();
  std::size_t done = 0;
  while (done < out.size()) {
    const int n = socket.sendBytes(out.data() + done, static_cast<int>(out.size() - done));
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  if (out.capacity() > 1 << 20) std::string().swap(out);  // do not pin a large answer's memory
}

bool OneWriteResponse::sent() const {
  return sent_whole_ || Poco::Net::HTTPServerResponseImpl::sent();
}

}  // namespace blueprint::host
