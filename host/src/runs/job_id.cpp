// SPDX-License-Identifier: Apache-2.0
// Job ids from getrandom(2), 4 KiB per refill per thread: one system call per 256 ids. The
// previous generator, std::mt19937_64, is not a CSPRNG: 624 outputs (312 ids) reveal its state
// and so every id after them, including other clients' (issue 11, Tenancy). Reading the kernel's
// generator directly keeps the ids as strong as the kernel's; the batch keeps the cost per id
// near the old one (bench/engine_bench.cpp, BM_NewJobId).
#include "runs/job_id.hpp"

#include <pthread.h>
#include <sys/random.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>

namespace blueprint::host {

namespace {

/// Bumped in a forked child, so a child never hands out ids its parent's buffer also holds.
std::atomic<std::uint64_t> g_fork_generation{0};

void countFork() { g_fork_generation.fetch_add(1, std::memory_order_relaxed); }
[[maybe_unused]] const int g_fork_hook = ::pthread_atfork(nullptr, nullptr, countFork);

/// One thread's batch of kernel randomness. Bytes are wiped as they are handed out, so a memory
/// dump of the host shows no source of an id already given to a client.
struct RandomBatch {
  static constexpr std::size_t kBytes = 4096;
  unsigned char bytes[kBytes];
  std::size_t used = kBytes;  // empty until the first refill
  std::uint64_t fork_generation = 0;

  void refill() {
    std::size_t filled = 0;
    while (filled < kBytes) {
      // Reads over 256 bytes may be cut short by a signal: loop until the batch is full.
      const ssize_t got = ::getrandom(bytes + filled, kBytes - filled, 0);
      if (got < 0) {
        if (errno == EINTR) continue;
        throw std::runtime_error(std::string("getrandom failed: ") + std::strerror(errno));
      }
      filled += static_cast<std::size_t>(got);
    }
    used = 0;
  }

  /// Copies the next 16 random bytes to `out` and wipes them here.
  void take16(unsigned char* out) {
    const std::uint64_t generation = g_fork_generation.load(std::memory_order_relaxed);
    if (used + 16 > kBytes || generation != fork_generation) {
      fork_generation = generation;
      refill();
    }
    std::memcpy(out, bytes + used, 16);
    std::memset(bytes + used, 0, 16);
    used += 16;
  }
};

}  // namespace

std::string newJobId() {
  thread_local RandomBatch batch;
  unsigned char b[16];
  batch.take16(b);
  b[6] = static_cast<unsigned char>((b[6] & 0x0F) | 0x40);  // version 4
  b[8] = static_cast<unsigned char>((b[8] & 0x3F) | 0x80);  // RFC 4122 variant
  static const char kHex[] = "0123456789abcdef";
  std::string id(36, '-');
  std::size_t at = 0;
  for (int i = 0; i < 16; ++i) {
    if (at == 8 || at == 13 || at == 18 || at == 23) ++at;
    id[at++] = kHex[b[i] >> 4];
    id[at++] = kHex[b[i] & 0x0F];
  }
  std::memset(b, 0, sizeof(b));
  return id;
}

}  // namespace blueprint::host
