// SPDX-License-Identifier: Apache-2.0
// testing.hpp: unit-test a built block plugin through the same C ABI the host uses.
//
//   blueprint::testing::PluginUnderTest plugin("build/acme_text.so");
//   auto out = plugin.run("acme.uppercase", {{"text", "hi"}});
//   EXPECT_EQ(out.end_state, "success");
//   EXPECT_EQ(out.output, "HI");
//
// It dlopens the library (RTLD_NOW | RTLD_LOCAL), checks the ABI version like the host, creates
// an instance, and runs it with a small in-process host: run-scoped state, an environment
// (`payload`, `result`, anything you set), collected deltas and logs, a key-value map and
// settings. Like the host, it gives create() the fields as passed and run() the fields with the
// manifest's defaults applied (blueprint/field_defaults.hpp, the host's own rule). Templates are
// not rendered here and values are not converted to their field types: pass them rendered.
// Branches and sub-blueprints need the real engine: use `blueprint run` for those.
//
// Asynchronous blocks (ABI 1.3) run too: run() waits until the block completes its pending call
// (timers of bp_pending.after run on threads of the harness). Set TestHost::cancelled to have
// the pending call cancelled (its on_cancel) as soon as run() returned, and
// TestHost::pending_timeout_ms to bound the wait: past it the call is cancelled, and a block
// that still does not complete within as long again makes run() throw.
#ifndef BLUEPRINT_TESTING_HPP
#define BLUEPRINT_TESTING_HPP

#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "block_abi.h"
#include "field_defaults.hpp"

namespace blueprint::testing {

using Json = nlohmann::json;

/// What one block execution produced.
struct RunOutcome {
  int status = BP_STATUS_OK;  ///< a bp_status
  std::string end_state;      ///< the end state taken (success/error unless the block chose)
  Json output;                ///< the block's result (null when it wrote none)
  std::string error;          ///< the error message for BP_STATUS_ERROR
  std::vector<std::string> deltas;
  std::vector<std::pair<int, std::string>> logs;
};

/// The in-process host a block sees: edit these before run() to shape its world.
struct TestHost {
  Json env = Json::object();       ///< env roots: {"payload":…, "result":…, "item":…}
  Json state = Json::object();     ///< run-scoped state (read and written by the block)
  Json kv = Json::object();        ///< the agent's key-value store
  Json settings = Json::object();  ///< operator settings of the block type
  bool cancelled = false;
  /// How long run() waits for a deferred call before cancelling it (ABI 1.3).
  std::int64_t pending_timeout_ms = 10000;
};

/// A plugin library loaded for tests. Throws std::runtime_error when it cannot be loaded.
class PluginUnderTest {
 public:
  explicit PluginUnderTest(const std::string& path) {
    handle_ = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle_ == nullptr) throw std::runtime_error(std::string("dlopen failed: ") + ::dlerror());
    auto entry = reinterpret_cast<bp_plugin_entry_fn>(::dlsym(handle_, BP_PLUGIN_ENTRY_SYMBOL));
    if (entry == nullptr) throw std::runtime_error(path + " does not export bp_plugin_v1");
    plugin_ = entry();
    if (plugin_ == nullptr || plugin_->abi_major != BP_ABI_MAJOR ||
        plugin_->abi_minor > BP_ABI_MINOR)
      throw std::runtime_error(path + " was built for another plugin ABI version");
    if (plugin_->init != nullptr) {
      std::string error;
      bp_sink sink{&error, &append};
      if (plugin_->init(&sink) != BP_STATUS_OK) throw std::runtime_error("init failed: " + error);
    }
  }
  ~PluginUnderTest() {
    if (plugin_ != nullptr && plugin_->deinit != nullptr) plugin_->deinit();
    if (handle_ != nullptr) ::dlclose(handle_);
  }
  PluginUnderTest(const PluginUnderTest&) = delete;
  PluginUnderTest& operator=(const PluginUnderTest&) = delete;

  /// The plugin's manifest.
  Json manifest() const {
    return Json::parse(plugin_->manifest_json, plugin_->manifest_json + plugin_->manifest_size);
  }

  /// Runs block type `type` once with `fields` (already rendered: no templates here); a declared
  /// field left out or set to null takes its manifest default, or is left out without one.
  RunOutcome run(const std::string& type, const Json& fields) { return run(type, fields, host_); }
  RunOutcome run(const std::string& type, const Json& fields, TestHost& host) {
    RunOutcome outcome = runOnce(type, fields, host);
    return outcome;
  }

