// SPDX-License-Identifier: Apache-2.0
#include "transport/connection_input.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace blueprint::host {

namespace {

/// Enough for a typical request head and a small body in one recv(2), like Poco's own session
/// buffer; larger heads grow the buffer.
constexpr std::size_t kInitialBufferBytes = 8 * 1024;

}  // namespace

ConnectionInput::ConnectionInput(int fd, std::size_t max_buffer_bytes)
    : fd_(fd), capacity_(0), max_capacity_(std::max(max_buffer_bytes, kInitialBufferBytes)) {}

void ConnectionInput::consume(std::size_t n) {
  begin_ += std::min(n, end_ - begin_);
  if (begin_ == end_) begin_ = end_ = 0;  // the next fill starts at the front: no move needed
}

bool ConnectionInput::full() const { return begin_ == 0 && end_ == max_capacity_; }

void ConnectionInput::release() {
  if (begin_ != end_) return;
  data_.reset();
  capacity_ = 0;
  begin_ = end_ = 0;
}

ConnectionInput::Fill ConnectionInput::fill() {
  if (!data_) {
    data_ = std::make_unique<char[]>(kInitialBufferBytes);
    capacity_ = kInitialBufferBytes;
  }
  if (end_ == capacity_) {
    if (begin_ > 0) {
      std::memmove(data_.get(), data_.get() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    } else if (capacity_ < max_capacity_) {
      const std::size_t grown = std::min(capacity_ * 2, max_capacity_);
      auto bigger = std::make_unique<char[]>(grown);
      std::memcpy(bigger.get(), data_.get(), end_);
      data_ = std::move(bigger);
      capacity_ = grown;
    } else {
      errno = ENOBUFS;
      return Fill::Error;
    }
  }
  for (;;) {
    const std::size_t space = capacity_ - end_;
    const ssize_t n = ::recv(fd_, data_.get() + end_, space, MSG_DONTWAIT);
    if (n > 0) {
      end_ += static_cast<std::size_t>(n);
      last_fill_full_ = static_cast<std::size_t>(n) == space;
      return Fill::Data;
    }
    if (n == 0) return Fill::End;
    if (errno != EINTR) return Fill::Error;
  }
}

bool ConnectionInput::waitReadable(Clock::time_point deadline,
                                   std::chrono::milliseconds slice) const {
  pollfd pfd{};
  pfd.fd = fd_;
  pfd.events = POLLIN;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    const int ready = ::poll(&pfd, 1, static_cast<int>(std::min(left, slice).count()));
    if (ready > 0) return true;
    if (ready == 0) return false;
    if (errno != EINTR) return true;  // the read that follows reports the failure
  }
}

}  // namespace blueprint::host
