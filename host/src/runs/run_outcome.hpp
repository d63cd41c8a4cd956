// SPDX-License-Identifier: Apache-2.0
// run_outcome.hpp: one vocabulary for how a run ended, from the engine's RunResult to the job's
// stored status, its closing events and the `status` label of blueprint_runs_total, and the one
// end of a run that sync runs (RunService) and jobs (JobWorker) share.
#pragma once

#include <string>
#include <vector>

#include "engine/runner.hpp"
#include "storage/storage.hpp"

namespace blueprint::host {

/// How a run ended. The order is the metric's label order (metrics.cpp).
enum class RunOutcome : int { Completed, Error, Cancelled, kCount };

/// Who waited for the run: a caller on its stream (sync) or nobody (a job). Label order too.
enum class RunKind : int { Sync, Async, kCount };

inline RunOutcome outcomeOf(RunResult::Status status) {
  switch (status) {
    case RunResult::Status::Completed:
      return RunOutcome::Completed;
    case RunResult::Status::Error:
      return RunOutcome::Error;
    case RunResult::Status::Cancelled:
      break;
  }
  return RunOutcome::Cancelled;
}

/// The job status a run that ended this way is stored with (DESIGN §2).
inline const char* jobStatusOf(RunOutcome outcome) {
  switch (outcome) {
    case RunOutcome::Completed:
      return job_status::kCompleted;
    case RunOutcome::Error:
      return job_status::kError;
    default:
      return job_status::kCancelled;
  }
}

/// The `status` label of blueprint_runs_total, the same word as the job status.
inline const char* metricLabelOf(RunOutcome outcome) { return jobStatusOf(outcome); }
inline const char* metricLabelOf(RunKind kind) { return kind == RunKind::Sync ? "sync" : "async"; }

/// The end of a run, for sync runs and jobs alike: sets `record`'s status, finish time and
/// artifact or error from `result`, and returns the closing events its stream ends with (the
/// Return Value's delta or an error/cancelled status, then `[DONE]`).
std::vector<std::string> endRun(const RunResult& result, JobRecord& record);

}  // namespace blueprint::host
