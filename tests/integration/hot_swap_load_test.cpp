// SPDX-License-Identifier: Apache-2.0
// Hot-swap under load (DESIGN §5, issue 4): the real blueprint-host serves 16 keep-alive
// connections of sync runs of `api_trigger → swap.answer → return_value` while the test renames
// swap_v1.so / swap_v2.so (one source, two builds) over `swap.so` 100 times. Every response must
// be exactly the "v1" or "v2" stream, with no failed request; afterwards only the serving
// generation may be mapped in the host process. Then broken builds are renamed over `swap.so`
// mid-load: each is rejected (GET /v1/blocks `last_error`, and the reload answer) while the old
// build serves on. One test per trigger: the directory watcher, POST /v1/plugins/reload, SIGHUP.
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/api_helpers.hpp"
#include "support/http_client.hpp"
#include "support/test_host.hpp"

namespace blueprint::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int kConnections = 16;
constexpr int kSwaps = 100;
constexpr auto kSwapVisibleWithin = std::chrono::seconds(15);
const std::string kPluginFile = "swap.so";

/// What tells the host to reload after a rename (DESIGN §5).
enum class Trigger { Watcher, ReloadCall, Sighup };

const char* triggerName(Trigger t) {
  switch (t) {
    case Trigger::Watcher:
      return "watcher";
    case Trigger::ReloadCall:
      return "reload call";
    case Trigger::Sighup:
      return "SIGHUP";
  }
  return "?";
}

/// The whole response body of one run answered by build `version` (DESIGN §2, exactly).
std::string expectedStream(int version) {
  return "data: " + inProgressEvent() + "\n\ndata: " + executingEvent("answer") +
         "\n\ndata: " + deltaEvent("v" + std::to_string(version)) + "\n\ndata: [DONE]\n\n";
}

Json swapAgent() {
  return agent(
      "Swap",
      {blueprint("answer",
                 {block("trigger", "api_trigger", {{"default_result", "{}"}}, {{"trigger", "ask"}}),
                  block("ask", "swap.answer", Json::object(), {{"success", "reply"}}),
                  block("reply", "return_value", {{"value", "@{result}"}})})});
}

/// Keeps `connections` keep-alive connections busy with sync runs and checks every response.
class LoadClient {
 public:
  LoadClient(int port, std::string key, int connections) : port_(port), key_(std::move(key)) {
    expected_[1] = expectedStream(1);
    expected_[2] = expectedStream(2);
    for (int i = 0; i < connections; ++i) threads_.emplace_back([this] { work(); });
  }
  ~LoadClient() { stop(); }

  void stop() {
    stopping_ = true;
    for (auto& t : threads_)
      if (t.joinable()) t.join();
  }

  /// Starts a new observation window: counts and first answers of requests sent from now on.
  void mark() {
    std::lock_guard<std::mutex> lock(mutex_);
    mark_ = Clock::now();
    since_mark_ = {};
    first_since_mark_ = {};
  }
  /// When the first request sent after mark() was answered by `version` (nullopt: not yet).
  std::optional<Clock::time_point> firstAnswerSinceMark(int version) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return first_since_mark_[version];
  }
  /// Answers by `version` to requests sent after mark().
  std::uint64_t answeredSinceMark(int version) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return since_mark_[version];
  }
  std::uint64_t answered(int version) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return answered_[version];
  }
  std::uint64_t failed() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return failed_;
  }
  std::vector<std::string> failures() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return failures_;
  }

 private:
  void work() {
    Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port_));
    session.setTimeout(Poco::Timespan(30, 0));
    session.setKeepAlive(true);
    const std::string body = R"({"inputs":{}})";
    while (!stopping_) {
      const Clock::time_point sent = Clock::now();
      int status = 0;
      std::string answer;
      std::string error;
      try {
        Poco::Net::HTTPRequest request("POST", triggerPath("swap", "answer"),
                                       Poco::Net::HTTPMessage::HTTP_1_1);
        request.set("Authorization", "Bearer " + key_);
        request.setContentType("application/json");
        request.setContentLength(static_cast<std::streamsize>(body.size()));
        request.setKeepAlive(true);
        session.sendRequest(request) << body;
        Poco::Net::HTTPResponse response;
        std::istream& in = session.receiveResponse(response);
        Poco::StreamCopier::copyToString(in, answer);
        status = static_cast<int>(response.getStatus());
      } catch (const Poco::Exception& e) {
        error = e.displayText();
        session.reset();
      } catch (const std::exception& e) {
        error = e.what();
        session.reset();
      }
      int version = 0;
      if (error.empty() && status == 200) {
        if (answer == expected_[1]) version = 1;
        if (answer == expected_[2]) version = 2;
      }
      record(version, sent,
             error.empty() ? "status " + std::to_string(status) + ": " + answer : error);
    }
  }

  void record(int version, Clock::time_point sent, const std::string& why) {
    const Clock::time_point now = Clock::now();
    std::lock_guard<std::mutex> lock(mutex_);
    if (version == 0) {
      ++failed_;
      if (failures_.size() < 10) failures_.push_back(why);
      return;
    }
    ++answered_[version];
    if (sent >= mark_) {
      ++since_mark_[version];
      if (!first_since_mark_[version]) first_since_mark_[version] = now;
    }
  }

  int port_;
  std::string key_;
  std::array<std::string, 3> expected_;
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> threads_;
  mutable std::mutex mutex_;
  Clock::time_point mark_ = Clock::now();
  std::array<std::uint64_t, 3> answered_{};
  std::array<std::uint64_t, 3> since_mark_{};
  std::array<std::optional<Clock::time_point>, 3> first_since_mark_{};
  std::uint64_t failed_ = 0;
  std::vector<std::string> failures_;
};

