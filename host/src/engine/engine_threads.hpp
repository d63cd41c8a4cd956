// SPDX-License-Identifier: Apache-2.0
// engine_threads.hpp: the process's run workers, blocking pool and timer service (issue 12),
// the only threads the engine uses. The host creates them at start-up with its config
// (`run_workers`, `blocking_workers`) and stops them at shutdown; a program that runs blueprints
// without the host (the CLI, tests) gets them with defaults on first use.
#pragma once

#include <cstddef>
#include <memory>

#include "engine/timer_service.hpp"
#include "engine/worker_pool.hpp"

namespace blueprint::host {

/// The sizes of the engine's pools.
struct EngineThreadsConfig {
  /// Threads running blocks that never block (manifest `instant` or `async`); 0 = cores.
  std::size_t run_workers = 0;
  /// Bound of the pool running blocks that may block (neither `instant` nor `async`).
  std::size_t blocking_workers = 64;
};

/// The engine's threads. Thread-safe.
class EngineThreads {
 public:
  /// The process's instance, created with the last configure()d sizes (defaults if none).
  static EngineThreads& get();
  /// Sets the sizes for the instance get() creates next; replaces a running instance only
  /// after stop(). Called by the host before anything runs.
  static void configure(const EngineThreadsConfig& config);
  /// Lets queued work finish, drops waiting timers and joins every thread; the next get()
  /// starts a fresh set. Call only when no run is in progress (host shutdown).
  static void stop();
  /// The CPUs this process may run on (its affinity mask: taskset, a container's cpuset), not
  /// the machine's: one thread per usable CPU is the default of the run workers and the
  /// transport's reactors, and more threads than CPUs would time-slice each other's requests.
  static std::size_t usableCpus();

  WorkerPool& workers() { return workers_; }
  WorkerPool& blocking() { return blocking_; }
  TimerService& timers() { return timers_; }

  explicit EngineThreads(const EngineThreadsConfig& config);

 private:
  WorkerPool workers_;
  WorkerPool blocking_;
  TimerService timers_;
};

}  // namespace blueprint::host
