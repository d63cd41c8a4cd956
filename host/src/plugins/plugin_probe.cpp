// SPDX-License-Identifier: Apache-2.0
#include "plugins/plugin_probe.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <thread>
#include <vector>

extern char** environ;

namespace blueprint::host {

std::string probePluginInChild(const std::filesystem::path& probe_command,
                               const std::filesystem::path& file,
                               std::chrono::milliseconds timeout) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0)
    return std::string("cannot create a pipe: ") + std::strerror(errno);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDERR_FILENO);
  const std::string cmd = probe_command.string(), path = file.string();
  std::vector<char*> argv = {const_cast<char*>(cmd.c_str()), const_cast<char*>("probe"),
                             const_cast<char*>(path.c_str()), nullptr};
  // The host blocks SIGTERM/SIGHUP in every thread (they are taken with sigwait); a child would
  // inherit that mask across exec and could not be stopped, so it starts with an empty one.
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setsigdefault(&attributes, &all);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, cmd.c_str(), &actions, &attributes, argv.data(), environ);
  posix_spawnattr_destroy(&attributes);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  if (rc != 0) {
    ::close(pipe_fds[0]);
    return "cannot start the probe " + cmd + ": " + std::strerror(rc);
  }
  std::string output;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool timed_out = false;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd pfd{pipe_fds[0], POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[4096];
    const ssize_t n = ::read(pipe_fds[0], buf, sizeof(buf));
    if (n <= 0) break;  // the child closed its end: it is exiting
    if (output.size() < 16384) output.append(buf, static_cast<std::size_t>(n));
  }
  ::close(pipe_fds[0]);
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  while (!output.empty() && (output.back() == '\n' || output.back() == ' ')) output.pop_back();
  if (timed_out)
    return "the probe did not finish within " + std::to_string(timeout.count()) + " ms";
  if (WIFSIGNALED(status))
    return "loading it in a probe process crashed with signal " + std::to_string(WTERMSIG(status)) +
           (output.empty() ? "" : " (" + output + ")");
  if (WEXITSTATUS(status) != 0)
    return output.empty() ? "the probe failed with exit code " + std::to_string(WEXITSTATUS(status))
                          : output;
  return {};
}

}  // namespace blueprint::host