/// p-th percentile (0..100) of `values` in milliseconds.
double percentileMs(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const std::size_t at =
      std::min(values.size() - 1, static_cast<std::size_t>(p / 100.0 * (values.size() - 1) + 0.5));
  return values[at];
}

double msSince(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

/// A broken build to drop over swap.so, and the words its rejection must contain.
struct BrokenBuild {
  std::string name;
  std::function<void(const fs::path& to)> write;
  std::string expected_error;
};

class HotSwapLoad : public ::testing::Test {
 protected:
  /// Starts the host with core_blocks.so and swap_v1.so as `swap.so`.
  void startHost(bool watch) {
    TestHostOptions options;
    options.agents["swap"] = swapAgent();
    options.config = {{"watch_plugins", watch}, {"plugin_debounce_ms", 50}};
    host_ = std::make_unique<TestHost>(options);
    fs::copy_file(fixturePluginPath("swap_v1"), host_->pluginDir() / kPluginFile);
    ASSERT_TRUE(host_->start());
    admin_ = std::make_unique<HttpClient>(host_->port(), host_->adminKey());
    const Json status = pluginStatus();
    ASSERT_EQ(status.value("version", ""), "1.0.0") << status.dump();
    serving_version_ = 1;
    serving_generation_ = status.value("generation", std::uint64_t{0});
    ASSERT_GT(serving_generation_, 0U);
  }

  /// swap.so's entry of GET /v1/blocks `plugins` (an empty object when missing).
  Json pluginStatus() const {
    HttpResponse r = admin_->get("/v1/blocks");
    EXPECT_EQ(r.status, 200) << r.body;
    const Json catalog = r.json();
    if (catalog.is_object() && catalog.contains("plugins"))
      for (const Json& p : catalog["plugins"])
        if (p.value("file", "") == kPluginFile) return p;
    return Json::object();
  }

  /// Operator deploy (DESIGN §5): write swap.so.tmp, then rename it over swap.so.
  void renameOver(const std::function<void(const fs::path&)>& write) const {
    const fs::path tmp = host_->pluginDir() / (kPluginFile + ".tmp");
    write(tmp);
    fs::rename(tmp, host_->pluginDir() / kPluginFile);
  }
  static std::function<void(const fs::path&)> copyOf(const fs::path& from) {
    return [from](const fs::path& to) {
      fs::copy_file(from, to, fs::copy_options::overwrite_existing);
    };
  }

  /// Polls GET /v1/blocks until `done(status)` holds; false after kSwapVisibleWithin.
  bool waitForStatus(const std::function<bool(const Json&)>& done, Json& last) const {
    const auto deadline = Clock::now() + kSwapVisibleWithin;
    while (Clock::now() < deadline) {
      last = pluginStatus();
      if (done(last)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }

  /// POST /v1/plugins/reload; returns the answer, and its duration in `took_ms`.
  Json reloadNow(double& took_ms) const {
    const Clock::time_point start = Clock::now();
    HttpResponse r = admin_->post("/v1/plugins/reload", "{}");
    took_ms = msSince(start, Clock::now());
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json();
  }

  /// Asks for a reload unless the watcher does it: POST /v1/plugins/reload (its answer is
  /// returned) or SIGHUP.
  std::optional<Json> trigger(Trigger how) {
    if (how == Trigger::Sighup) {
      EXPECT_EQ(::kill(host_->pid(), SIGHUP), 0);
    }
    if (how != Trigger::ReloadCall) return std::nullopt;
    double took_ms = 0;
    Json answer = reloadNow(took_ms);
    reload_ms_.push_back(took_ms);
    return answer;
  }

  /// Swaps swap.so to build `version` by rename and `how`, waits
  /// until the catalogue serves it, and records the swap latency: rename → first answer by the
  /// new build to a request sent after the rename.
  void swapTo(int version, Trigger how, LoadClient& load) {
    load.mark();
    const Clock::time_point renamed = Clock::now();
    renameOver(copyOf(fixturePluginPath("swap_v" + std::to_string(version))));
    if (const std::optional<Json> answer_or = trigger(how)) {
      const Json& answer = *answer_or;
      const std::string loaded = answer.value("loaded", Json::array()).dump();
      ASSERT_NE(loaded.find("swap.so (dev.blueprint.test.swap " + std::to_string(version) +
                            ".0.0) generation"),
                std::string::npos)
          << answer.dump();
      ASSERT_EQ(answer.value("rejected", Json::array()), Json::array()) << answer.dump();
    }
    Json status;
    const std::string want = std::to_string(version) + ".0.0";
    const std::uint64_t before = serving_generation_;
    ASSERT_TRUE(waitForStatus(
        [&](const Json& s) {
          return s.value("version", "") == want &&
                 s.value("generation", std::uint64_t{0}) > before && s["last_error"].is_null();
        },
        status))
        << "swap to v" << version << " not visible in GET /v1/blocks within "
        << kSwapVisibleWithin.count() << " s: " << status.dump();
    serving_version_ = version;
    serving_generation_ = status.value("generation", std::uint64_t{0});
    // Every run that starts now pins the new catalogue: the answer must follow (bounded).
    const auto deadline = Clock::now() + kSwapVisibleWithin;
    while (!load.firstAnswerSinceMark(version) && Clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    const auto first = load.firstAnswerSinceMark(version);
    ASSERT_TRUE(first.has_value()) << "no answer from v" << version << " after the swap";
    swap_latency_ms_.push_back(msSince(renamed, *first));
  }

  /// Renames a broken build over swap.so mid-load and checks it is rejected while the serving
  /// build answers every request sent meanwhile.
  void dropBroken(const BrokenBuild& broken, Trigger how, LoadClient& load) {
    SCOPED_TRACE(broken.name);
    load.mark();
    renameOver(broken.write);
    if (const std::optional<Json> answer_or = trigger(how)) {
      const Json& answer = *answer_or;
      EXPECT_EQ(answer.value("loaded", Json::array()), Json::array()) << answer.dump();
      const std::string rejected = answer.value("rejected", Json::array()).dump();
      EXPECT_NE(rejected.find(broken.expected_error), std::string::npos) << answer.dump();
    }
    Json status;
    ASSERT_TRUE(waitForStatus(
        [&](const Json& s) {
          return s["last_error"].is_string() && s["last_error"].get<std::string>().find(
                                                    broken.expected_error) != std::string::npos;
        },
        status))
        << "rejection of " << broken.name << " not visible in GET /v1/blocks: " << status.dump();
    EXPECT_EQ(status.value("version", ""), std::to_string(serving_version_) + ".0.0");
    EXPECT_EQ(status.value("generation", std::uint64_t{0}), serving_generation_);
    // The previous build serves on: requests sent after the drop keep getting its answer.
    const std::uint64_t seen = load.answeredSinceMark(serving_version_);
    const auto deadline = Clock::now() + kSwapVisibleWithin;
    while (load.answeredSinceMark(serving_version_) < seen + 50 && Clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    EXPECT_GE(load.answeredSinceMark(serving_version_), seen + 50);
    EXPECT_EQ(load.answeredSinceMark(3 - serving_version_), 0U)
        << "requests sent after " << broken.name << " was dropped got the other build's answer";
  }

  /// Distinct private copies of swap.so mapped into the host process (/proc/<pid>/maps).
  std::set<std::string> mappedSwapCopies() const {
    std::ifstream maps("/proc/" + std::to_string(host_->pid()) + "/maps");
    std::set<std::string> files;
    const std::string cache = (host_->dataDir() / "plugin-cache").string() + "/";
    for (std::string line; std::getline(maps, line);) {
      const auto at = line.find(cache);
      if (at == std::string::npos) continue;
      std::string file = line.substr(at + cache.size());
      if (file.rfind("swap.g", 0) == 0) files.insert(file);
    }
    return files;
  }

  /// After the load stops: only the serving generation stays mapped, its cache copy is the only
  /// one on disk, and no generation became a zombie.
  void expectOnlyServingGenerationMapped() const {
    const std::string serving = "swap.g" + std::to_string(serving_generation_) + ".so";
    const std::set<std::string> want = {serving};
    std::set<std::string> mapped;
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (Clock::now() < deadline) {
      mapped = mappedSwapCopies();
      if (mapped == want) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_EQ(mapped, want) << "generations of swap.so still mapped in the host";
    std::set<std::string> cached;
    for (const auto& entry : fs::directory_iterator(host_->dataDir() / "plugin-cache"))
      if (entry.path().filename().string().rfind("swap.g", 0) == 0)
        cached.insert(entry.path().filename().string());
    EXPECT_EQ(cached, want) << "plugin-cache copies of swap.so";
    HttpResponse metrics = httpRequest(host_->port(), "GET", "/metrics");
    EXPECT_NE(metrics.body.find("\nblueprint_plugin_zombie_generations 0\n"), std::string::npos)
        << metrics.body;
  }

  std::vector<BrokenBuild> brokenBuilds() const {
    const fs::path v2 = fixturePluginPath("swap_v2");
    return {
        {"truncated build",
         [v2](const fs::path& to) {
           std::ifstream in(v2, std::ios::binary);
           std::string bytes((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
           std::ofstream out(to, std::ios::binary | std::ios::trunc);
           out << bytes.substr(0, bytes.size() / 2);
         },
         "swap.so: ELF section table is truncated"},
        {"wrong ABI major", copyOf(fixturePluginPath("abi_major_2")),
         "swap.so: built for plugin ABI 2.0"},
        {"missing entry", copyOf(fixturePluginPath("missing_entry")),
         "swap.so: does not export bp_plugin_v1"},
        {"init refuses", copyOf(fixturePluginPath("throwing_init")),
         "swap.so: init failed: license file /etc/idle.lic not found"},
        {"init throws", copyOf(fixturePluginPath("init_throws")),
         "swap.so: init threw an exception: cannot reach the licence server"},
    };
  }

  /// The whole proof for one trigger.
  void runProof(Trigger how) {
    startHost(how == Trigger::Watcher);
    if (HasFatalFailure()) return;
    LoadClient load(host_->port(), host_->invokeKey(), kConnections);

    // Steady state first: the load is flowing before the first swap.
    const auto warm_deadline = Clock::now() + std::chrono::seconds(15);
    while (load.answered(1) < 200 && Clock::now() < warm_deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    ASSERT_GE(load.answered(1), 200U) << "the load did not start; failures: " << load.failed();

    const Clock::time_point swaps_start = Clock::now();
    const std::uint64_t before_swaps = load.answered(1) + load.answered(2);
    for (int i = 0; i < kSwaps && !HasFatalFailure(); ++i)
      swapTo(serving_version_ == 1 ? 2 : 1, how, load);
    if (HasFatalFailure()) return;
    const double swap_seconds = msSince(swaps_start, Clock::now()) / 1000.0;
    const std::uint64_t during_swaps = load.answered(1) + load.answered(2) - before_swaps;

    for (const BrokenBuild& broken : brokenBuilds()) {
      dropBroken(broken, how, load);
      if (HasFatalFailure()) return;
    }
    // A good build after the broken ones loads again and clears the error.
    swapTo(serving_version_ == 1 ? 2 : 1, how, load);
    if (HasFatalFailure()) return;

    load.stop();
    EXPECT_EQ(load.failed(), 0U) << "failed requests; first ones:\n"
                                 << ::testing::PrintToString(load.failures());
    EXPECT_GT(load.answered(1), 0U);
    EXPECT_GT(load.answered(2), 0U);
    expectOnlyServingGenerationMapped();

    std::ostringstream summary;
    summary << triggerName(how) << ": " << kSwaps << " swaps in " << swap_seconds << " s, "
            << load.answered(1) << " v1 + " << load.answered(2) << " v2 answers, " << load.failed()
            << " failed, " << static_cast<double>(during_swaps) / swap_seconds
            << " req/s during swaps; swap latency (rename -> first new answer) p50 "
            << percentileMs(swap_latency_ms_, 50) << " ms, p99 "
            << percentileMs(swap_latency_ms_, 99) << " ms";
    if (!reload_ms_.empty())
      summary << "; reload call p50 " << percentileMs(reload_ms_, 50) << " ms, p99 "
              << percentileMs(reload_ms_, 99) << " ms";
    std::cout << "[hot-swap] " << summary.str() << std::endl;
    RecordProperty("summary", summary.str());
  }

  std::unique_ptr<TestHost> host_;
  std::unique_ptr<HttpClient> admin_;
  int serving_version_ = 1;
  std::uint64_t serving_generation_ = 0;
  std::vector<double> swap_latency_ms_;
  std::vector<double> reload_ms_;
};

TEST_F(HotSwapLoad, WatcherSwapsUnderLoadWithoutFailedRequests) { runProof(Trigger::Watcher); }

TEST_F(HotSwapLoad, ReloadCallSwapsUnderLoadWithoutFailedRequests) {
  runProof(Trigger::ReloadCall);
}

TEST_F(HotSwapLoad, SighupSwapsUnderLoadWithoutFailedRequests) { runProof(Trigger::Sighup); }

}  // namespace
}  // namespace blueprint::testing
