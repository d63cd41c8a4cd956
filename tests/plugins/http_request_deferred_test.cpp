// SPDX-License-Identifier: Apache-2.0
// http_request_deferred_test.cpp: the deferred (ABI 1.3) path of `http_request`, through the C
// ABI of an http_blocks.so built with BLUEPRINT_HTTP_REQUEST_DEFER=1. The host that runs pending
// calls is built on another branch (issue 12); this test plays the host's part of the ABI 1.3
// contract itself (bp_host_api.defer, bp_pending.complete, on_cancel) for one call at a time, so
// the plugin's side can be checked here: run() returns BP_STATUS_PENDING at once, the result
// arrives exactly once from the client's thread, on_cancel ends the request, and many pending
// requests hold no thread. Servers are on 127.0.0.1 port 0.
#include <blueprint/block_abi.h>
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "plugins/local_http_server.hpp"

namespace blueprint {
namespace {

using namespace std::chrono_literals;
using Json = nlohmann::json;
using testing_support::LocalServer;
using testing_support::okResponse;

std::size_t threadCount() {
  std::size_t count = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/task"))
    ++count;
  return count;
}

void appendTo(void* ctx, const char* data, std::size_t size) {
  static_cast<std::string*>(ctx)->append(data, size);
}

/// One block call as an ABI 1.3 host makes it: the host API it gets, the bp_pending it may
/// defer to, and what completes it.
struct Call {
  bp_host_api api{};
  bp_pending pending{};
  std::string output, end_state, error;  ///< the synchronous sinks of run()
  bool allow_private = true;
  std::atomic<bool> cancelled{false};

  std::mutex mutex;
  std::condition_variable cv;
  bool deferred = false;
  void (*on_cancel)(void*) = nullptr;
  void* on_cancel_user = nullptr;
  int completions = 0;
  bp_status status = -1;
  std::string result, result_state, result_error;
  std::vector<std::string> log_lines;

  Call() {
    api.struct_size = sizeof(bp_host_api);
    api.ctx = this;
    api.log = [](void* ctx, std::int32_t, const char* message, std::size_t size) {
      auto* call = static_cast<Call*>(ctx);
      std::lock_guard<std::mutex> lock(call->mutex);
      call->log_lines.emplace_back(message, size);
    };
    api.is_cancelled = [](void* ctx) -> std::int32_t {
      return static_cast<Call*>(ctx)->cancelled ? 1 : 0;
    };
    api.setting_get = [](void* ctx, const char* name, std::size_t size, bp_sink* out) {
      auto* call = static_cast<Call*>(ctx);
      if (std::string_view(name, size) != "allow_private_networks" || !call->allow_private)
        return static_cast<bp_status>(BP_STATUS_NOT_FOUND);
      out->write(out->ctx, "true", 4);
      return static_cast<bp_status>(BP_STATUS_OK);
    };
    api.defer = [](void* ctx, void (*on_cancel)(void*), void* user) -> bp_pending* {
      auto* call = static_cast<Call*>(ctx);
      std::lock_guard<std::mutex> lock(call->mutex);
      if (call->deferred) return nullptr;
      call->deferred = true;
      call->on_cancel = on_cancel;
      call->on_cancel_user = user;
      return &call->pending;
    };
    pending.struct_size = sizeof(bp_pending);
    pending.ctx = this;
    pending.complete = [](void* ctx, bp_status status, const char* output, std::size_t output_size,
                          const char* state, std::size_t state_size, const char* error,
                          std::size_t error_size) {
      auto* call = static_cast<Call*>(ctx);
      std::lock_guard<std::mutex> lock(call->mutex);
      if (++call->completions > 1) return;  // a second complete() is ignored (and counted)
      call->status = status;
      call->result.assign(output == nullptr ? "" : output, output_size);
      call->result_state.assign(state == nullptr ? "" : state, state_size);
      call->result_error.assign(error == nullptr ? "" : error, error_size);
      call->cv.notify_all();
    };
    pending.after = [](void*, std::uint64_t, void (*)(void*), void*) {
      return static_cast<bp_status>(BP_STATUS_ERROR);  // http_request needs no timer
    };
    pending.emit_delta = [](void*, const char*, std::size_t) {};
    pending.log = api.log;
    pending.is_cancelled = api.is_cancelled;
  }

  bool waitForCompletion(std::chrono::seconds limit) {
    std::unique_lock<std::mutex> lock(mutex);
    return cv.wait_for(lock, limit, [this] { return completions > 0; });
  }
  /// What the host does when the run is cancelled while the call is pending.
  void cancel() {
    cancelled = true;
    void (*fn)(void*) = nullptr;
    void* user = nullptr;
    {
      std::lock_guard<std::mutex> lock(mutex);
      fn = on_cancel;
      user = on_cancel_user;
    }
    if (fn != nullptr) fn(user);
  }
};

/// http_blocks.so (deferring build) loaded and initialised once for the suite.
class DeferredPlugin : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    library_ = ::dlopen(BLUEPRINT_HTTP_DEFERRED_PLUGIN, RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(library_, nullptr) << ::dlerror();
    using Entry = const bp_plugin* (*)();
    auto entry = reinterpret_cast<Entry>(::dlsym(library_, "bp_plugin_v1"));
    ASSERT_NE(entry, nullptr);
    plugin_ = entry();
    std::string error;
    bp_sink sink{&error, &appendTo};
    ASSERT_EQ(plugin_->init(&sink), BP_STATUS_OK) << error;
    for (std::uint32_t i = 0; i < plugin_->block_count; ++i)
      if (std::string_view(plugin_->blocks[i]->type) == "http_request") block_ = plugin_->blocks[i];
    ASSERT_NE(block_, nullptr);
    instance_ = block_->create(nullptr, 0, &sink);
    ASSERT_NE(instance_, nullptr) << error;
  }
  static void TearDownTestSuite() {
    if (block_ != nullptr && instance_ != nullptr) block_->destroy(instance_);
    if (plugin_ != nullptr && plugin_->deinit != nullptr) plugin_->deinit();  // joins the loop
    if (library_ != nullptr) ::dlclose(library_);
  }

