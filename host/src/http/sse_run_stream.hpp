// SPDX-License-Identifier: Apache-2.0
// sse_run_stream.hpp: a run's stream (RunService) as an SSE answer, opened on the response once
// the run service has checked the request and made the run's live record.
#pragma once

#include <Poco/Net/HTTPServerResponse.h>

#include "http/sse_stream.hpp"
#include "runs/run_service.hpp"

namespace blueprint::host {

class SseRunStream final : public RunStream {
 public:
  SseRunStream(Poco::Net::HTTPServerResponse& response, std::shared_ptr<LiveRun> live,
               StreamHeartbeat& heartbeat, const std::string& job_id)
      : sse_(response, std::move(live), heartbeat, job_id) {}

  void push(const std::string& event) override { sse_.push(event); }
  void flush() override { sse_.flush(); }
  void finish() override { sse_.finish(); }
  bool callerGone() override { return sse_.callerGone(); }
  bool detach(std::function<void()> on_gone) override { return sse_.detach(std::move(on_gone)); }
  void onDelta(std::string_view text) override { sse_.onDelta(text); }
  void onWait() override { sse_.onWait(); }

 private:
  SseStream sse_;
};

/// Opens SseRunStreams on one request's response.
class SseStreamOpener final : public RunStreamOpener {
 public:
  SseStreamOpener(Poco::Net::HTTPServerResponse& response, StreamHeartbeat& heartbeat)
      : response_(response), heartbeat_(heartbeat) {}

  std::shared_ptr<RunStream> open(std::shared_ptr<LiveRun> live,
                                  const std::string& job_id) override {
    return std::make_shared<SseRunStream>(response_, std::move(live), heartbeat_, job_id);
  }

 private:
  Poco::Net::HTTPServerResponse& response_;
  StreamHeartbeat& heartbeat_;
};

}  // namespace blueprint::host
