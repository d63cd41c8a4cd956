// SPDX-License-Identifier: Apache-2.0
#include "app/systemd_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace blueprint::host {

bool notifySystemd(std::string_view state) noexcept {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr) return false;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::size_t path_length = std::strlen(path);
  // sd_notify(3): '/' is a filesystem socket, '@' an abstract one (its name starts with a NUL).
  if (path_length < 2 || path_length > sizeof(address.sun_path) ||
      (path[0] != '/' && path[0] != '@'))
    return false;
  std::memcpy(address.sun_path, path, path_length);
  if (path[0] == '@') address.sun_path[0] = '\0';
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const auto address_length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path_length);
  const ssize_t sent = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                                reinterpret_cast<const sockaddr*>(&address), address_length);
  ::close(fd);
  return sent == static_cast<ssize_t>(state.size());
}

}  // namespace blueprint::host
