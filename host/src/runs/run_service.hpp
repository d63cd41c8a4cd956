// SPDX-License-Identifier: Apache-2.0
// run_service.hpp: the one place for a run's lifecycle behind the API (DESIGN §2, §6): a sync
// run streamed to its caller, a job submitted to the queue, a job looked up, followed,
// cancelled or retried. The HTTP handlers parse and answer; everything between (admission,
// the live record, the end of the run, storing it, metrics, tenancy) happens here, with the
// run's end shared with the job worker (run_outcome.hpp).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/api_error.hpp"
#include "auth/api_keys.hpp"
#include "engine/runner.hpp"
#include "runs/run_admission.hpp"
#include "storage/storage.hpp"

namespace blueprint::host {

struct HostServices;
class LiveRun;

/// Where a run's events go on their way to a caller (an SSE stream).
class RunStream : public RunObserver {
 public:
  /// Buffers one event; it leaves at the next flush(), wait or finish().
  virtual void push(const std::string& event) = 0;
  /// Writes what is buffered now.
  virtual void flush() = 0;
  /// Writes the rest; the answer ends.
  virtual void finish() = 0;
  /// True once a write failed: the caller went away.
  virtual bool callerGone() = 0;
  /// Lets the stream outlive the request's handler: the run goes on from the engine's threads
  /// and finish() ends the answer. `on_gone` is called (once, on a transport thread) if the
  /// caller leaves first. False when the stream cannot be detached; the handler then waits.
  virtual bool detach(std::function<void()> on_gone) = 0;
};

/// Opens the stream of a run once the run has a job id and a live record (null when following
/// a job that does not run here): the caller's checks come first, so an answer refused with an
/// error has sent nothing yet.
class RunStreamOpener {
 public:
  virtual ~RunStreamOpener() = default;
  virtual std::shared_ptr<RunStream> open(std::shared_ptr<LiveRun> live,
                                          const std::string& job_id) = 0;
};

/// A job as a caller may see it.
struct JobView {
  JobRecord record;
  /// The `inputs` object its run was given; null when it had none (a draft's test run).
  Json inputs;
};

class RunService {
 public:
  explicit RunService(HostServices& services) : services_(services) {}

  /// A run slot for a sync run of `agent_id`, or ApiError 429 too_many_runs with Retry-After:
  /// the caller is waiting, so it is told at once rather than queued behind runs that may last
  /// minutes. Empty when the host has no run limits.
  std::optional<RunAdmission::Slot> admitSync(const std::string& agent_id);

  /// Runs `bp` of `agent` and streams it into the stream `opener` opens: the job is live
  /// (pollable) from its first event and final before the caller reads `[DONE]`. A run whose
  /// caller left is stored; others go to the sync-run recorder when there is one. A blueprint
  /// whose blocks are all instant runs on the calling thread; one that may wait is started on
  /// the engine and its stream detached, so the call returns at once and no thread waits for
  /// it (issue 12). `slot` is held until the run ends.
  void runSync(const Principal& caller, std::shared_ptr<const CompiledAgent> agent,
               const CompiledBlueprint& bp, std::shared_ptr<const Json> payload,
               std::optional<RunAdmission::Slot> slot, RunStreamOpener& opener);

  /// Queues a job of `bp`, durable before this returns (DESIGN §6). `created` is false when
  /// `idempotency_key` named an earlier job, which is returned instead. ApiError 429 queue_full.
  struct Submitted {
    JobRecord job;
    bool created = false;
  };
  Submitted submit(const Principal& caller, const CompiledAgent& agent, const CompiledBlueprint& bp,
                   Json body, const std::string& idempotency_key);

  /// Job `id` with its inputs. ApiError 404 job_not_found, also for a job the key may not see.
  JobView find(const Principal& caller, const std::string& id);

  /// Streams job `id`'s events from the first into `stream` until `[DONE]`, the caller leaves,
  /// or the run's timeout plus a minute passes. Replays storage for a job not running here and
  /// follows it while another host runs it. ApiError 404 as find().
  void follow(const Principal& caller, const std::string& id, RunStreamOpener& opener);

  /// Cancels job `id`. `finished` says whether it is final already (200) or still stopping
  /// (202, status "cancelling"). ApiError 404 as find(), 409 job_finished.
  struct Cancel {
    JobRecord job;
    bool finished = false;
  };
  Cancel cancel(const Principal& caller, const std::string& id);

  /// Queues job `id`, which ended in error, to run again; returns it queued. ApiError 404 as
  /// find(), 409 job_not_retryable.
  JobRecord retry(const Principal& caller, const std::string& id);

 private:
  struct SyncRun;
  /// The end of a sync run, wherever it ran: closing events, the final record, the stream's
  /// end, keeping the run, metrics.
  void finishSync(SyncRun& run, const RunResult& result);
  /// Stores a sync run whose caller left before its end, or hands it to the recorder.
  void keepSyncRun(JobRecord record, const std::shared_ptr<const Json>& payload,
                   const RunResult& result, LiveRun& live);

  HostServices& services_;
};

}  // namespace blueprint::host
