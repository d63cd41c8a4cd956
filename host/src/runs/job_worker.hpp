// SPDX-License-Identifier: Apache-2.0
// job_worker.hpp: runs queued jobs (DESIGN §6). Worker threads claim jobs from storage with a
// lease, run them through the same Runner as sync runs, store their events and result together
// and claim their next job in the same commit (Storage::finishJobAndClaim, fenced by the lease's
// token), and renew leases while they run. A job whose host dies is re-claimed when its lease
// expires, so every accepted job completes or fails visibly; a job claimed by a worker that
// stops before starting it goes back to the queue uncounted (Storage::unclaimJobs).
// docs/decisions/009-group-committed-claims-and-finishes.md says why.
// Idle workers sleep until one of three things: a job queued on this host (notify()), a job
// announced by another host (Storage::waitForJobs: LISTEN/NOTIFY on PostgreSQL), or the poll
// period, which remains the fallback and is what finds leases that expired without an
// announcement (a host that died). docs/decisions/006-job-leases-and-multi-host.md says why.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "agents/agent_service.hpp"
#include "engine/runner.hpp"
#include "metrics/metrics.hpp"
#include "runs/run_admission.hpp"
#include "runs/run_registry.hpp"
#include "storage/storage.hpp"
#include "storage/storage_health.hpp"

namespace blueprint::host {

struct JobWorkerConfig {
  int threads = 4;
  std::chrono::milliseconds lease{15000};
  /// How often idle workers look for claimable jobs nobody announced (expired leases); jobs
  /// queued here or announced by another host wake them at once.
  std::chrono::milliseconds poll{500};
  /// Claims of one job after which it ends in `error` instead of running again (its host died
  /// or stopped during every earlier attempt).
  int max_attempts = 5;
  /// Where finished async runs are counted (blueprint_runs_total{kind="async"}); may be null.
  Metrics* metrics = nullptr;
  /// Run slots (max_concurrent_runs…): a job waits in its worker for one; may be null.
  RunAdmission* admission = nullptr;
  /// Told of storage failures and successes, so that a full disk turns the host not-ready
  /// and is logged once rather than by every worker at every poll; may be null.
  StorageHealth* storage_health = nullptr;
};

class JobWorker {
 public:
  JobWorker(Storage& storage, AgentService& agents, RunRegistry& registry,
            const RunOptions& options, JobWorkerConfig config);
  ~JobWorker();

  void start();
  /// Stops claiming; cancels running jobs and puts them back in the queue for another host or
  /// the next start (SIGTERM; each counts as an attempt), and hands back uncounted the jobs
  /// claimed but not started. Returns when every worker thread has ended.
  void stop();
  /// Wakes an idle worker: a job was just queued here.
  void notify();
  /// Jobs running on this host now.
  std::size_t running();

 private:
  /// Hands a storage failure to the storage health; true when that reported it (an
  /// unavailability, logged once per state change), so the caller logs nothing itself.
  bool reportedAsStorageTrouble(const std::exception& error);
  void workerLoop();
  void leaseLoop();
  /// Turns announcements from other hosts (Storage::waitForJobs) into wake-ups of idle workers.
  void announcementLoop();
  /// Wakes up to `count` idle workers (mutex_ held).
  void wakeWorkersLocked(std::uint64_t count);
  /// Runs a claimed job and stores its end; returns the next job, claimed in the same commit
  /// (none when stopping, when the lease was lost, or when nothing is claimable).
  std::optional<JobRecord> execute(JobRecord job);
  /// Ends a job that used up its attempts in `error` without running it.
  void giveUp(JobRecord job);

  struct Active {
    std::int64_t token;
    std::shared_ptr<LiveRun> live;
    std::atomic<bool> lease_lost{false};
  };

  Storage& storage_;
  AgentService& agents_;
  RunRegistry& registry_;
  const RunOptions& options_;
  JobWorkerConfig config_;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  /// Idle workers wait here; pending_wakes_ counts wake-ups not yet taken (at most threads).
  std::condition_variable wake_;
  std::uint64_t pending_wakes_ = 0;
  /// The lease thread waits here (apart from workers, so a wake-up meant for a worker is never
  /// taken by it).
  std::condition_variable lease_wake_;
  std::map<std::string, std::shared_ptr<Active>> active_;
  std::vector<std::thread> threads_;
  std::thread lease_thread_;
  std::thread announcement_thread_;
};

}  // namespace blueprint::host
