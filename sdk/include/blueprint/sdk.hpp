// SPDX-License-Identifier: Apache-2.0
// sdk.hpp: write a block plugin in C++17. Header-only; the C ABI (block_abi.h) stays underneath.
//
// Start here: derive from blueprint::Block, give it `static constexpr std::string_view kType`,
// `static BlockSpec spec()` and `Result run(Context&, const Json& fields)`, then list every block
// type of the library once:
//
//   BLUEPRINT_PLUGIN("com.acme.text", "1.2.0", acme::Uppercase, acme::Lowercase)
//
// The macro defines the one exported entry `bp_plugin_v1()`: manifest JSON built from the specs,
// and noexcept thunks that turn exceptions into the block's `error` end state. Read fields with
// blueprint::Fields (fields.hpp): `Fields(json).get<std::string>("text")`.
//
// Asynchronous blocks (ABI 1.3): `Pending p = ctx.defer();` then complete it later, from any
// thread, with `p.complete(Result)`; `p.after(ms, fn)` is the host's timer and `p.onCancel(fn)`
// hears a cancelled run. The block returns `Result::pending()` and holds no thread meanwhile.
// Declare such a type `.async()` in its spec so the host runs it on its run workers.
//
// Native JSON: the plugin opts into the ABI's BP_EXT_NATIVE_JSON extension (block_abi.h) unless
// it is compiled with BLUEPRINT_SDK_NATIVE_JSON defined to 0; block code is the same either way.
#ifndef BLUEPRINT_SDK_HPP
#define BLUEPRINT_SDK_HPP

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "block_abi.h"
#include "fields.hpp"
#include "json_limits.hpp"
#include "native_json.hpp"

/// 1 (the default): the plugin announces its JSON layout tag, so a host with the same layout
/// passes JSON natively (BP_EXT_NATIVE_JSON). 0: bp_plugin.native_json stays NULL and every value
/// crosses as text, the plain C contract alone.
#ifndef BLUEPRINT_SDK_NATIVE_JSON
#define BLUEPRINT_SDK_NATIVE_JSON 1
#endif

namespace blueprint {

/// The JSON value type of the SDK (nlohmann::json).
using Json = nlohmann::json;

/// Severity of a Context::log line.
enum class LogLevel : std::int32_t { Debug = BP_LOG_DEBUG, Info, Warning, Error };

/// Thrown by Context calls whose host service failed; becomes the block's error if not caught.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// One field of a block's manifest. Build with the named constructors, refine with the setters.
class Field {
 public:
  /// Free text; templates render inside it.
  static Field string(std::string name) { return Field(std::move(name), "string"); }
  /// A number (a literal, or text converted at run time).
  static Field number(std::string name) { return Field(std::move(name), "number"); }
  /// true/false (a literal, or text converted at run time).
  static Field boolean(std::string name) { return Field(std::move(name), "boolean"); }
  /// A JSON object (a literal, or JSON text parsed at run time).
  static Field object(std::string name) { return Field(std::move(name), "object"); }
  /// A JSON list (a literal, or JSON text parsed at run time).
  static Field list(std::string name) { return Field(std::move(name), "list"); }
  /// Any JSON value, passed as written (templates keep their JSON type).
  static Field any(std::string name) { return Field(std::move(name), "any"); }
  /// Text that must parse as JSON at run time (templates insert JSON-escaped values).
  static Field json(std::string name) { return Field(std::move(name), "json"); }
  /// One of a fixed set of strings.
  static Field select(std::string name, std::vector<std::string> options) {
    Field f(std::move(name), "string");
    f.spec_["options"] = std::move(options);
    return f;
  }

  /// Deploy fails when the field is missing.
  Field& required() {
    spec_["required"] = true;
    return *this;
  }
  /// Shown in the catalogue and generated docs.
  Field& description(std::string text) {
    spec_["description"] = std::move(text);
    return *this;
  }
  /// Used when the blueprint leaves the field out.
  Field& defaultValue(Json value) {
    spec_["default"] = std::move(value);
    return *this;
  }
  /// The host passes the text as written, without rendering @{...} (the block resolves paths
  /// itself through Context::env, as `if_else` does for its expression).
  Field& raw() {
    spec_["template"] = false;
    return *this;
  }
  /// The field holds JSON text (parsed by the host before run()) when field `other` equals
  /// `value`, e.g. set_state's `value` when `value_type` is `json`.
  Field& jsonWhen(std::string other, std::string value) {
    spec_["json_when"] = {{"field", std::move(other)}, {"equals", std::move(value)}};
    return *this;
  }
  /// The manifest entry of this field.
  const Json& toJson() const { return spec_; }

