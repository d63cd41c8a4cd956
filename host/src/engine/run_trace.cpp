// SPDX-License-Identifier: Apache-2.0
#include "engine/run_trace.hpp"

#include <cstdint>
#include <cstring>

#include "engine/json_text_size.hpp"

namespace blueprint::host {

void RunTrace::append(TraceEntry entry) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (size_ == chunks_.size() * kChunk) chunks_.push_back(std::make_unique<Chunk>());
  (*chunks_[size_ / kChunk])[size_ % kChunk] = std::move(entry);
  ++size_;
}

void RunTrace::detach() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::size_t total = 0;
  for (std::size_t i = 0; i < size_; ++i) {
    const TraceEntry& e = (*chunks_[i / kChunk])[i % kChunk];
    total += e.block.size() + e.type.size() + e.end_state.size() + e.blueprint.size();
  }
  names_ = std::make_unique<char[]>(total + 1);
  char* at = names_.get();
  auto own = [&at](std::string_view& view) {
    if (view.empty()) return;  // a default view has no data pointer to copy from
    std::memcpy(at, view.data(), view.size());
    view = std::string_view(at, view.size());
    at += view.size();
  };
  for (std::size_t i = 0; i < size_; ++i) {
    TraceEntry& e = (*chunks_[i / kChunk])[i % kChunk];
    own(e.block);
    own(e.type);
    own(e.end_state);
    own(e.blueprint);
  }
}

Json RunTrace::toJson() const {
  std::lock_guard<std::mutex> lock(mutex_);
  Json trace(Json::value_t::array);
  auto& list = trace.get_ref<Json::array_t&>();
  list.reserve(size_);
  for (std::size_t i = 0; i < size_; ++i) {
    const TraceEntry& e = (*chunks_[i / kChunk])[i % kChunk];
    // Emplacing into the object directly: no intermediate initializer-list copies.
    Json item(Json::value_t::object);
    auto& o = item.get_ref<Json::object_t&>();
    o.emplace("block", std::string(e.block));
    o.emplace("type", std::string(e.type));
    o.emplace("end_state", !e.end_state.empty() ? std::string(e.end_state)
                           : e.extra            ? e.extra->end_state_text
                                                : std::string());
    o.emplace("start_us", e.start_us);
    o.emplace("duration_us", e.duration_us);
    if (e.depth > 0) {
      o.emplace("blueprint", std::string(e.blueprint));
      o.emplace("depth", e.depth);
    }
    if (e.failed) o.emplace("error", e.extra ? e.extra->error : std::string());
    if (e.extra && !e.extra->logs.empty()) o.emplace("logs", e.extra->logs);
    list.push_back(std::move(item));
  }
  return trace;
}

std::size_t RunTrace::retainedBytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::size_t bytes = chunks_.size() * sizeof(Chunk);
  for (std::size_t i = 0; i < size_; ++i) {
    const TraceEntry& e = (*chunks_[i / kChunk])[i % kChunk];
    bytes += e.block.size() + e.type.size() + e.end_state.size() + e.blueprint.size();
    if (!e.extra) continue;
    bytes += sizeof(TraceEntry::Extra) + e.extra->end_state_text.size() + e.extra->error.size();
    for (const Json& log : e.extra->logs) bytes += measureJsonText(log, SIZE_MAX).bytes;
  }
  return bytes;
}

}  // namespace blueprint::host