  /// The default host used by run(type, fields).
  TestHost& host() { return host_; }

 private:
  /// A deferred call (ABI 1.3): the bp_pending the block completes, with the rules of
  /// block_abi.h (complete once; no timer or on_cancel after complete returned; a complete on
  /// another thread waits for a running callback).
  struct Pending {
    bp_pending handle{};
    std::mutex mutex;
    std::condition_variable changed;
    bool completed = false;
    bool cancelled = false;
    int status = BP_STATUS_OK;
    std::string output, end_state, error;
    void (*on_cancel)(void*) = nullptr;
    void* user = nullptr;
    std::vector<std::thread::id> callback_threads;
    std::vector<std::thread> timers;
    RunOutcome* out = nullptr;

    static Pending& of(void* ctx) { return *static_cast<Pending*>(ctx); }
    void enter() { callback_threads.push_back(std::this_thread::get_id()); }
    void leave() {
      std::lock_guard<std::mutex> lock(mutex);
      callback_threads.erase(
          std::find(callback_threads.begin(), callback_threads.end(), std::this_thread::get_id()));
      changed.notify_all();
    }
    void cancel() {
      {
        std::lock_guard<std::mutex> lock(mutex);
        if (completed || cancelled) return;
        cancelled = true;
        if (on_cancel == nullptr) return;
        enter();
      }
      on_cancel(user);
      leave();
    }
    static void complete(void* ctx, bp_status st, const char* o, std::size_t on, const char* e,
                         std::size_t en, const char* err, std::size_t errn) {
      Pending& p = of(ctx);
      std::unique_lock<std::mutex> lock(p.mutex);
      if (p.completed) {
        p.out->logs.emplace_back(BP_LOG_ERROR, "complete() called a second time; ignored");
        return;
      }
      const auto me = std::this_thread::get_id();
      p.changed.wait(lock, [&] {
        return std::all_of(p.callback_threads.begin(), p.callback_threads.end(),
                           [&](std::thread::id id) { return id == me; });
      });
      p.completed = true;
      p.status = st;
      p.output.assign(o != nullptr ? o : "", o != nullptr ? on : 0);
      p.end_state.assign(e != nullptr ? e : "", e != nullptr ? en : 0);
      p.error.assign(err != nullptr ? err : "", err != nullptr ? errn : 0);
      p.changed.notify_all();
    }
    static bp_status after(void* ctx, std::uint64_t ms, void (*fire)(void*), void* user) {
      Pending& p = of(ctx);
      std::lock_guard<std::mutex> lock(p.mutex);
      if (p.completed) return BP_STATUS_ERROR;
      const auto when = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(std::min<std::uint64_t>(ms, 86400000));
      p.timers.emplace_back([&p, when, fire, user] {
        {
          std::unique_lock<std::mutex> l(p.mutex);
          p.changed.wait_until(l, when, [&] { return p.completed; });
          if (p.completed) return;
          p.enter();
        }
        fire(user);
        p.leave();
      });
      return BP_STATUS_OK;
    }
    static void emitDelta(void* ctx, const char* t, std::size_t n) {
      Pending& p = of(ctx);
      std::lock_guard<std::mutex> lock(p.mutex);
      if (!p.completed) p.out->deltas.emplace_back(t, n);
    }
    static void log(void* ctx, std::int32_t level, const char* m, std::size_t n) {
      Pending& p = of(ctx);
      std::lock_guard<std::mutex> lock(p.mutex);
      if (!p.completed) p.out->logs.emplace_back(level, std::string(m, n));
    }
    static std::int32_t isCancelled(void* ctx) {
      Pending& p = of(ctx);
      std::lock_guard<std::mutex> lock(p.mutex);
      return p.cancelled ? 1 : 0;
    }
    ~Pending() {
      {
        std::lock_guard<std::mutex> lock(mutex);
        completed = true;  // timers still waiting return without firing
        changed.notify_all();
      }
      for (auto& t : timers) t.join();
    }
  };