 private:
  Field(std::string name, const char* type) {
    spec_["name"] = std::move(name);
    spec_["type"] = type;
  }
  Json spec_;
};

/// A block type's manifest entry: type id, display name, fields, end states.
class BlockSpec {
 public:
  /// `type` is the id blueprints use; `name` the display name.
  BlockSpec(std::string_view type, std::string name) {
    spec_["type"] = std::string(type);
    spec_["name"] = std::move(name);
    spec_["description"] = "";
    spec_["fields"] = Json::array();
    spec_["end_states"] = Json::array({"success", "error"});
  }
  BlockSpec& description(std::string text) {
    spec_["description"] = std::move(text);
    return *this;
  }
  BlockSpec& field(const Field& f) {
    spec_["fields"].push_back(f.toJson());
    return *this;
  }
  BlockSpec& endStates(std::initializer_list<std::string> states) {
    spec_["end_states"] = Json::array();
    for (const auto& s : states) spec_["end_states"].push_back(s);
    return *this;
  }
  /// `trigger` (an entry point: API Trigger) or `return` (its result ends the run: Return Value).
  BlockSpec& role(std::string role) {
    spec_["role"] = std::move(role);
    return *this;
  }
  /// End states the block runs itself through Context::runBranch (for_each's `loop`): blocks
  /// behind them are not scheduled by the run, only by the block.
  BlockSpec& branchStates(std::initializer_list<std::string> states) {
    spec_["branch_states"] = Json::array();
    for (const auto& s : states) spec_["branch_states"].push_back(s);
    return *this;
  }
  /// The block never waits (no I/O, no sleep): the host may keep buffered stream events until a
  /// later block waits or the run ends, so fast runs leave in one write (DESIGN §9).
  BlockSpec& instant() {
    spec_["instant"] = true;
    return *this;
  }
  /// The block never blocks its thread: it returns soon, or defers (Context::defer) and
  /// completes later. The host runs it on its run workers rather than its blocking pool.
  /// Needs a host with ABI 1.3; older hosts ignore the flag.
  BlockSpec& async() {
    spec_["async"] = true;
    return *this;
  }
  /// A sample: fields in, result out (both JSON text), for docs.
  BlockSpec& example(std::string_view fields_json, std::string_view result_json) {
    spec_["example"] = {{"fields", Json::parse(fields_json)}, {"result", Json::parse(result_json)}};
    return *this;
  }
  const Json& toJson() const { return spec_; }

 private:
  Json spec_;
};

/// What a block run produced: an end state, a result value, and an error message on failure.
class Result {
 public:
  /// Ends in `success` with `value` as the result.
  static Result success(Json value = nullptr) { return Result("success", std::move(value), {}); }
  /// Ends in `error`; `message` names what is wrong.
  static Result error(std::string message) {
    return Result("error", nullptr, std::move(message), true);
  }
  /// Ends in a named end state of the manifest (`true`, `response_error`, …) with a result.
  static Result endState(std::string state, Json value = nullptr) {
    return Result(std::move(state), std::move(value), {});
  }
  /// Fails into a named end state (e.g. `connection_error`) with a message and a result.
  static Result failure(std::string state, std::string message, Json value = nullptr) {
    return Result(std::move(state), std::move(value), std::move(message), true);
  }
  /// Stopped because the run was cancelled (BP_STATUS_CANCELLED): what a block answers when
  /// Context::cancelled() or Pending::onCancel told it to stop.
  static Result cancelled() {
    Result r("error", nullptr, "cancelled", true);
    r.cancelled_ = true;
    return r;
  }
  /// What run() returns after Context::defer(): the result comes through Pending::complete.
  /// (Returning any other Result after defer() completes the call with it at once.)
  static Result pending() {
    Result r("success", nullptr, {});
    r.pending_ = true;
    return r;
  }

