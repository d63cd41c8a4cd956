// SPDX-License-Identifier: Apache-2.0
// sse_run_stream.hpp: a run's stream (RunService) as an SSE answer, opened on the response once
// the run service has checked the request and made the run's live record.
#pragma once

#include <Poco/Net/HTTPServerResponse.h>

#include <optional>

#include "http/sse_stream.hpp"
#include "runs/run_service.hpp"

namespace blueprint::host {

class SseRunStream final : public RunStreamOpener, public RunStream {
 public:
  SseRunStream(Poco::Net::HTTPServerResponse& response, StreamHeartbeat& heartbeat)
      : response_(response), heartbeat_(heartbeat) {}

  RunStream& open(std::shared_ptr<LiveRun> live, const std::string& job_id) override {
    sse_.emplace(response_, std::move(live), heartbeat_, job_id);
    return *this;
  }

  void push(const std::string& event) override { sse_->push(event); }
  void flush() override { sse_->flush(); }
  void finish() override { sse_->finish(); }
  bool callerGone() override { return sse_->callerGone(); }
  void onDelta(std::string_view text) override { sse_->onDelta(text); }
  void onWait() override { sse_->onWait(); }

 private:
  Poco::Net::HTTPServerResponse& response_;
  StreamHeartbeat& heartbeat_;
  std::optional<SseStream> sse_;
};

}  // namespace blueprint::host