  RunOutcome runOnce(const std::string& type, const Json& fields, TestHost& host) {
    const bp_block_vtable* vt = find(type);
    // As in the host: create() sees the fields as written, run() sees the defaults applied.
    std::string config = fields.dump(), error;
    const std::string run_fields = withFieldDefaults(manifestEntry(type), fields).dump();
    bp_sink create_error{&error, &append};
    void* instance =
        vt->create != nullptr ? vt->create(config.data(), config.size(), &create_error) : nullptr;
    if (vt->create != nullptr && instance == nullptr)
      throw std::runtime_error(type + ": create refused: " + error);
    RunOutcome out;
    Call call{&host, &out, nullptr};
    bp_host_api api = hostApi(&call);
    std::string output, err, state;
    bp_run_args args{};
    args.struct_size = sizeof(bp_run_args);
    args.fields_json = run_fields.data();
    args.fields_size = run_fields.size();
    args.host = &api;
    args.output = bp_sink{&output, &append};
    args.error = bp_sink{&err, &append};
    args.end_state = bp_sink{&state, &append};
    out.status = vt->run(instance, &args);
    if (call.pending) {
      // Deferred: wait for complete(), as the host's run would.
      Pending& p = *call.pending;
      if (host.cancelled) p.cancel();
      const auto limit = std::chrono::milliseconds(host.pending_timeout_ms);
      bool done = false;
      {
        std::unique_lock<std::mutex> lock(p.mutex);
        done = p.changed.wait_for(lock, limit, [&] { return p.completed; });
      }
      if (!done) {
        p.cancel();
        std::unique_lock<std::mutex> lock(p.mutex);
        done = p.changed.wait_for(lock, limit, [&] { return p.completed; });
      }
      if (!done) throw std::runtime_error(type + ": the pending call never completed");
      std::lock_guard<std::mutex> lock(p.mutex);
      out.status = p.status;
      output = p.output;
      err = p.error;
      state = p.end_state;
    }
    call.pending.reset();  // joins the timer threads
    if (vt->destroy != nullptr && instance != nullptr) vt->destroy(instance);
    out.output = output.empty() ? Json(nullptr) : Json::parse(output);
    out.error = err;
    out.end_state = !state.empty() ? state : out.status == BP_STATUS_OK ? "success" : "error";
    return out;
  }

  struct Call {
    TestHost* host;
    RunOutcome* out;
    std::unique_ptr<Pending> pending;
  };