  const std::string& state() const { return state_; }
  const Json& value() const { return value_; }
  const std::string& message() const { return message_; }
  bool failed() const { return failed_; }
  bool isCancelled() const { return cancelled_; }
  bool isPending() const { return pending_; }
  /// The bp_status this result crosses the ABI with.
  bp_status status() const {
    return cancelled_ ? BP_STATUS_CANCELLED : failed_ ? BP_STATUS_ERROR : BP_STATUS_OK;
  }
  /// Moves the result value out (the SDK hands it to the host without copying).
  Json takeValue() { return std::move(value_); }

 private:
  Result(std::string state, Json value, std::string message, bool failed = false)
      : state_(std::move(state)),
        value_(std::move(value)),
        message_(std::move(message)),
        failed_(failed) {}
  std::string state_;
  Json value_;
  std::string message_;
  bool failed_ = false;
  bool cancelled_ = false;
  bool pending_ = false;
};

namespace detail {
inline void appendToString(void* ctx, const char* data, std::size_t size) {
  static_cast<std::string*>(ctx)->append(data, size);
}
inline bp_sink stringSink(std::string& s) { return bp_sink{&s, &appendToString}; }
inline bool hostHas(const bp_host_api* host, std::size_t member_end) {
  return host != nullptr && host->struct_size >= member_end;
}
#define BLUEPRINT_DETAIL_HOST_HAS(host, member) \
  ::blueprint::detail::hostHas(host,            \
                               offsetof(bp_host_api, member) + sizeof(((bp_host_api*)0)->member))

/// What every copy of a Pending shares: the host's handle, the block's callbacks, and whether
/// the call completed. The block's callbacks may hold Pending copies (the usual way to complete
/// from a timer); those cycles are cut once the call completed, so the state is freed then.
struct PendingState {
  std::mutex mutex;
  bp_pending* handle = nullptr;
  bool completed = false;
  bool cancel_requested = false;
  std::function<void()> on_cancel;
  /// A timer's callback; the host gets its address as `user`.
  struct Timer {
    std::function<void()> fire;
  };
  std::vector<std::unique_ptr<Timer>> timers;

  /// Completes with `result` unless completed already. Any thread.
  void complete(Result result) noexcept {
    bp_pending* h = nullptr;
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (completed || handle == nullptr) return;
      completed = true;
      h = handle;
    }
    try {
      const bool default_state = result.state() == (result.failed() ? "error" : "success");
      const std::string end_state = default_state ? std::string() : result.state();
      const bool native = h->struct_size >= offsetof(bp_pending, complete_native) + sizeof(void*) &&
                          h->complete_native != nullptr;
      if (native && !result.value().is_null()) {
        Json value = result.takeValue();
        h->complete_native(h->ctx, result.status(), &value, end_state.data(), end_state.size(),
                           result.message().data(), result.message().size());
      } else {
        const std::string output = result.value().is_null() ? std::string() : result.value().dump();
        h->complete(h->ctx, result.status(), output.data(), output.size(), end_state.data(),
                    end_state.size(), result.message().data(), result.message().size());
      }
    } catch (...) {
      static const char kWhy[] = "the result could not be serialised";
      h->complete(h->ctx, BP_STATUS_ERROR, nullptr, 0, nullptr, 0, kWhy, sizeof(kWhy) - 1);
    }
    // The host fires no timer and no on_cancel any more: drop the callbacks (and the Pending
    // copies they hold) outside the lock.
    std::function<void()> cancel_fn;
    std::vector<std::unique_ptr<Timer>> timer_list;
    {
      std::lock_guard<std::mutex> lock(mutex);
      cancel_fn.swap(on_cancel);
      timer_list.swap(timers);
    }
  }

  /// A block that lets every copy of its Pending go without completing gets an error, not a run
  /// that waits for its timeout.
  ~PendingState() {
    if (!completed && handle != nullptr)
      complete(Result::error("the block dropped its pending call without completing it"));
  }

