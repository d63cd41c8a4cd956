// SPDX-License-Identifier: Apache-2.0
// host_api.cpp: bp_host_api, the services a block reaches through the C ABI. Every function is
// noexcept in effect: exceptions never cross into plugin code.
#include <cstdint>
#include <string>

#include "engine/json_text_size.hpp"
#include "engine/run_context.hpp"

namespace blueprint::host {

namespace {

BlockCall& callOf(void* ctx) { return *static_cast<BlockCall*>(ctx); }

void write(bp_sink* sink, const std::string& text) {
  if (sink != nullptr && sink->write != nullptr) sink->write(sink->ctx, text.data(), text.size());
}

void emitDelta(void* ctx, const char* text, std::size_t size) {
  try {
    RunShared& run = callOf(ctx).execution->run();
    const std::size_t total = run.delta_bytes.fetch_add(size) + size;
    if (total > run.options.limits.max_output_bytes) return;  // bounded: the rest is dropped
    run.observer.onDelta(std::string_view(text, size));
  } catch (...) {
  }
}

void logLine(void* ctx, std::int32_t level, const char* message, std::size_t size) {
  try {
    static const char* kNames[] = {"debug", "info", "warning", "error"};
    const char* name = level >= 0 && level <= 3 ? kNames[level] : "info";
    callOf(ctx).logs->push_back({{"level", name}, {"message", std::string(message, size)}});
  } catch (...) {
  }
}

std::int32_t isCancelled(void* ctx) { return callOf(ctx).execution->stopRequested() ? 1 : 0; }

bp_status sleepMs(void* ctx, std::uint64_t ms) {
  try {
    Execution& e = *callOf(ctx).execution;
    e.run().observer.onWait();
    return e.sleepFor(ms) ? BP_STATUS_OK : BP_STATUS_CANCELLED;
  } catch (...) {
    return BP_STATUS_ERROR;
  }
}

bp_status envGet(void* ctx, const char* path, std::size_t size, bp_sink* out) {
  try {
    BlockCall& call = callOf(ctx);
    Path p = parsePath(std::string_view(path, size));
    std::string text;
    if (!call.execution->lookupText(call.block, p, text)) return BP_STATUS_NOT_FOUND;
    write(out, text);
    return BP_STATUS_OK;
  } catch (...) {
    return BP_STATUS_ERROR;
  }
}

bp_status envGetNative(void* ctx, const char* path, std::size_t size, void* out) {
  try {
    BlockCall& call = callOf(ctx);
    Json value = call.execution->lookup(call.block, parsePath(std::string_view(path, size)));
    if (value.is_null()) return BP_STATUS_NOT_FOUND;
    if (out != nullptr) *static_cast<Json*>(out) = std::move(value);
    return BP_STATUS_OK;
  } catch (...) {
    return BP_STATUS_ERROR;
  }
}

bp_status stateGet(void* ctx, const char* path, std::size_t size, bp_sink* out) {
  try {
    Path p = parsePath(std::string_view(path, size));
    std::optional<Json> v = callOf(ctx).execution->stateGet(p);
    if (!v) return BP_STATUS_NOT_FOUND;
    write(out, v->dump());
    return BP_STATUS_OK;
  } catch (...) {
    return BP_STATUS_ERROR;
  }
}

/// Sets run state at `path` to `value` for state_set and state_set_native.
bp_status storeState(void* ctx, const char* path, std::size_t size, Json value, bp_sink* error) {
  std::string err;
  if (!callOf(ctx).execution->stateSet(parsePath(std::string_view(path, size)), std::move(value),
                                       err)) {
    write(error, err);
    return BP_STATUS_ERROR;
  }
  return BP_STATUS_OK;
}

bp_status stateSet(void* ctx, const char* path, std::size_t size, const char* value,
                   std::size_t value_size, bp_sink* error) {
  try {
    Json v = Json::parse(value, value + value_size, nullptr, false);
    if (v.is_discarded()) {
      write(error, "state value is not valid JSON");
      return BP_STATUS_ERROR;
    }
    return storeState(ctx, path, size, std::move(v), error);
  } catch (const std::exception& e) {
    write(error, e.what());
    return BP_STATUS_ERROR;
  }
}

bp_status stateSetNative(void* ctx, const char* path, std::size_t size, void* value,
                         bp_sink* error) {
  try {
    if (value == nullptr) {
      write(error, "state value is missing");
      return BP_STATUS_ERROR;
    }
    if (!measureJsonText(*static_cast<const Json*>(value), SIZE_MAX).valid_utf8) {
      write(error, "state value is not valid JSON (a string is not UTF-8)");
      return BP_STATUS_ERROR;
    }
    return storeState(ctx, path, size, std::move(*static_cast<Json*>(value)), error);
  } catch (const std::exception& e) {
    write(error, e.what());
    return BP_STATUS_ERROR;
  }
}

bp_status finishNested(const ExecutionResult& r, bp_sink* out, bp_sink* error) {
  switch (r.status) {
    case ExecutionResult::Status::Finished:
      write(out, r.return_value ? r.return_value->dump() : std::string("null"));
      return BP_STATUS_OK;
    case ExecutionResult::Status::Failed:
      write(error, r.error);
      return BP_STATUS_ERROR;
    case ExecutionResult::Status::Cancelled:
      break;
  }
  return BP_STATUS_CANCELLED;
}

bp_status runBranch(void* ctx, const char* state, std::size_t state_size, const char* scope,
                    std::size_t scope_size, bp_sink* out, bp_sink* error) {
  try {
    Json scope_json =
        scope_size == 0 ? Json::object() : Json::parse(scope, scope + scope_size, nullptr, false);
    if (scope_json.is_discarded() || !scope_json.is_object()) {
      write(error, "branch scope is not a JSON object");
      return BP_STATUS_ERROR;
    }
    BlockCall& call = callOf(ctx);
    return finishNested(
        call.execution->runBranch(call.block, std::string(state, state_size), scope_json), out,
        error);
  } catch (const std::exception& e) {
    write(error, e.what());
    return BP_STATUS_ERROR;
  }
}

bp_status runBlueprint(void* ctx, const char* id, std::size_t id_size, const char* payload,
                       std::size_t payload_size, bp_sink* out, bp_sink* error) {
  try {
    Json p = payload_size == 0 ? Json(nullptr)
                               : Json::parse(payload, payload + payload_size, nullptr, false);
    if (p.is_discarded()) {
      write(error, "payload is not valid JSON");
      return BP_STATUS_ERROR;
    }
    return finishNested(callOf(ctx).execution->runBlueprint(std::string(id, id_size), p), out,
                        error);
  } catch (const std::exception& e) {
    write(error, e.what());
    return BP_STATUS_ERROR;
  }
}

Storage* kvStore(void* ctx, bp_sink* error) {
  Storage* storage = callOf(ctx).execution->run().options.storage;
  if (storage == nullptr) write(error, "this host runs without a key-value store");
  return storage;
}

const std::string& agentOf(void* ctx) { return callOf(ctx).execution->run().agent.agent_id; }

bp_status kvGet(void* ctx, const char* key, std::size_t key_size, bp_sink* out) {
  try {
    Storage* storage = kvStore(ctx, out);
    if (storage == nullptr) return BP_STATUS_ERROR;
    std::optional<Json> v = storage->kvGet(agentOf(ctx), std::string(key, key_size));
    if (!v) return BP_STATUS_NOT_FOUND;
    write(out, v->dump());
    return BP_STATUS_OK;
  } catch (const std::exception& e) {
    write(out, e.what());
    return BP_STATUS_ERROR;
  }
}

bp_status kvSet(void* ctx, const char* key, std::size_t key_size, const char* value,
                std::size_t value_size, bp_sink* error) {
  try {
    Storage* storage = kvStore(ctx, error);
    if (storage == nullptr) return BP_STATUS_ERROR;
    if (key_size == 0) {
      write(error, "key is empty");
      return BP_STATUS_ERROR;
    }
    Json v = Json::parse(value, value + value_size, nullptr, false);
    if (v.is_discarded()) {
      write(error, "value is not valid JSON");
      return BP_STATUS_ERROR;
    }
    storage->kvSet(agentOf(ctx), std::string(key, key_size), v);
    return BP_STATUS_OK;
  } catch (const std::exception& e) {
    write(error, e.what());
    return BP_STATUS_ERROR;
  }
}

bp_status kvDelete(void* ctx, const char* key, std::size_t key_size, bp_sink* error) {
  try {
    Storage* storage = kvStore(ctx, error);
    if (storage == nullptr) return BP_STATUS_ERROR;
    return storage->kvDelete(agentOf(ctx), std::string(key, key_size)) ? BP_STATUS_OK
                                                                       : BP_STATUS_NOT_FOUND;
  } catch (const std::exception& e) {
    write(error, e.what());
    return BP_STATUS_ERROR;
  }
}

bp_status settingGet(void* ctx, const char* name, std::size_t name_size, bp_sink* out) {
  try {
    BlockCall& call = callOf(ctx);
    const Json* settings = call.execution->run().options.block_settings;
    if (settings == nullptr || !settings->is_object()) return BP_STATUS_NOT_FOUND;
    const std::string& type = call.execution->blueprint().blocks[call.block].type->type;
    auto t = settings->find(type);
    if (t == settings->end() || !t->is_object()) return BP_STATUS_NOT_FOUND;
    auto v = t->find(std::string(name, name_size));
    if (v == t->end()) return BP_STATUS_NOT_FOUND;
    write(out, v->dump());
    return BP_STATUS_OK;
  } catch (...) {
    return BP_STATUS_ERROR;
  }
}

}  // namespace

bp_host_api makeHostApi(BlockCall* call, bool native) {
  bp_host_api api{};
  api.struct_size = sizeof(bp_host_api);
  api.ctx = call;
  api.emit_delta = &emitDelta;
  api.log = &logLine;
  api.is_cancelled = &isCancelled;
  api.sleep_ms = &sleepMs;
  api.env_get = &envGet;
  api.state_get = &stateGet;
  api.state_set = &stateSet;
  api.run_branch = &runBranch;
  api.run_blueprint = &runBlueprint;
  api.kv_get = &kvGet;
  api.kv_set = &kvSet;
  api.kv_delete = &kvDelete;
  api.setting_get = &settingGet;
  api.state_set_native = native ? &stateSetNative : nullptr;
  api.env_get_native = native ? &envGetNative : nullptr;
  return api;
}

}  // namespace blueprint::host
