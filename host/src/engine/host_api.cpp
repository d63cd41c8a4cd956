// SPDX-License-Identifier: Apache-2.0
// host_api.cpp: bp_host_api, the services a block reaches through the C ABI. Every function is
// noexcept in effect: exceptions never cross into plugin code.
#include <blueprint/json_limits.hpp>
#include <cstdint>
#include <string>

#include "engine/json_text_size.hpp"
#include "engine/pending_call.hpp"
#include "engine/run_context.hpp"
#include "logging/log_fields.hpp"

namespace blueprint::host {

namespace {

BlockCall& callOf(void* ctx) { return *static_cast<BlockCall*>(ctx); }

void write(bp_sink* sink, const std::string& text) {
  if (sink != nullptr && sink->write != nullptr) sink->write(sink->ctx, text.data(), text.size());
}

std::size_t jsonMaxDepthOf(void* ctx) {
  return callOf(ctx).execution->run().options.limits.json_max_depth;
}

/// Parses JSON text a plugin handed over, bounded like every JSON that enters a run. Empty
/// `error` on success; else a phrase for the plugin's error sink.
Json parseFromPlugin(void* ctx, const char* text, std::size_t size, std::string& error) {
  JsonParse parsed = parseJsonLimited(std::string_view(text, size), jsonMaxDepthOf(ctx));
  if (parsed.status == JsonParse::Status::TooDeep)
    error = "is not usable JSON: " + parsed.error + " (json_max_depth)";
  else if (!parsed.ok())
    error = "is not valid JSON";
  return std::move(parsed.value);
}

}  // namespace

void emitDeltaFor(BlockCall& call, const char* text, std::size_t size) {
  try {
    RunShared& run = call.execution->run();
    const std::size_t total = run.delta_bytes.fetch_add(size) + size;
    if (total > run.options.limits.max_output_bytes) return;  // bounded: the rest is dropped
    const std::string_view delta(text, size);
    // A delta becomes a JSON string in the stream and the stored events: UTF-8 or repaired.
    if (isValidUtf8(delta))
      run.observer.onDelta(delta);
    else
      run.observer.onDelta(toValidUtf8(delta));
  } catch (...) {
  }
}

/// bp_host_api.log: the line goes to the run trace and to the host log ("blueprint.blocks"),
/// with the run's job, agent, blueprint and block as fields (issue 15).
void logLineFor(BlockCall& call, std::int32_t level, const char* message, std::size_t size) {
  try {
    static const char* kNames[] = {"debug", "info", "warning", "error"};
    static const Poco::Message::Priority kPriorities[] = {
        Poco::Message::PRIO_DEBUG, Poco::Message::PRIO_INFORMATION, Poco::Message::PRIO_WARNING,
        Poco::Message::PRIO_ERROR};
    const bool known = level >= 0 && level <= 3;
    const char* name = known ? kNames[level] : "info";
    std::string text = toValidUtf8(std::string_view(message, size));
    static Poco::Logger& host_log = Poco::Logger::get("blueprint.blocks");
    const Poco::Message::Priority priority =
        known ? kPriorities[level] : Poco::Message::PRIO_INFORMATION;
    if (host_log.is(priority)) {
      const RunShared& run = call.execution->run();
      const CompiledBlueprint& blueprint = call.execution->blueprint();
      const CompiledBlock& block = blueprint.blocks[call.block];
      logEvent(host_log, priority, text,
               {{"job_id", std::string(run.options.job_id)},
                {"agent", run.agent.agent_id},
                {"agent_version", std::to_string(run.agent.version)},
                {"blueprint", blueprint.id},
                {"block", block.id},
                {"block_type", block.type->type}});
    }
    call.logs->push_back({{"level", name}, {"message", std::move(text)}});
  } catch (...) {
  }
}

namespace {

void emitDelta(void* ctx, const char* text, std::size_t size) {
  emitDeltaFor(callOf(ctx), text, size);
}

void logLine(void* ctx, std::int32_t level, const char* message, std::size_t size) {
  logLineFor(callOf(ctx), level, message, size);
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
/// `value_depth` is the value's nesting: with the path's segments it is the depth the state
/// reaches, bounded like any JSON of the run (a key of 100,000 dots would otherwise build a
/// 100,000-deep object).
bp_status storeState(void* ctx, const char* path, std::size_t size, Json value,
                     std::size_t value_depth, bp_sink* error) {
  const Path p = parsePath(std::string_view(path, size));
  const std::size_t max_depth = jsonMaxDepthOf(ctx);
  if (p.segments.size() > max_depth || value_depth > max_depth - p.segments.size()) {
    write(error, "state key with " + std::to_string(p.segments.size()) +
                     " segments and its value nest deeper than the limit of " +
                     std::to_string(max_depth) + " levels (json_max_depth)");
    return BP_STATUS_ERROR;
  }
  std::string err;
  if (!callOf(ctx).execution->stateSet(p, std::move(value), err)) {
    write(error, err);
    return BP_STATUS_ERROR;
  }
  return BP_STATUS_OK;
}

bp_status stateSet(void* ctx, const char* path, std::size_t size, const char* value,
                   std::size_t value_size, bp_sink* error) {
  try {
    std::string why;
    Json v = parseFromPlugin(ctx, value, value_size, why);
    if (!why.empty()) {
      write(error, "state value " + why);
      return BP_STATUS_ERROR;
    }
    const std::size_t depth = jsonDepth(v);
    return storeState(ctx, path, size, std::move(v), depth, error);
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
    const JsonTextSize measured =
        measureJsonText(*static_cast<const Json*>(value), SIZE_MAX, jsonMaxDepthOf(ctx));
    if (!measured.valid_utf8) {
      write(error, "state value is not valid JSON (a string is not UTF-8)");
      return BP_STATUS_ERROR;
    }
    return storeState(ctx, path, size, std::move(*static_cast<Json*>(value)), measured.depth,
                      error);
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
    std::string why;
    Json scope_json =
        scope_size == 0 ? Json::object() : parseFromPlugin(ctx, scope, scope_size, why);
    if (!why.empty()) {
      write(error, "branch scope " + why);
      return BP_STATUS_ERROR;
    }
    if (!scope_json.is_object()) {
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
    std::string why;
    Json p = payload_size == 0 ? Json(nullptr) : parseFromPlugin(ctx, payload, payload_size, why);
    if (!why.empty()) {
      write(error, "payload " + why);
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
    std::string why;
    Json v = parseFromPlugin(ctx, value, value_size, why);
    if (!why.empty()) {
      write(error, "value " + why);
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
    const std::string_view wanted(name, name_size);
    // Every block may ask for the host's JSON depth bound (Context::jsonMaxDepth) unless the
    // operator set one for its type.
    auto hostValue = [&]() {
      if (wanted != "json_max_depth") return BP_STATUS_NOT_FOUND;
      write(out, std::to_string(jsonMaxDepthOf(ctx)));
      return BP_STATUS_OK;
    };
    const Json* settings = call.execution->run().options.block_settings;
    if (settings == nullptr || !settings->is_object()) return hostValue();
    const std::string& type = call.execution->blueprint().blocks[call.block].type->type;
    auto t = settings->find(type);
    if (t == settings->end() || !t->is_object()) return hostValue();
    auto v = t->find(std::string(wanted));
    if (v == t->end()) return hostValue();
    write(out, v->dump());
    return BP_STATUS_OK;
  } catch (...) {
    return BP_STATUS_ERROR;
  }
}

/// bp_host_api.defer (ABI 1.3). The native completion is offered to the plugins the native
/// extension is on for, like the other native members.
bp_pending* deferCall(void* ctx, void (*on_cancel)(void*), void* user) {
  try {
    BlockCall& call = callOf(ctx);
    const bool native = call.execution->blueprint().blocks[call.block].type->native_json;
    return PendingCall::defer(call, on_cancel, user, native);
  } catch (...) {
    return nullptr;
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
  // BP_EXT_NATIVE_JSON (block_abi.h): only for a plugin that opted in with the host's layout tag;
  // every other plugin finds these NULL and keeps the plain C contract.
  api.state_set_native = native ? &stateSetNative : nullptr;
  api.env_get_native = native ? &envGetNative : nullptr;
  api.defer = &deferCall;
  return api;
}

}  // namespace blueprint::host