  static void onCancelThunk(void* user) noexcept {
    auto* state = static_cast<PendingState*>(user);
    std::function<void()> fn;
    {
      std::lock_guard<std::mutex> lock(state->mutex);  // also waits until defer() set handle
      state->cancel_requested = true;
      fn = std::move(state->on_cancel);
    }
    if (!fn) return;
    try {
      fn();
    } catch (...) {
    }
  }
  static void fireThunk(void* user) noexcept {
    // The host calls this only before complete() returned, so the Timer is still alive; the
    // callback moves out first because completing inside it frees the Timer.
    std::function<void()> fn = std::move(static_cast<Timer*>(user)->fire);
    try {
      if (fn) fn();
    } catch (...) {
    }
  }
};
}  // namespace detail

/// A block call that completes later (ABI 1.3), from Context::defer(). Copies share one call;
/// it completes exactly once (later complete() calls do nothing). Every member may be called
/// from any thread. Letting the last copy go without completing completes it with an error.
class Pending {
 public:
  Pending() = default;
  explicit Pending(std::shared_ptr<detail::PendingState> state) : state_(std::move(state)) {}

  /// Completes the call: the block ends with `result` as if run() had returned it.
  void complete(Result result) {
    if (state_) state_->complete(std::move(result));
  }
  /// Calls `fn` once after `delay` on a host thread (the timer service; keep it short), unless
  /// the call completed first. False when it already completed.
  bool after(std::chrono::milliseconds delay, std::function<void()> fn) {
    if (!state_) return false;
    detail::PendingState::Timer* timer = nullptr;
    bp_pending* h = nullptr;
    {
      std::lock_guard<std::mutex> lock(state_->mutex);
      if (state_->completed) return false;
      state_->timers.push_back(std::make_unique<detail::PendingState::Timer>(
          detail::PendingState::Timer{std::move(fn)}));
      timer = state_->timers.back().get();
      h = state_->handle;
    }
    const std::uint64_t ms = delay.count() < 0 ? 0 : static_cast<std::uint64_t>(delay.count());
    return h->after(h->ctx, ms, &detail::PendingState::fireThunk, timer) == BP_STATUS_OK;
  }
  /// Calls `fn` once if the run is cancelled, times out, or a Return Value elsewhere ends it
  /// while the call is pending (at once when that already happened). `fn` should complete the
  /// call soon, typically with Result::cancelled().
  void onCancel(std::function<void()> fn) {
    if (!state_) return;
    {
      std::lock_guard<std::mutex> lock(state_->mutex);
      if (state_->completed) return;
      if (!state_->cancel_requested) {
        state_->on_cancel = std::move(fn);
        return;
      }
    }
    fn();
  }
  /// Streams `text` to the caller (an SSE delta) while the call is pending.
  void emit(std::string_view text) {
    if (bp_pending* h = handle()) h->emit_delta(h->ctx, text.data(), text.size());
  }
  /// Writes to the host log and the run trace while the call is pending.
  void log(LogLevel level, std::string_view message) {
    if (bp_pending* h = handle())
      h->log(h->ctx, static_cast<std::int32_t>(level), message.data(), message.size());
  }
  /// True once the run is cancelled or timed out.
  bool cancelled() const {
    bp_pending* h = handle();
    return h == nullptr || h->is_cancelled(h->ctx) != 0;
  }
  /// False for a default-constructed Pending.
  explicit operator bool() const { return state_ != nullptr; }

 private:
  bp_pending* handle() const {
    if (!state_) return nullptr;
    std::lock_guard<std::mutex> lock(state_->mutex);
    return state_->completed ? nullptr : state_->handle;
  }
  std::shared_ptr<detail::PendingState> state_;
};

/// The host's services for one block execution. Valid only during Block::run.
class Context {
 public:
  explicit Context(const bp_host_api* host) : host_(host) {}

