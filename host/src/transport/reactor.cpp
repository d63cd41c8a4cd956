// SPDX-License-Identifier: Apache-2.0
#include "transport/reactor.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

#include "transport/connection_limit.hpp"
#include "transport/http_connection.hpp"

namespace blueprint::host {

namespace {

/// How often deadlines are checked. Coarse on purpose: a sweep visits every connection, and
/// every deadline it enforces is seconds long.
constexpr auto kTick = std::chrono::milliseconds(100);
constexpr int kEventsPerWait = 256;

}  // namespace

Reactor::Reactor(ConnectionContext& context) : context_(context) {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_fd_ < 0 || wake_fd_ < 0)
    throw std::runtime_error("cannot create an event loop: " + std::string(std::strerror(errno)));
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.ptr = nullptr;  // the wake-up descriptor: every other entry is a connection
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &event);
}

Reactor::~Reactor() {
  stop();
  std::vector<int> adopted;
  {
    std::lock_guard<std::mutex> lock(inbox_mutex_);
    adopted.swap(adopted_);
    resumed_.clear();
  }
  for (int fd : adopted) {
    ::close(fd);
    if (context_.limit != nullptr) context_.limit->closed();
  }
  ::close(wake_fd_);
  ::close(epoll_fd_);
}

void Reactor::start() {
  last_sweep_ = std::chrono::steady_clock::now();
  thread_ = std::thread([this] { loop(); });
}

void Reactor::wake() {
  // inbox_mutex_ is held: one eventfd write until the reactor has taken the inbox.
  if (woken_) return;
  woken_ = true;
  const std::uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
}

void Reactor::adopt(int fd) {
  std::lock_guard<std::mutex> lock(inbox_mutex_);
  adopted_.push_back(fd);
  wake();
}

void Reactor::post(std::shared_ptr<HttpConnection> connection) {
  std::lock_guard<std::mutex> lock(inbox_mutex_);
  resumed_.push_back(std::move(connection));
  wake();
}

void Reactor::sweepNow() {
  std::lock_guard<std::mutex> lock(inbox_mutex_);
  sweep_now_ = true;
  wake();
}

void Reactor::abortAll() {
  std::lock_guard<std::mutex> lock(inbox_mutex_);
  abort_all_ = true;
  wake();
}

void Reactor::stop() {
  if (!thread_.joinable()) return;
  stopping_ = true;
  {
    std::lock_guard<std::mutex> lock(inbox_mutex_);
    wake();
  }
  thread_.join();
}

void Reactor::remove(HttpConnection& connection) {
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, connection.fd(), nullptr);
  const auto it = live_.find(&connection);
  if (it == live_.end()) return;
  closed_.push_back(std::move(it->second));
  live_.erase(it);
  count_.fetch_sub(1, std::memory_order_relaxed);
}

void Reactor::takeInbox() {
  std::uint64_t value = 0;
  (void)!::read(wake_fd_, &value, sizeof value);
  std::vector<int> adopted;
  std::vector<std::shared_ptr<HttpConnection>> resumed;
  bool sweep_now = false;
  bool abort_all = false;
  {
    std::lock_guard<std::mutex> lock(inbox_mutex_);
    woken_ = false;
    adopted.swap(adopted_);
    resumed.swap(resumed_);
    std::swap(sweep_now, sweep_now_);
    std::swap(abort_all, abort_all_);
  }
  for (int fd : adopted) {
    auto connection = std::make_shared<HttpConnection>(fd, *this, context_);
    epoll_event event{};
    // Registered once for everything, edge-triggered: no epoll_ctl per request.
    event.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    event.data.ptr = connection.get();
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) continue;  // closes it
    live_.emplace(connection.get(), connection);
    count_.fetch_add(1, std::memory_order_relaxed);
  }
  for (auto& connection : resumed)
    if (live_.count(connection.get()) > 0) connection->onResume();
  if (abort_all) {
    std::vector<HttpConnection*> all;
    for (auto& entry : live_) all.push_back(entry.first);
    for (HttpConnection* connection : all) connection->abort();
  }
  if (sweep_now) sweep();
}

void Reactor::sweep() {
  const auto now = std::chrono::steady_clock::now();
  last_sweep_ = now;
  std::vector<HttpConnection*> all;
  all.reserve(live_.size());
  for (auto& entry : live_) all.push_back(entry.first);
  // A connection closed during the sweep stays alive in closed_ until the loop clears it.
  for (HttpConnection* connection : all) connection->onTick(now);
}

void Reactor::loop() {
  epoll_event events[kEventsPerWait];
  while (!stopping_) {
    const int n = ::epoll_wait(epoll_fd_, events, kEventsPerWait, static_cast<int>(kTick.count()));
    for (int i = 0; i < n; ++i) {
      if (events[i].data.ptr == nullptr)
        takeInbox();
      else
        static_cast<HttpConnection*>(events[i].data.ptr)->onEvents(events[i].events);
    }
    if (std::chrono::steady_clock::now() - last_sweep_ >= kTick) sweep();
    closed_.clear();
  }
  std::vector<HttpConnection*> all;
  for (auto& entry : live_) all.push_back(entry.first);
  for (HttpConnection* connection : all) connection->abort();
  closed_.clear();
  live_.clear();  // a connection a handler still holds closes when the handler lets it go
}

}  // namespace blueprint::host
