// SPDX-License-Identifier: Apache-2.0
// sse_stream.hpp: a run's text/event-stream response (DESIGN §2) and its write policy
// (docs/decisions/003-sse-write-policy.md): events are buffered while the run is busy and
// written when it waits (a block that may block, a sleep, a streamed delta) or ends. A run that
// never waits leaves as one response with Content-Length in one write; otherwise the response
// turns chunked at the first flush. A shared heartbeat thread writes `: keep-alive` after the
// configured silence. Every event is also recorded in the run's LiveRun for `…/events` replay.
#pragma once

#include <Poco/Net/HTTPServerResponse.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "engine/runner.hpp"
#include "runs/run_registry.hpp"

namespace blueprint::host {

class ResponseWriter;
class StreamHeartbeat;

class SseStream final : public RunObserver {
 public:
  /// `live` may be null (a stream that is not a job: none today). Headers are prepared but not
  /// sent until the first flush.
  SseStream(Poco::Net::HTTPServerResponse& response, std::shared_ptr<LiveRun> live,
            StreamHeartbeat& heartbeat, const std::string& job_id);
  ~SseStream() override;

  /// Buffers one event (`data: <payload>`); recorded in the LiveRun too.
  void push(const std::string& payload);
  /// Writes everything buffered now.
  void flush();
  /// Writes the rest; the response ends when the handler returns, or here when detached.
  void finish();
  /// Lets the answer outlive the handler: the run goes on from the engine's threads, which
  /// write it without ever waiting for the client (one that stops reading is gone), and
  /// finish() ends it. False when the response cannot be detached. A client that leaves is
  /// told to `on_gone` (once, on a transport thread).
  bool detach(std::function<void()> on_gone);

  void onDelta(std::string_view text) override;
  void onWait() override { flush(); }

  /// True once a write failed: the caller went away.
  bool callerGone();
  /// Called by the heartbeat: writes a keep-alive comment if silent for `silence`.
  void keepAliveIfSilent(std::chrono::milliseconds silence);

 private:
  void writeLocked(bool final);

  Poco::Net::HTTPServerResponse& response_;
  /// Set once detached: the answer's connection waits for its finish.
  std::shared_ptr<ResponseWriter> writer_;
  std::shared_ptr<LiveRun> live_;
  StreamHeartbeat& heartbeat_;
  std::mutex mutex_;
  std::string buffer_;
  std::ostream* out_ = nullptr;
  bool gone_ = false;
  bool finished_ = false;
  std::chrono::steady_clock::time_point last_write_;
};

/// One thread for every open stream's keep-alive comments.
class StreamHeartbeat {
 public:
  explicit StreamHeartbeat(std::chrono::milliseconds silence);
  ~StreamHeartbeat();
  void add(SseStream* stream);
  void remove(SseStream* stream);
  void stop();

 private:
  void loop();
  std::chrono::milliseconds silence_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::set<SseStream*> streams_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace blueprint::host