  /// Streams `text` to the caller now (an SSE delta event).
  void emit(std::string_view text) {
    if (BLUEPRINT_DETAIL_HOST_HAS(host_, emit_delta))
      host_->emit_delta(host_->ctx, text.data(), text.size());
  }
  /// Writes to the host log and the run trace.
  void log(LogLevel level, std::string_view message) {
    if (BLUEPRINT_DETAIL_HOST_HAS(host_, log))
      host_->log(host_->ctx, static_cast<std::int32_t>(level), message.data(), message.size());
  }
  /// True once the run is cancelled or timed out: stop and return soon.
  bool cancelled() const {
    return BLUEPRINT_DETAIL_HOST_HAS(host_, is_cancelled) && host_->is_cancelled(host_->ctx) != 0;
  }
  /// Sleeps up to `duration`; false when cut short by cancellation or the run's timeout.
  bool sleepFor(std::chrono::milliseconds duration) {
    if (!BLUEPRINT_DETAIL_HOST_HAS(host_, sleep_ms)) return false;
    auto ms = duration.count() < 0 ? 0 : static_cast<std::uint64_t>(duration.count());
    return host_->sleep_ms(host_->ctx, ms) == BP_STATUS_OK;
  }
  /// A value of the run environment by dot path (`payload`, `result.id`, `state.x`), if any.
  std::optional<Json> env(std::string_view path) const {
    if (BLUEPRINT_DETAIL_HOST_HAS(host_, env_get_native) && host_->env_get_native != nullptr) {
      Json value;
      if (host_->env_get_native(host_->ctx, path.data(), path.size(), &value) != BP_STATUS_OK)
        return std::nullopt;
      return value;
    }
    if (!BLUEPRINT_DETAIL_HOST_HAS(host_, env_get)) return std::nullopt;
    std::string out;
    bp_sink sink = detail::stringSink(out);
    if (host_->env_get(host_->ctx, path.data(), path.size(), &sink) != BP_STATUS_OK)
      return std::nullopt;
    return Json::parse(out);
  }
  /// Run-scoped state at a dot path, if set.
  std::optional<Json> state(std::string_view path) const {
    if (!BLUEPRINT_DETAIL_HOST_HAS(host_, state_get)) return std::nullopt;
    std::string out;
    bp_sink sink = detail::stringSink(out);
    if (host_->state_get(host_->ctx, path.data(), path.size(), &sink) != BP_STATUS_OK)
      return std::nullopt;
    return Json::parse(out);
  }
  /// Sets run-scoped state at a dot path; throws blueprint::Error when the host refuses.
  void setState(std::string_view path, const Json& value) { setState(path, Json(value)); }
  /// Sets run-scoped state at a dot path, moving `value` to the host when it takes native JSON.
  void setState(std::string_view path, Json&& value) {
    if (BLUEPRINT_DETAIL_HOST_HAS(host_, state_set_native) && host_->state_set_native != nullptr) {
      std::string error;
      bp_sink sink = detail::stringSink(error);
      if (host_->state_set_native(host_->ctx, path.data(), path.size(), &value, &sink) !=
          BP_STATUS_OK)
        throw Error(error);
      return;
    }
    if (!BLUEPRINT_DETAIL_HOST_HAS(host_, state_set)) throw Error("this host has no run state");
    std::string text = value.dump(), error;
    bp_sink sink = detail::stringSink(error);
    if (host_->state_set(host_->ctx, path.data(), path.size(), text.data(), text.size(), &sink) !=
        BP_STATUS_OK)
      throw Error(error);
  }
  /// Runs the branch behind `end_state` once with `scope` added to its environment; returns the
  /// branch's Return Value (null if none). Throws blueprint::Error when the branch fails.
  Json runBranch(std::string_view end_state, const Json& scope) {
    if (!BLUEPRINT_DETAIL_HOST_HAS(host_, run_branch)) throw Error("this host cannot run branches");
    std::string scope_text = scope.dump(), out, error;
    bp_sink out_sink = detail::stringSink(out), err_sink = detail::stringSink(error);
    bp_status st = host_->run_branch(host_->ctx, end_state.data(), end_state.size(),
                                     scope_text.data(), scope_text.size(), &out_sink, &err_sink);
    if (st != BP_STATUS_OK) throw Error(error.empty() ? "branch cancelled" : error);
    return out.empty() ? Json(nullptr) : Json::parse(out);
  }
  /// Runs another blueprint of the same agent with `payload`; returns its Return Value.
  Json runBlueprint(std::string_view blueprint_id, const Json& payload) {
    if (!BLUEPRINT_DETAIL_HOST_HAS(host_, run_blueprint))
      throw Error("this host cannot run blueprints");
    std::string payload_text = payload.dump(), out, error;
    bp_sink out_sink = detail::stringSink(out), err_sink = detail::stringSink(error);
    bp_status st =
        host_->run_blueprint(host_->ctx, blueprint_id.data(), blueprint_id.size(),
                             payload_text.data(), payload_text.size(), &out_sink, &err_sink);
    if (st != BP_STATUS_OK) throw Error(error.empty() ? "sub-run cancelled" : error);
    return out.empty() ? Json(nullptr) : Json::parse(out);
  }
  /// The agent's persistent key-value entry `key`, if set (hosts older than ABI 1.1: nullopt).
  std::optional<Json> kvGet(std::string_view key) const {
    if (!BLUEPRINT_DETAIL_HOST_HAS(host_, kv_get)) return std::nullopt;
    std::string out;
    bp_sink sink = detail::stringSink(out);
    bp_status st = host_->kv_get(host_->ctx, key.data(), key.size(), &sink);
    if (st == BP_STATUS_NOT_FOUND) return std::nullopt;
    if (st != BP_STATUS_OK) throw Error(out.empty() ? "key-value store failed" : out);
    return Json::parse(out);
  }
  /// Stores `value` under `key`; throws blueprint::Error when the host cannot.
  void kvSet(std::string_view key, const Json& value) {
    if (!BLUEPRINT_DETAIL_HOST_HAS(host_, kv_set)) throw Error("this host has no key-value store");
    std::string text = value.dump(), error;
    bp_sink sink = detail::stringSink(error);
    if (host_->kv_set(host_->ctx, key.data(), key.size(), text.data(), text.size(), &sink) !=
        BP_STATUS_OK)
      throw Error(error.empty() ? "key-value store failed" : error);
  }
  /// Deletes `key`; false when it did not exist.
  bool kvDelete(std::string_view key) {
    if (!BLUEPRINT_DETAIL_HOST_HAS(host_, kv_delete))
      throw Error("this host has no key-value store");
    std::string error;
    bp_sink sink = detail::stringSink(error);
    bp_status st = host_->kv_delete(host_->ctx, key.data(), key.size(), &sink);
    if (st == BP_STATUS_NOT_FOUND) return false;
    if (st != BP_STATUS_OK) throw Error(error.empty() ? "key-value store failed" : error);
    return true;
  }
  /// The operator's setting `name` for this block type (host config
  /// `block_settings.<type>.<name>`), if set.
  std::optional<Json> setting(std::string_view name) const {
    if (!BLUEPRINT_DETAIL_HOST_HAS(host_, setting_get)) return std::nullopt;
    std::string out;
    bp_sink sink = detail::stringSink(out);
    if (host_->setting_get(host_->ctx, name.data(), name.size(), &sink) != BP_STATUS_OK)
      return std::nullopt;
    return Json::parse(out);
  }
  /// How deep the JSON this block parses from outside may nest (parseJsonLimited's bound): the
  /// host's `json_max_depth`, or kDefaultJsonMaxDepth from a host that does not say.
  std::size_t jsonMaxDepth() const {
    const std::optional<Json> v = setting("json_max_depth");
    if (v && v->is_number_unsigned() && v->get<std::uint64_t>() > 0)
      return static_cast<std::size_t>(v->get<std::uint64_t>());
    return kDefaultJsonMaxDepth;
  }
  /// True when the host can defer this call (ABI 1.3 and defer() not yet called).
  bool canDefer() const {
    return BLUEPRINT_DETAIL_HOST_HAS(host_, defer) && host_->defer != nullptr && !deferred_;
  }
  /// Turns this call into a pending one (ABI 1.3): the block returns Result::pending() and
  /// completes the returned Pending later, from any thread. Throws blueprint::Error on a host
  /// older than ABI 1.3 or when called twice.
  Pending defer() {
    if (!BLUEPRINT_DETAIL_HOST_HAS(host_, defer) || host_->defer == nullptr)
      throw Error("this host cannot defer a block call (it needs ABI 1.3)");
    auto state = std::make_shared<detail::PendingState>();
    {
      // Held across defer(): an on_cancel the host sends at once waits until `handle` is set.
      std::lock_guard<std::mutex> lock(state->mutex);
      state->handle = host_->defer(host_->ctx, &detail::PendingState::onCancelThunk, state.get());
      if (state->handle == nullptr) throw Error("the host refused to defer this call");
    }
    deferred_ = state;
    return Pending(std::move(state));
  }
  /// The raw C services, for what this wrapper does not cover.
  const bp_host_api* raw() const { return host_; }
  /// The call's pending state once defer() was called (the SDK's thunk reads it).
  const std::shared_ptr<detail::PendingState>& deferredState() const { return deferred_; }