  /// Calls run() with `fields`; returns its status.
  static bp_status run(Call& call, const Json& fields) {
    const std::string text = fields.dump();
    bp_run_args args{};
    args.struct_size = sizeof(bp_run_args);
    args.fields_json = text.data();
    args.fields_size = text.size();
    args.host = &call.api;
    args.output = {&call.output, &appendTo};
    args.error = {&call.error, &appendTo};
    args.end_state = {&call.end_state, &appendTo};
    return block_->run(instance_, &args);
  }
  static Json get(const std::string& url) {
    return {{"method", "GET"}, {"url", url}, {"headers", Json::object()}, {"timeout_s", 30}};
  }

  static inline void* library_ = nullptr;
  static inline const bp_plugin* plugin_ = nullptr;
  static inline const bp_block_vtable* block_ = nullptr;
  static inline void* instance_ = nullptr;
};

TEST_F(DeferredPlugin, DeclaresTheTypeAsync) {
  const Json manifest =
      Json::parse(std::string_view(plugin_->manifest_json, plugin_->manifest_size));
  EXPECT_EQ(manifest["blocks"][0]["type"], "http_request");
  EXPECT_EQ(manifest["blocks"][0].value("async", false), true);
}

TEST_F(DeferredPlugin, RunReturnsPendingAndTheResponseCompletesTheCallOnce) {
  LocalServer server(1000ms, [](const std::string&) { return okResponse("late"); });
  Call call;
  EXPECT_EQ(run(call, get(server.url("/slow"))), BP_STATUS_PENDING) << call.error;
  {
    std::lock_guard<std::mutex> lock(call.mutex);
    EXPECT_EQ(call.completions, 0);  // the server answers 1 s later: run() did not wait for it
  }
  ASSERT_TRUE(call.waitForCompletion(30s));
  std::this_thread::sleep_for(100ms);
  std::lock_guard<std::mutex> lock(call.mutex);
  EXPECT_EQ(call.completions, 1);
  EXPECT_EQ(call.status, BP_STATUS_OK) << call.result_error;
  const Json result = Json::parse(call.result);
  EXPECT_EQ(result["status_code"], 200);
  EXPECT_EQ(result["body"], "late");
}

TEST_F(DeferredPlugin, OnCancelEndsThePendingRequest) {
  LocalServer server(30000ms, [](const std::string&) { return okResponse(); });
  Call call;
  ASSERT_EQ(run(call, get(server.url("/never"))), BP_STATUS_PENDING) << call.error;
  while (server.requests() == 0) std::this_thread::sleep_for(5ms);
  const auto cancelled = std::chrono::steady_clock::now();
  call.cancel();
  ASSERT_TRUE(call.waitForCompletion(10s));
  EXPECT_LT(std::chrono::steady_clock::now() - cancelled, 5s);  // the server would take 30 s
  std::lock_guard<std::mutex> lock(call.mutex);
  EXPECT_EQ(call.status, BP_STATUS_CANCELLED) << call.result_error;
  EXPECT_EQ(call.completions, 1);
}

TEST_F(DeferredPlugin, ARefusedAddressCompletesWithConnectionError) {
  LocalServer server(0ms, [](const std::string&) { return okResponse(); });
  Call call;
  call.allow_private = false;
  ASSERT_EQ(run(call, get(server.url("/json"))), BP_STATUS_PENDING) << call.error;
  ASSERT_TRUE(call.waitForCompletion(10s));
  std::lock_guard<std::mutex> lock(call.mutex);
  EXPECT_EQ(call.status, BP_STATUS_ERROR);
  EXPECT_EQ(call.result_state, "connection_error");
  EXPECT_NE(call.result_error.find("refused to connect to 127.0.0.1 (a loopback address)"),
            std::string::npos)
      << call.result_error;
  EXPECT_EQ(server.requests(), 0u);
}

TEST_F(DeferredPlugin, ManyPendingRequestsHoldNoThread) {
  // 200 calls from this one thread to a server that answers each after 1 s: every run()
  // returns at once, and all complete together on the plugin's one loop thread.
  constexpr int kCalls = 200;
  LocalServer server(1000ms, [](const std::string&) { return okResponse(); });
  const std::size_t threads_before = threadCount();
  std::vector<std::unique_ptr<Call>> calls;
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < kCalls; ++i) {
    calls.push_back(std::make_unique<Call>());
    ASSERT_EQ(run(*calls.back(), get(server.url("/slow"))), BP_STATUS_PENDING);
  }
  std::size_t peak_threads = threadCount();
  for (auto& call : calls) {
    while (!call->waitForCompletion(0s)) {
      peak_threads = std::max(peak_threads, threadCount());
      std::this_thread::sleep_for(20ms);
      if (std::chrono::steady_clock::now() - started > 60s) break;
    }
  }
  const auto took = std::chrono::steady_clock::now() - started;
  int ok = 0;
  for (auto& call : calls) {
    std::lock_guard<std::mutex> lock(call->mutex);
    ok += call->completions == 1 && call->status == BP_STATUS_OK;
  }
  EXPECT_EQ(ok, kCalls);
  EXPECT_LT(took, 60s);  // generous: one after another they would take 200 s
  EXPECT_LE(peak_threads, threads_before);
}

}  // namespace
}  // namespace blueprint