  static void append(void* ctx, const char* data, std::size_t size) {
    static_cast<std::string*>(ctx)->append(data, size);
  }
  static void write(bp_sink* sink, const std::string& text) {
    if (sink != nullptr && sink->write != nullptr) sink->write(sink->ctx, text.data(), text.size());
  }
  static const Json* walk(const Json& root, const std::string& path) {
    const Json* node = &root;
    std::size_t start = 0;
    while (start <= path.size()) {
      std::size_t dot = path.find('.', start);
      std::string seg =
          path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
      if (node->is_object()) {
        auto it = node->find(seg);
        if (it == node->end()) return nullptr;
        node = &*it;
      } else if (node->is_array() && !seg.empty() &&
                 seg.find_first_not_of("0123456789") == std::string::npos) {
        std::size_t i = std::stoul(seg);
        if (i >= node->size()) return nullptr;
        node = &(*node)[i];
      } else {
        return nullptr;
      }
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    return node;
  }
  static TestHost& hostOf(void* ctx) { return *static_cast<Call*>(ctx)->host; }

  static bp_host_api hostApi(Call* call) {
    bp_host_api api{};
    api.struct_size = sizeof(bp_host_api);
    api.ctx = call;
    api.emit_delta = [](void* ctx, const char* t, std::size_t n) {
      static_cast<Call*>(ctx)->out->deltas.emplace_back(t, n);
    };
    api.log = [](void* ctx, std::int32_t level, const char* m, std::size_t n) {
      static_cast<Call*>(ctx)->out->logs.emplace_back(level, std::string(m, n));
    };
    api.is_cancelled = [](void* ctx) -> std::int32_t { return hostOf(ctx).cancelled ? 1 : 0; };
    api.sleep_ms = [](void* ctx, std::uint64_t ms) -> bp_status {
      if (hostOf(ctx).cancelled) return BP_STATUS_CANCELLED;
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
      return BP_STATUS_OK;
    };
    api.env_get = [](void* ctx, const char* p, std::size_t n, bp_sink* out) -> bp_status {
      std::string path(p, n);
      const Json* v = path.rfind("state.", 0) == 0 ? walk(hostOf(ctx).state, path.substr(6))
                                                   : walk(hostOf(ctx).env, path);
      if (v == nullptr || v->is_null()) return BP_STATUS_NOT_FOUND;
      write(out, v->dump());
      return BP_STATUS_OK;
    };
    api.state_get = [](void* ctx, const char* p, std::size_t n, bp_sink* out) -> bp_status {
      const Json* v = walk(hostOf(ctx).state, std::string(p, n));
      if (v == nullptr) return BP_STATUS_NOT_FOUND;
      write(out, v->dump());
      return BP_STATUS_OK;
    };
    api.state_set = [](void* ctx, const char* p, std::size_t n, const char* v, std::size_t vn,
                       bp_sink* error) -> bp_status {
      std::string path(p, n);
      if (path.empty()) {
        write(error, "state key is empty");
        return BP_STATUS_ERROR;
      }
      Json* node = &hostOf(ctx).state;
      std::size_t start = 0;
      for (std::size_t dot; (dot = path.find('.', start)) != std::string::npos; start = dot + 1) {
        if (!node->is_object()) *node = Json::object();
        node = &(*node)[path.substr(start, dot - start)];
      }
      if (!node->is_object()) *node = Json::object();
      (*node)[path.substr(start)] = Json::parse(v, v + vn);
      return BP_STATUS_OK;
    };
    api.run_branch = [](void*, const char*, std::size_t, const char*, std::size_t, bp_sink*,
                        bp_sink* error) -> bp_status {
      write(error, "branches need the real engine (blueprint run)");
      return BP_STATUS_ERROR;
    };
    api.run_blueprint = [](void*, const char*, std::size_t, const char*, std::size_t, bp_sink*,
                           bp_sink* error) -> bp_status {
      write(error, "sub-blueprints need the real engine (blueprint run)");
      return BP_STATUS_ERROR;
    };
    api.kv_get = [](void* ctx, const char* k, std::size_t n, bp_sink* out) -> bp_status {
      auto& kv = hostOf(ctx).kv;
      auto it = kv.find(std::string(k, n));
      if (it == kv.end()) return BP_STATUS_NOT_FOUND;
      write(out, it->dump());
      return BP_STATUS_OK;
    };
    api.kv_set = [](void* ctx, const char* k, std::size_t n, const char* v, std::size_t vn,
                    bp_sink*) -> bp_status {
      hostOf(ctx).kv[std::string(k, n)] = Json::parse(v, v + vn);
      return BP_STATUS_OK;
    };
    api.kv_delete = [](void* ctx, const char* k, std::size_t n, bp_sink*) -> bp_status {
      return hostOf(ctx).kv.erase(std::string(k, n)) > 0 ? BP_STATUS_OK : BP_STATUS_NOT_FOUND;
    };
    api.defer = [](void* ctx, void (*on_cancel)(void*), void* user) -> bp_pending* {
      Call& c = *static_cast<Call*>(ctx);
      if (c.pending) return nullptr;
      c.pending = std::make_unique<Pending>();
      Pending& p = *c.pending;
      p.out = c.out;
      p.on_cancel = on_cancel;
      p.user = user;
      p.handle.struct_size = sizeof(bp_pending);
      p.handle.ctx = &p;
      p.handle.complete = &Pending::complete;
      p.handle.after = &Pending::after;
      p.handle.emit_delta = &Pending::emitDelta;
      p.handle.log = &Pending::log;
      p.handle.is_cancelled = &Pending::isCancelled;
      return &p.handle;
    };
    api.setting_get = [](void* ctx, const char* k, std::size_t n, bp_sink* out) -> bp_status {
      auto& s = hostOf(ctx).settings;
      auto it = s.find(std::string(k, n));
      if (it == s.end()) return BP_STATUS_NOT_FOUND;
      write(out, it->dump());
      return BP_STATUS_OK;
    };
    return api;
  }

  /// The manifest's entry for `type`; null when the manifest does not list it.
  Json manifestEntry(const std::string& type) const {
    const Json all = manifest();
    if (all.is_object() && all.contains("blocks") && all["blocks"].is_array())
      for (const Json& entry : all["blocks"])
        if (entry.is_object() && entry.value("type", "") == type) return entry;
    return nullptr;
  }

  const bp_block_vtable* find(const std::string& type) const {
    for (std::uint32_t i = 0; i < plugin_->block_count; ++i)
      if (plugin_->blocks[i] != nullptr && type == plugin_->blocks[i]->type)
        return plugin_->blocks[i];
    throw std::runtime_error("the plugin has no block type '" + type + "'");
  }

  void* handle_ = nullptr;
  const bp_plugin* plugin_ = nullptr;
  TestHost host_;
};

}  // namespace blueprint::testing

#endif  // BLUEPRINT_TESTING_HPP