 private:
  const bp_host_api* host_;
  std::shared_ptr<detail::PendingState> deferred_;
};

/// Base of every C++ block. One instance per block of a deployed blueprint; run() may be called
/// on several threads at once, so keep per-run data on the stack.
class Block {
 public:
  virtual ~Block() = default;
  /// Runs once with the rendered `fields` (a JSON object, defaults applied).
  virtual Result run(Context& ctx, const Json& fields) = 0;
};

namespace detail {

inline void writeSink(const bp_sink& sink, std::string_view text) {
  if (sink.write != nullptr) sink.write(sink.ctx, text.data(), text.size());
}

template <typename T>
void* createThunk(const char* config, std::size_t size, bp_sink* error) noexcept {
  try {
    if constexpr (std::is_constructible_v<T, const Json&>) {
      Json cfg = size == 0 ? Json::object() : Json::parse(config, config + size);
      return static_cast<Block*>(new T(cfg));
    } else {
      (void)config;
      (void)size;
      return static_cast<Block*>(new T());
    }
  } catch (const std::exception& e) {
    if (error != nullptr) writeSink(*error, e.what());
  } catch (...) {
    if (error != nullptr) writeSink(*error, "unknown exception in create");
  }
  return nullptr;
}

inline bp_status runThunk(void* instance, const bp_run_args* args) noexcept {
  try {
    // ABI 1.2: a host with our JSON layout passes the fields and takes the result natively.
    const bool native = args->struct_size >= offsetof(bp_run_args, output_native) + sizeof(void*) &&
                        args->fields_native != nullptr;
    Json parsed;
    if (!native && args->fields_size != 0)
      parsed = Json::parse(args->fields_json, args->fields_json + args->fields_size);
    else if (!native)
      parsed = Json::object();
    const Json& fields = native ? *static_cast<const Json*>(args->fields_native) : parsed;
    Context ctx(args->host);
    Result r = [&] {
      try {
        return static_cast<Block*>(instance)->run(ctx, fields);
      } catch (const std::exception& e) {
        if (!ctx.deferredState()) throw;
        return Result::error(e.what());  // deferred: the failure completes the call
      }
    }();
    if (ctx.deferredState()) {
      // ABI 1.3: after defer() run() must return BP_STATUS_PENDING; a block that returned a
      // real result anyway completes with it.
      if (!r.isPending()) ctx.deferredState()->complete(std::move(r));
      return BP_STATUS_PENDING;
    }
    if (r.isPending()) {
      writeSink(args->error, "the block returned Result::pending() without Context::defer()");
      return BP_STATUS_ERROR;
    }
    if (!r.value().is_null()) {
      if (native && args->output_native != nullptr)
        *static_cast<Json*>(args->output_native) = r.takeValue();
      else
        writeSink(args->output, r.value().dump());
    }
    const bool default_state = r.state() == (r.failed() ? "error" : "success");
    if (!default_state) writeSink(args->end_state, r.state());
    if (r.failed()) {
      writeSink(args->error, r.message());
      return r.status();
    }
    return BP_STATUS_OK;
  } catch (const std::exception& e) {
    writeSink(args->error, e.what());
  } catch (...) {
    writeSink(args->error, "unknown exception");
  }
  return BP_STATUS_ERROR;
}

inline void destroyThunk(void* instance) noexcept { delete static_cast<Block*>(instance); }

/// Builds the static bp_plugin for a list of block types (runs once, on first bp_plugin_v1()).
template <typename... Ts>
struct PluginTable {
  static constexpr std::size_t kCount = sizeof...(Ts);
  std::string id, version, manifest;
  std::string types[kCount];
  bp_block_vtable vtables[kCount];
  const bp_block_vtable* pointers[kCount];
  bp_plugin plugin;

