// SPDX-License-Identifier: Apache-2.0
// swap_bench: measures what a hot-swap costs a running blueprint-host (DESIGN §5). It keeps
// `--connections` keep-alive connections busy with sync runs of `swap/answer`
// (api_trigger → swap.answer → return_value, answering "v1" or "v2"), measures the steady
// throughput, then swaps swap_v1.so / swap_v2.so over `<plugins>/swap.so` by rename `--swaps`
// times and reports the throughput during the swaps and the swap latency: rename → first answer
// by the new build to a request sent after the rename. With `--reload-call` every rename is
// followed by POST /v1/plugins/reload (the host should run without the watcher) and the call's
// duration is reported too. Started by bench/hot_swap/run, which also starts the host.
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Options {
  int port = 0;
  std::string key;
  fs::path plugins;
  fs::path v1;
  fs::path v2;
  int connections = 16;
  double steady_seconds = 5;
  int swaps = 50;
  bool reload_call = false;
};

double msBetween(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p / 100.0 * (v.size() - 1) + 0.5))];
}

std::string expectedStream(int version) {
  return "data: {\"status\":\"in progress\",\"message\":null}\n\n"
         "data: {\"status\":\"executing\",\"message\":\"Executing blueprint answer...\"}\n\n"
         "data: {\"delta\":\"v" +
         std::to_string(version) + "\"}\n\ndata: [DONE]\n\n";
}

/// Sends one request on `session`; the body, or throws.
std::string exchange(Poco::Net::HTTPClientSession& session, const std::string& path,
                     const std::string& key, const std::string& body, int& status) {
  Poco::Net::HTTPRequest request("POST", path, Poco::Net::HTTPMessage::HTTP_1_1);
  request.set("Authorization", "Bearer " + key);
  request.setContentType("application/json");
  request.setContentLength(static_cast<std::streamsize>(body.size()));
  request.setKeepAlive(true);
  session.sendRequest(request) << body;
  Poco::Net::HTTPResponse response;
  std::istream& in = session.receiveResponse(response);
  std::string answer;
  Poco::StreamCopier::copyToString(in, answer);
  status = static_cast<int>(response.getStatus());
  return answer;
}

class Load {
 public:
  explicit Load(const Options& o)
      : options_(o), expected_{"", expectedStream(1), expectedStream(2)} {
    for (int i = 0; i < o.connections; ++i) threads_.emplace_back([this] { work(); });
  }
  ~Load() {
    stopping_ = true;
    for (auto& t : threads_) t.join();
  }
  std::uint64_t completed() const { return completed_.load(); }
  std::uint64_t failed() const { return failed_.load(); }
  void mark() {
    std::lock_guard<std::mutex> lock(mutex_);
    mark_ = Clock::now();
    first_[1].reset();
    first_[2].reset();
  }
  std::optional<Clock::time_point> firstSinceMark(int version) {
    std::lock_guard<std::mutex> lock(mutex_);
    return first_[version];
  }

 private:
  void work() {
    Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(options_.port));
    session.setTimeout(Poco::Timespan(30, 0));
    session.setKeepAlive(true);
    while (!stopping_) {
      const Clock::time_point sent = Clock::now();
      int version = 0;
      try {
        int status = 0;
        const std::string answer = exchange(session, "/v1/agents/swap/blueprints/answer",
                                            options_.key, R"({"inputs":{}})", status);
        if (status == 200 && answer == expected_[1]) version = 1;
        if (status == 200 && answer == expected_[2]) version = 2;
      } catch (const std::exception&) {
        session.reset();
      }
      if (version == 0) {
        ++failed_;
        continue;
      }
      ++completed_;
      const Clock::time_point now = Clock::now();
      std::lock_guard<std::mutex> lock(mutex_);
      if (sent >= mark_ && !first_[version]) first_[version] = now;
    }
  }

  const Options& options_;
  std::string expected_[3];
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> completed_{0};
  std::atomic<std::uint64_t> failed_{0};
  std::mutex mutex_;
  Clock::time_point mark_ = Clock::now();
  std::optional<Clock::time_point> first_[3];
  std::vector<std::thread> threads_;
};

/// Completions per 100 ms window while `phase` runs; returns the phase's duration in seconds.
template <typename Phase>
double sampled(Load& load, std::vector<double>& windows, Phase phase) {
  std::atomic<bool> done{false};
  std::thread sampler([&] {
    std::uint64_t last = load.completed();
    auto next = Clock::now() + std::chrono::milliseconds(100);
    while (!done) {
      std::this_thread::sleep_until(next);
      next += std::chrono::milliseconds(100);
      const std::uint64_t now = load.completed();
      if (!done) windows.push_back(static_cast<double>(now - last) * 10.0);
      last = now;
    }
  });
  const Clock::time_point start = Clock::now();
  phase();
  const double seconds = msBetween(start, Clock::now()) / 1000.0;
  done = true;
  sampler.join();
  return seconds;
}

