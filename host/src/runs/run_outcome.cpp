// SPDX-License-Identifier: Apache-2.0
#include "runs/run_outcome.hpp"

#include "runs/run_events.hpp"

namespace blueprint::host {

std::vector<std::string> endRun(const RunResult& result, JobRecord& record) {
  const RunOutcome outcome = outcomeOf(result.status);
  record.status = jobStatusOf(outcome);
  record.finished_at_ms = nowMs();
  if (outcome == RunOutcome::Completed) {
    if (result.return_value) record.artifact = run_events::artifactText(*result.return_value);
  } else {
    record.error = result.error;
  }
  std::vector<std::string> closing;
  closing.reserve(2);
  run_events::appendClosing(result, closing);
  return closing;
}

}  // namespace blueprint::host
