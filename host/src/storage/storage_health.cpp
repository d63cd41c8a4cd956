// SPDX-License-Identifier: Apache-2.0
#include "storage/storage_health.hpp"

#include "logging/log_fields.hpp"

namespace blueprint::host {

namespace {

/// The key-value namespace of the write probe. Agent ids are never empty, so no agent's keys
/// can meet it (kv_storage is namespaced per agent).
constexpr const char* kProbeNamespace = "";
constexpr const char* kProbeKey = "storage_health_probe";

Poco::Logger& healthLog() { return Poco::Logger::get("blueprint.storage"); }

}  // namespace

StorageHealth::StorageHealth(Storage& storage, std::chrono::milliseconds probe_interval)
    : storage_(storage), probe_interval_(probe_interval) {}

StorageHealth::~StorageHealth() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (probe_.joinable()) probe_.join();
}

void StorageHealth::start() {
  probe_ = std::thread([this] { probeLoop(); });
}

std::string StorageHealth::lastError() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return last_error_;
}

bool StorageHealth::recordFailure(const StorageError& error) {
  failures_.fetch_add(1, std::memory_order_relaxed);
  if (!error.unavailable()) return false;
  bool was_writable = true;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    last_error_ = error.what();
    was_writable = writable_.exchange(false);
  }
  if (was_writable)
    logEvent(healthLog(), Poco::Message::PRIO_ERROR,
             "storage cannot take writes: answering 503 storage_unavailable and /readyz "
             "not ready until a write succeeds",
             {{"state", "unavailable"}, {"error", error.what()}});
  return true;
}

void StorageHealth::markWritable(const char* how) {
  bool was_writable = true;
  std::uint64_t failures = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    was_writable = writable_.exchange(true);
    last_error_.clear();
    failures = failures_.load(std::memory_order_relaxed);
  }
  if (!was_writable)
    logEvent(healthLog(), Poco::Message::PRIO_INFORMATION,
             std::string("storage takes writes again (") + how + "): ready",
             {{"state", "writable"}, {"failures", std::to_string(failures)}});
}

void StorageHealth::probeLoop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, probe_interval_);
    if (stopping_ || writable_.load(std::memory_order_relaxed)) continue;
    lock.unlock();
    bool wrote = false;
    try {
      storage_.kvSet(kProbeNamespace, kProbeKey, Json(nowMs()));
      storage_.kvDelete(kProbeNamespace, kProbeKey);
      wrote = true;
    } catch (const std::exception&) {
      // Still failing: the state (and its one log line) stays as it is.
    }
    if (wrote) markWritable("the write probe succeeded");
    lock.lock();
  }
}

}  // namespace blueprint::host
