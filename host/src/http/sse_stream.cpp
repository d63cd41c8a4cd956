// SPDX-License-Identifier: Apache-2.0
#include "http/sse_stream.hpp"

#include "runs/run_events.hpp"
#include "transport/response_writer.hpp"

namespace blueprint::host {

SseStream::SseStream(Poco::Net::HTTPServerResponse& response, std::shared_ptr<LiveRun> live,
                     StreamHeartbeat& heartbeat, const std::string& job_id)
    : response_(response),
      live_(std::move(live)),
      heartbeat_(heartbeat),
      last_write_(std::chrono::steady_clock::now()) {
  response_.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_OK);
  response_.setContentType("text/event-stream");
  response_.set("Cache-Control", "no-cache");
  response_.set("X-Accel-Buffering", "no");  // reverse proxies must not hold the stream
  if (!job_id.empty()) response_.set("X-Job-Id", job_id);
  buffer_.reserve(512);
  heartbeat_.add(this);
}

SseStream::~SseStream() { heartbeat_.remove(this); }

void SseStream::push(const std::string& payload) {
  if (live_) live_->append(payload);
  std::lock_guard<std::mutex> lock(mutex_);
  buffer_.append("data: ");
  buffer_.append(payload);
  buffer_.append("\n\n");
}

void SseStream::onDelta(std::string_view text) {
  push(run_events::delta(text));
  flush();  // a streamed delta is meant to be seen now
}

void SseStream::flush() {
  std::lock_guard<std::mutex> lock(mutex_);
  writeLocked(false);
}

void SseStream::finish() {
  std::lock_guard<std::mutex> lock(mutex_);
  writeLocked(true);
  finished_ = true;
  if (writer_) writer_->finish(!gone_);
}

bool SseStream::detach(std::function<void()> on_gone) {
  std::lock_guard<std::mutex> lock(mutex_);
  // Chunked from the start: once detached, the head is only read (by the handler's router and
  // by the writes on engine threads), never changed, so no thread races another on it.
  response_.setChunkedTransferEncoding(true);
  writer_ = detachResponse(response_);
  if (!writer_) {
    response_.setChunkedTransferEncoding(false);
    return false;
  }
  writer_->neverBlock();
  writer_->onClientGone(std::move(on_gone));
  return true;
}

void SseStream::writeLocked(bool final) {
  if (gone_ || finished_) {
    buffer_.clear();
    return;
  }
  if (out_ == nullptr) {
    if (final && !writer_) {
      // The whole run fit between two waits: one response, one write, no chunking.
      response_.setContentLength(static_cast<std::streamsize>(buffer_.size()));
      try {
        response_.sendBuffer(buffer_.data(), buffer_.size());
      } catch (const std::exception&) {
        gone_ = true;
      }
      buffer_.clear();
      return;
    }
    if (buffer_.empty()) return;
    if (!writer_) response_.setChunkedTransferEncoding(true);
    try {
      out_ = &response_.send();
    } catch (const std::exception&) {
      gone_ = true;
      buffer_.clear();
      return;
    }
  }
  if (buffer_.empty()) return;
  out_->write(buffer_.data(), static_cast<std::streamsize>(buffer_.size()));
  out_->flush();
  buffer_.clear();
  last_write_ = std::chrono::steady_clock::now();
  if (!out_->good()) gone_ = true;
}

bool SseStream::callerGone() {
  std::lock_guard<std::mutex> lock(mutex_);
  return gone_;
}

void SseStream::keepAliveIfSilent(std::chrono::milliseconds silence) {
  // A stream busy writing (a slow client) is not silent; never let one stall the others.
  std::unique_lock<std::mutex> lock(mutex_, std::try_to_lock);
  if (!lock.owns_lock()) return;
  if (gone_ || finished_ || std::chrono::steady_clock::now() - last_write_ < silence) return;
  buffer_.append(": keep-alive\n\n");
  writeLocked(false);
  last_write_ = std::chrono::steady_clock::now();
}

StreamHeartbeat::StreamHeartbeat(std::chrono::milliseconds silence)
    : silence_(silence), thread_([this] { loop(); }) {}

StreamHeartbeat::~StreamHeartbeat() { stop(); }

void StreamHeartbeat::add(SseStream* stream) {
  std::lock_guard<std::mutex> lock(mutex_);
  streams_.insert(stream);
}

void StreamHeartbeat::remove(SseStream* stream) {
  std::lock_guard<std::mutex> lock(mutex_);
  streams_.erase(stream);
}

void StreamHeartbeat::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

void StreamHeartbeat::loop() {
  const auto tick = std::max(std::chrono::milliseconds(10), silence_ / 4);
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    cv_.wait_for(lock, tick, [&] { return stopping_; });
    // Held while visiting: remove() waits, so a stream is never used after its destructor.
    for (SseStream* s : streams_) s->keepAliveIfSilent(silence_);
  }
}

}  // namespace blueprint::host
