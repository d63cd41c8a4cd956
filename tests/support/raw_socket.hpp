// SPDX-License-Identifier: Apache-2.0
// raw_socket.hpp: a blocking client connection to 127.0.0.1 for transport tests: bytes in, bytes
// out, nothing interpreted, every read bounded by a deadline.
#pragma once

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <string>

namespace blueprint::testing {

class RawSocket {
 public:
  /// Connects to 127.0.0.1:`port`; `receive_buffer` > 0 shrinks the socket's receive buffer (a
  /// client that reads slowly fills it soon).
  explicit RawSocket(int port, int receive_buffer = 0) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    if (receive_buffer > 0)
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  }
  ~RawSocket() { close(); }
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  bool connected() const { return connected_; }
  /// Sends all of `bytes`; false when the peer is gone.
  bool send(const std::string& bytes) {
    std::size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
      if (n <= 0) return false;
      done += static_cast<std::size_t>(n);
    }
    return true;
  }
  /// Reads until `text` is among the bytes received since the last take() (true), or `timeout`
  /// passed or the peer closed (false).
  bool readUntil(const std::string& text, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (received_.find(text) == std::string::npos) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd pfd{fd_, POLLIN, 0};
      if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) return false;
      char buffer[65536];
      const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) return false;
      received_.append(buffer, static_cast<std::size_t>(n));
    }
    return true;
  }
  /// Whether the peer has begun to answer (bytes wait to be read), within `timeout`.
  bool answerStarted(std::chrono::milliseconds timeout) {
    pollfd pfd{fd_, POLLIN, 0};
    return ::poll(&pfd, 1, static_cast<int>(timeout.count())) == 1;
  }
  /// The bytes received since the last take().
  const std::string& received() const { return received_; }
  std::string take() {
    std::string all;
    all.swap(received_);
    return all;
  }

 private:
  int fd_;
  bool connected_ = false;
  std::string received_;
};

}  // namespace blueprint::testing
