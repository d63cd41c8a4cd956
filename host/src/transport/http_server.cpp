// SPDX-License-Identifier: Apache-2.0
#include "transport/http_server.hpp"

#include <Poco/Logger.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

namespace blueprint::host {

HttpServer::HttpServer(Poco::Net::ServerSocket listener,
                       Poco::Net::HTTPRequestHandlerFactory::Ptr handlers,
                       Poco::Net::HTTPServerParams::Ptr params, const TransportSettings& settings)
    : listener_(std::move(listener)),
      limit_(std::max(settings.max_connections, 1)),
      pool_(std::max<std::size_t>(settings.handler_threads, 1)) {
  context_.params = std::move(params);
  context_.handlers = std::move(handlers);
  context_.limits = settings.limits;
  context_.pool = &pool_;
  context_.limit = &limit_;
  context_.serve_inline = settings.serve_inline;
  for (std::size_t i = 0; i < std::max<std::size_t>(settings.reactor_threads, 1); ++i)
    reactors_.push_back(std::make_unique<Reactor>(context_));
}

HttpServer::~HttpServer() { stop(std::chrono::milliseconds(0)); }

void HttpServer::start() {
  const int fd = listener_.impl()->sockfd();
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  for (auto& reactor : reactors_) reactor->start();
  accepting_ = true;
  acceptor_ = std::thread([this] { acceptLoop(); });
}

void HttpServer::acceptLoop() {
  const int listen_fd = listener_.impl()->sockfd();
  auto& log = Poco::Logger::get("blueprint.http");
  auto last_warning = std::chrono::steady_clock::time_point();
  while (accepting_) {
    pollfd pfd{listen_fd, POLLIN, 0};
    if (::poll(&pfd, 1, 100) <= 0) continue;  // the timeout lets stopAccepting() end the loop
    for (;;) {
      const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno == EMFILE || errno == ENFILE) {
          // Out of descriptors: the connection waits in the backlog; do not spin on it.
          const auto now = std::chrono::steady_clock::now();
          if (now - last_warning > std::chrono::seconds(10)) {
            log.warning("accept: %s (raise the file-descriptor limit or lower max_connections)",
                        std::string(std::strerror(errno)));
            last_warning = now;
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        break;
      }
      if (!limit_.admit(fd)) {
        ::close(fd);
        continue;
      }
      const int on = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
      reactors_[next_reactor_++ % reactors_.size()]->adopt(fd);
    }
  }
}

void HttpServer::stopAccepting() {
  accepting_ = false;
  if (acceptor_.joinable()) acceptor_.join();
  context_.stopping = true;  // idle connections close at the next sweep, busy ones after it
  for (auto& reactor : reactors_) reactor->sweepNow();
}

void HttpServer::stop(std::chrono::milliseconds grace) {
  if (stopped_) return;
  stopped_ = true;
  stopAccepting();
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (limit_.open() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  for (auto& reactor : reactors_) reactor->abortAll();
  pool_.stop();  // handlers still running end soon: their connections' writes fail now
  for (auto& reactor : reactors_) reactor->stop();
}

}  // namespace blueprint::host
