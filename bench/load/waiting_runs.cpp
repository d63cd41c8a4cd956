// SPDX-License-Identifier: Apache-2.0
// waiting_runs: sends N sync runs at once, each on its own connection, and waits for every
// stream to end, sampling the host's threads and peak RSS meanwhile (issue 12's figure for runs
// that wait: 10,000 runs each waiting 2 s in `delay`).
//   waiting_runs PORT KEY PATH COUNT TIMEOUT_S HOST_PID [BODY]
// Prints one line: done failed wall_ms slowest_ms peak_threads vm_hwm_kib [first failure].
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include "support/concurrent_requests.hpp"

namespace {

/// Connections at most waiting for their first answer bytes: half of the listen backlog that
/// bench/run gives the host (4,096), so no SYN is dropped while it accepts.
constexpr std::size_t kConnectBurst = 2048;

/// A field of /proc/<pid>/status ("Threads", "VmHWM"), as a number; -1 when unreadable.
long statusField(long pid, const std::string& name) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.compare(0, name.size() + 1, name + ":") == 0)
      return std::strtol(line.c_str() + name.size() + 1, nullptr, 10);
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 7 && argc != 8) {
    std::fprintf(stderr, "usage: waiting_runs PORT KEY PATH COUNT TIMEOUT_S HOST_PID [BODY]\n");
    return 2;
  }
  const auto port = static_cast<std::uint16_t>(std::atoi(argv[1]));
  const std::string key = argv[2], path = argv[3];
  const std::size_t count = std::strtoull(argv[4], nullptr, 10);
  const long timeout_s = std::atol(argv[5]), pid = std::atol(argv[6]);
  const std::string body = argc == 8 ? argv[7] : R"({"inputs":{"name":"Ada"}})";
  const std::string request =
      "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + key +
      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\nConnection: close\r\n\r\n" + body;
  std::atomic<bool> sampling{true};
  std::atomic<long> peak_threads{0};
  std::thread sampler([&] {
    while (sampling.load()) {
      const long threads = statusField(pid, "Threads");
      if (threads > peak_threads.load()) peak_threads = threads;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  const blueprint::testing::ConcurrentResult r = blueprint::testing::runConcurrentRequests(
      port, request, count, std::chrono::seconds(timeout_s), kConnectBurst);
  sampling = false;
  sampler.join();
  std::printf("%zu %zu %lld %lld %ld %ld %s\n", r.done, r.failed,
              static_cast<long long>(r.wall.count()), static_cast<long long>(r.slowest.count()),
              peak_threads.load(), statusField(pid, "VmHWM"),
              r.first_failure.substr(0, 200).c_str());
  return r.failed == 0 ? 0 : 1;
}