  PluginTable(const char* plugin_id, const char* plugin_version, bp_status (*init)(bp_sink*),
              void (*deinit)())
      : id(plugin_id),
        version(plugin_version),
        types{std::string(Ts::kType)...},
        vtables{bp_block_vtable{sizeof(bp_block_vtable), nullptr, &createThunk<Ts>, &runThunk,
                                &destroyThunk}...},
        pointers{},
        plugin{} {
    Json blocks = Json::array({Ts::spec().toJson()...});
    manifest = Json{{"blocks", std::move(blocks)}}.dump();
    for (std::size_t i = 0; i < kCount; ++i) {
      vtables[i].type = types[i].c_str();
      pointers[i] = &vtables[i];
    }
    plugin.struct_size = sizeof(bp_plugin);
    plugin.abi_major = BP_ABI_MAJOR;
    plugin.abi_minor = BP_ABI_MINOR;
    plugin.id = id.c_str();
    plugin.version = version.c_str();
    plugin.manifest_json = manifest.data();
    plugin.manifest_size = manifest.size();
    plugin.init = init;
    plugin.deinit = deinit;
    plugin.block_count = static_cast<std::uint32_t>(kCount);
    plugin.blocks = pointers;
#if BLUEPRINT_SDK_NATIVE_JSON
    plugin.native_json = nativeJsonTag().c_str();
#else
    plugin.native_json = nullptr;
#endif
  }
};

/// Says on standard error why bp_plugin_v1() returns NULL: the ABI has no error channel for the
/// entry, and the host only sees the NULL (it logs that the plugin refused to describe itself).
inline void reportEntryFailure(const char* id, const char* why) noexcept {
  std::fprintf(stderr, "blueprint plugin %s: cannot build its manifest: %s\n",
               id != nullptr ? id : "(no id)", why);
}

template <typename... Ts>
const bp_plugin* pluginFor(const char* id, const char* version, bp_status (*init)(bp_sink*),
                           void (*deinit)()) noexcept {
  // Building the table runs every spec(): a BlockSpec::example that is not JSON, or a name that
  // is not UTF-8, throws there. Inside a noexcept entry that would std::terminate the host that
  // called it, so it returns NULL instead, which the host rejects with a load error. A static
  // whose construction threw is built again on the next call.
  try {
    // A function-local static: with -fno-gnu-unique (blueprint_add_block) it stays
    // STB_LOCAL-ish and never pins the library in memory.
    static const PluginTable<Ts...> table(id, version, init, deinit);
    return &table.plugin;
  } catch (const std::exception& e) {
    reportEntryFailure(id, e.what());
  } catch (...) {
    reportEntryFailure(id, "an exception that is not a std::exception");
  }
  return nullptr;
}

}  // namespace detail
}  // namespace blueprint

/// Defines the plugin entry point for the listed block types.
#define BLUEPRINT_PLUGIN(ID, VERSION, ...)                                             \
  extern "C" BP_EXPORT const bp_plugin* bp_plugin_v1(void) {                           \
    return ::blueprint::detail::pluginFor<__VA_ARGS__>(ID, VERSION, nullptr, nullptr); \
  }

/// Like BLUEPRINT_PLUGIN, with library-wide hooks: `bp_status init(bp_sink* error)` (may refuse
/// the load) and `void deinit()` (must join every thread the library started).
#define BLUEPRINT_PLUGIN_WITH_HOOKS(ID, VERSION, INIT, DEINIT, ...)                \
  extern "C" BP_EXPORT const bp_plugin* bp_plugin_v1(void) {                       \
    return ::blueprint::detail::pluginFor<__VA_ARGS__>(ID, VERSION, INIT, DEINIT); \
  }

#endif  // BLUEPRINT_SDK_HPP