int usage(const char* why) {
  std::cerr << "swap_bench: " << why
            << "\nusage: swap_bench --port N --key KEY --plugins DIR --v1 FILE --v2 FILE "
               "[--connections 16] [--steady-seconds 5] [--swaps 50] [--reload-call]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
      return argv[++i];
    };
    try {
      if (a == "--port")
        o.port = std::stoi(value());
      else if (a == "--key")
        o.key = value();
      else if (a == "--plugins")
        o.plugins = value();
      else if (a == "--v1")
        o.v1 = value();
      else if (a == "--v2")
        o.v2 = value();
      else if (a == "--connections")
        o.connections = std::stoi(value());
      else if (a == "--steady-seconds")
        o.steady_seconds = std::stod(value());
      else if (a == "--swaps")
        o.swaps = std::stoi(value());
      else if (a == "--reload-call")
        o.reload_call = true;
      else
        return usage(("unknown argument " + a).c_str());
    } catch (const std::exception& e) {
      return usage(e.what());
    }
  }
  if (o.port <= 0 || o.key.empty() || o.plugins.empty() || o.v1.empty() || o.v2.empty())
    return usage("--port, --key, --plugins, --v1 and --v2 are required");
  if (o.connections < 1 || o.swaps < 1 || o.steady_seconds <= 0)
    return usage("--connections, --swaps and --steady-seconds must be positive");

  Load load(o);
  std::this_thread::sleep_for(std::chrono::seconds(1));  // warm-up: connections open, caches hot

  std::vector<double> steady_windows;
  const std::uint64_t steady_before = load.completed();
  const double steady_s = sampled(load, steady_windows, [&] {
    std::this_thread::sleep_for(std::chrono::duration<double>(o.steady_seconds));
  });
  const double steady_rps = static_cast<double>(load.completed() - steady_before) / steady_s;

  std::vector<double> swap_windows, latency_ms, reload_ms;
  int version = 1;
  std::string error;
  const std::uint64_t swaps_before = load.completed();
  Poco::Net::HTTPClientSession admin("127.0.0.1", static_cast<Poco::UInt16>(o.port));
  admin.setTimeout(Poco::Timespan(30, 0));
  const double swaps_s = sampled(load, swap_windows, [&] {
    for (int i = 0; i < o.swaps && error.empty(); ++i) {
      version = version == 1 ? 2 : 1;
      const fs::path tmp = o.plugins / "swap.so.tmp";
      fs::copy_file(version == 1 ? o.v1 : o.v2, tmp, fs::copy_options::overwrite_existing);
      load.mark();
      const Clock::time_point renamed = Clock::now();
      fs::rename(tmp, o.plugins / "swap.so");
      if (o.reload_call) {
        try {
          int status = 0;
          exchange(admin, "/v1/plugins/reload", o.key, "{}", status);
          if (status != 200) error = "POST /v1/plugins/reload answered " + std::to_string(status);
        } catch (const std::exception& e) {
          error = std::string("POST /v1/plugins/reload failed: ") + e.what();
          admin.reset();
        }
        reload_ms.push_back(msBetween(renamed, Clock::now()));
      }
      const auto deadline = renamed + std::chrono::seconds(10);
      std::optional<Clock::time_point> first;
      while (!(first = load.firstSinceMark(version)) && Clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      if (!first)
        error = "swap " + std::to_string(i + 1) + " not answered within 10 s";
      else
        latency_ms.push_back(msBetween(renamed, *first));
    }
  });
  const double swaps_rps = static_cast<double>(load.completed() - swaps_before) / swaps_s;
  const std::uint64_t failed = load.failed();

  auto windowLine = [](const std::vector<double>& w) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "100 ms windows: min %.0f, p50 %.0f req/s",
                  w.empty() ? 0.0 : *std::min_element(w.begin(), w.end()), percentile(w, 50));
    return std::string(buf);
  };
  std::printf("trigger:                 %s\n",
              o.reload_call ? "POST /v1/plugins/reload" : "directory watcher");
  std::printf("connections:             %d\n", o.connections);
  std::printf("steady:                  %.0f req/s over %.1f s (%s)\n", steady_rps, steady_s,
              windowLine(steady_windows).c_str());
  std::printf("during %3zu swaps:        %.0f req/s over %.1f s (%s), %.1f%% of steady\n",
              latency_ms.size(), swaps_rps, swaps_s, windowLine(swap_windows).c_str(),
              100.0 * swaps_rps / steady_rps);
  std::printf(
      "swap latency:            p50 %.1f ms, p99 %.1f ms, max %.1f ms (rename -> first answer of "
      "the new build)\n",
      percentile(latency_ms, 50), percentile(latency_ms, 99),
      latency_ms.empty() ? 0.0 : *std::max_element(latency_ms.begin(), latency_ms.end()));
  if (o.reload_call)
    std::printf("reload call:             p50 %.1f ms, p99 %.1f ms\n", percentile(reload_ms, 50),
                percentile(reload_ms, 99));
  std::printf("failed requests:         %llu\n", static_cast<unsigned long long>(failed));
  if (!error.empty()) {
    std::fprintf(stderr, "swap_bench: %s\n", error.c_str());
    return 1;
  }
  return failed == 0 ? 0 : 1;
}
