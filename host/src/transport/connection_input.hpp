// SPDX-License-Identifier: Apache-2.0
// connection_input.hpp: the receiving side of one HTTP connection: the bytes read from its
// socket and not used yet. A request's head, its body and a pipelined next request are taken
// from it in turn (request_framing.hpp decides where each ends), so bytes that belong to the
// next request are never mistaken for this one's and vice versa. One recv(2) per fill; the
// buffer is the connection's, so a keep-alive request allocates nothing here, and an idle
// connection can give it back (release()). The socket is non-blocking: the reactor fills it when
// epoll says so, a handler thread reading a body waits with waitReadable().
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string_view>

namespace blueprint::host {

class ConnectionInput {
 public:
  using Clock = std::chrono::steady_clock;

  /// `fd`: a connected non-blocking socket (not owned). The buffer is allocated at the first
  /// fill, starts small and grows up to `max_buffer_bytes` (a whole request head must fit).
  ConnectionInput(int fd, std::size_t max_buffer_bytes);

  /// The bytes received and not consumed yet.
  std::string_view buffered() const { return {data_.get() + begin_, end_ - begin_}; }
  /// Drops the first `n` buffered bytes (n <= buffered().size()).
  void consume(std::size_t n);

  enum class Fill { Data, End, Error };
  /// One recv(2) into the free space after the buffered bytes (moving them to the front, or
  /// growing the buffer, when the space is short). Nothing there: Error with errno EAGAIN.
  /// End: the peer closed its side.
  Fill fill();
  /// Whether the buffer is at its maximum and holds no free byte.
  bool full() const;
  /// Whether the last fill() filled all the free space (more may be waiting in the socket).
  bool lastFillWasFull() const { return last_fill_full_; }
  /// Frees the buffer when nothing is buffered: an idle keep-alive connection keeps no buffer.
  void release();

  /// poll(2) for input until `deadline` (or up to `slice` at most, whichever comes first).
  /// True when there is something to read, the peer closed, or the socket failed.
  bool waitReadable(Clock::time_point deadline, std::chrono::milliseconds slice) const;

  int fd() const { return fd_; }

 private:
  int fd_;
  std::unique_ptr<char[]> data_;
  std::size_t capacity_;
  std::size_t max_capacity_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  bool last_fill_full_ = false;
};

}  // namespace blueprint::host
