// SPDX-License-Identifier: Apache-2.0
// run_trace.hpp: what each block execution of a run leaves in its trace, recorded as small
// structs while the run goes and turned into JSON only when someone asks for it. Building a JSON
// object per block was the largest single cost of a short run, and most sync runs' traces are
// never read.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "blueprint/template.hpp"

namespace blueprint::host {

/// One block execution as the trace shows it. The names view the compiled blueprint and its
/// catalogue while the run goes; RunTrace::detach() copies them into the trace when it ends.
struct TraceEntry {
  std::string_view block;
  std::string_view type;
  /// Empty: `extra->end_state_text` (an end state the type does not declare, kept owned).
  std::string_view end_state;
  /// The blueprint of a nested run (run_blueprint, loop bodies), with depth > 0.
  std::string_view blueprint;
  /// When the block started, in microseconds after its top-level run started: concurrent
  /// branches overlap on a timeline only with real start offsets (the end order cannot show it).
  std::int64_t start_us = 0;
  std::int64_t duration_us = 0;
  std::int32_t depth = 0;
  bool failed = false;
  /// Rare parts (an error message, log lines, an undeclared end state), off the common path.
  struct Extra {
    std::string end_state_text;
    std::string error;
    std::vector<Json> logs;
  };
  std::unique_ptr<Extra> extra;

  Extra& more() {
    if (!extra) extra = std::make_unique<Extra>();
    return *extra;
  }
};

/// The trace of one top-level run; blocks on several threads append to it.
class RunTrace {
 public:
  void append(TraceEntry entry);
  /// Copies every name the entries view into one buffer of the trace's own, so the trace no
  /// longer needs the compiled agent (which pins its plugins' libraries). Call once, at the end.
  void detach();
  /// [{"block","type","end_state","start_us","duration_us","blueprint"?,"depth"?,"error"?,
  /// "logs"?}…], in the order the blocks ended.
  Json toJson() const;
  /// Roughly the memory the trace holds, in bytes (for bounds on runs kept after they end).
  std::size_t retainedBytes() const;

 private:
  // Entries live in fixed chunks (each under 1 KiB): no reallocation while the run appends, and
  // no allocation large enough to make malloc consolidate its free lists on the hot path.
  static constexpr std::size_t kChunk = 8;
  using Chunk = std::array<TraceEntry, kChunk>;

  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Chunk>> chunks_;
  std::size_t size_ = 0;
  std::unique_ptr<char[]> names_;
};

}  // namespace blueprint::host
