// SPDX-License-Identifier: Apache-2.0
#include "transport/connection_output.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

namespace blueprint::host {

namespace {

/// A drained queue larger than this gives its memory back: an idle connection costs a few KiB.
constexpr std::size_t kKeptQueueCapacity = 16 * 1024;

}  // namespace

ConnectionOutput::ConnectionOutput(int fd, std::size_t max_queued_bytes,
                                   std::chrono::milliseconds send_timeout)
    : fd_(fd),
      max_queued_bytes_(std::max<std::size_t>(max_queued_bytes, 1)),
      send_timeout_(send_timeout) {}

bool ConnectionOutput::write(const char* data, std::size_t size) {
  std::unique_lock<std::mutex> lock(mutex_);
  while (size > 0) {
    if (failed_) return false;
    if (queue_.size() == sent_) {
      // Nothing queued: the usual answer leaves here, in this thread's own send(2).
      const ssize_t n = ::send(fd_, data, size, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) {
        data += n;
        size -= static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
        failed_ = true;
        drained_.notify_all();
        return false;
      }
      // The socket is full: epoll reports it writable again and the reactor sends the rest.
      queue_.clear();
      sent_ = 0;
      last_progress_ = Clock::now();
    }
    const std::size_t queued = queue_.size() - sent_;
    if (queued < max_queued_bytes_) {
      const std::size_t take = std::min(size, max_queued_bytes_ - queued);
      queue_.append(data, take);
      data += take;
      size -= take;
      // The reactor may have emptied the queue while the socket still had room, and then no
      // edge reports it writable again: whoever queues sends from the front while it can.
      if (sendQueued() == Flush::Failed) return false;
      continue;
    }
    if (fail_when_full_) {
      failed_ = true;  // a writer that must not wait: the client that stopped reading is gone
      drained_.notify_all();
      return false;
    }
    const bool moved = drained_.wait_until(lock, last_progress_ + send_timeout_, [&] {
      return failed_ || queue_.size() - sent_ < max_queued_bytes_;
    });
    if (!moved && !failed_ && Clock::now() >= last_progress_ + send_timeout_) {
      failed_ = true;  // the peer stopped reading: the answer is broken (decision 011)
      drained_.notify_all();
      return false;
    }
  }
  return true;
}

void ConnectionOutput::failWhenFull() {
  std::lock_guard<std::mutex> lock(mutex_);
  fail_when_full_ = true;
}

ConnectionOutput::Flush ConnectionOutput::sendQueued() {
  if (failed_) return Flush::Failed;
  while (sent_ < queue_.size()) {
    const ssize_t n =
        ::send(fd_, queue_.data() + sent_, queue_.size() - sent_, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      sent_ += static_cast<std::size_t>(n);
      last_progress_ = Clock::now();
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    failed_ = true;
    drained_.notify_all();
    return Flush::Failed;
  }
  if (sent_ == queue_.size()) {
    queue_.clear();
    sent_ = 0;
    if (queue_.capacity() > kKeptQueueCapacity) std::string().swap(queue_);
  } else if (sent_ > queue_.size() / 2) {
    queue_.erase(0, sent_);  // keep appends from growing the buffer without bound
    sent_ = 0;
  }
  drained_.notify_all();
  return queue_.empty() ? Flush::Empty : Flush::Pending;
}

ConnectionOutput::Flush ConnectionOutput::flush() {
  std::lock_guard<std::mutex> lock(mutex_);
  return sendQueued();
}

bool ConnectionOutput::stalled(Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mutex_);
  return !failed_ && sent_ < queue_.size() && now >= last_progress_ + send_timeout_;
}

bool ConnectionOutput::empty() {
  std::lock_guard<std::mutex> lock(mutex_);
  return sent_ == queue_.size();
}

bool ConnectionOutput::failed() {
  std::lock_guard<std::mutex> lock(mutex_);
  return failed_;
}

void ConnectionOutput::fail() {
  std::lock_guard<std::mutex> lock(mutex_);
  failed_ = true;
  drained_.notify_all();
}

}  // namespace blueprint::host
