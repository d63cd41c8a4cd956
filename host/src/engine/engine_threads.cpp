// SPDX-License-Identifier: Apache-2.0
#include "engine/engine_threads.hpp"

#include <sched.h>

#include <atomic>
#include <mutex>
#include <thread>

namespace blueprint::host {

namespace {
std::mutex g_mutex;
EngineThreadsConfig g_config;
// Never destroyed implicitly: a static destructor joining threads that may still run plugin
// code at exit would race with the plugins' unload. stop() ends it explicitly. Read without the
// mutex on the hot path (every post goes through get()).
std::atomic<EngineThreads*> g_threads{nullptr};

std::size_t coresOr(std::size_t configured) {
  return configured != 0 ? configured : EngineThreads::usableCpus();
}
}  // namespace

std::size_t EngineThreads::usableCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int count = CPU_COUNT(&set);
    if (count > 0) return static_cast<std::size_t>(count);
  }
  const unsigned cores = std::thread::hardware_concurrency();
  return cores == 0 ? 2 : cores;
}

EngineThreads::EngineThreads(const EngineThreadsConfig& config)
    : workers_("bp-worker", coresOr(config.run_workers), WorkerPool::ThreadKind::Worker, true),
      blocking_("bp-blocking", config.blocking_workers == 0 ? 1 : config.blocking_workers,
                WorkerPool::ThreadKind::Blocking, false) {}

EngineThreads& EngineThreads::get() {
  if (EngineThreads* threads = g_threads.load(std::memory_order_acquire)) return *threads;
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_threads.load(std::memory_order_relaxed) == nullptr)
    g_threads.store(new EngineThreads(g_config), std::memory_order_release);
  return *g_threads.load(std::memory_order_relaxed);
}

void EngineThreads::configure(const EngineThreadsConfig& config) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_config = config;
}

void EngineThreads::stop() {
  EngineThreads* threads = nullptr;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    threads = g_threads.exchange(nullptr);
  }
  if (threads == nullptr) return;
  threads->timers_.stop();
  threads->workers_.stop();
  threads->blocking_.stop();
  delete threads;
}

}  // namespace blueprint::host
