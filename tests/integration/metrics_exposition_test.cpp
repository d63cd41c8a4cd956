// SPDX-License-Identifier: Apache-2.0
// GET /metrics (issue 15, docs/metrics.md): the real blueprint-host's exposition is parsed by a
// strict parser of the Prometheus text format (HELP and TYPE before each family's samples, one
// TYPE per family, histogram buckets in ascending `le` order with non-decreasing counts ending
// in +Inf, which equals `_count`), the histograms count the requests, runs and block calls the
// test made, the agent label is capped, and `promtool check metrics` passes when Debian's
// prometheus package is installed.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support/api_helpers.hpp"
#include "support/http_client.hpp"
#include "support/test_host.hpp"

namespace blueprint::testing {
namespace {

namespace fs = std::filesystem;

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct Exposition {
  std::map<std::string, std::string> types;  ///< family → counter, gauge, histogram, …
  std::vector<Sample> samples;
};

/// The family a sample belongs to: a histogram's `_bucket`, `_sum` and `_count` series belong
/// to the histogram.
std::string familyOf(const std::string& name, const std::map<std::string, std::string>& types) {
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    const std::string s = suffix;
    if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) {
      const std::string base = name.substr(0, name.size() - s.size());
      auto it = types.find(base);
      if (it != types.end() && it->second == "histogram") return base;
    }
  }
  return name;
}

/// Parses the text format strictly; every violation is a test failure naming the line.
Exposition parseStrict(const std::string& text) {
  Exposition out;
  std::set<std::string> helped, finished;
  std::string current;
  const std::regex help_line(R"(# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) \S.*)");
  const std::regex type_line(
      R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped))");
  const std::regex sample_line(
      R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*)\})? (\S+))");
  const std::regex label(R"(([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\.)*)\")");
  EXPECT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n') << "the exposition must end with a newline";
  std::istringstream in(text);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    std::smatch m;
    if (std::regex_match(line, m, help_line)) {
      EXPECT_TRUE(helped.insert(m[1]).second) << "second HELP, line " << number << ": " << line;
      continue;
    }
    if (std::regex_match(line, m, type_line)) {
      const std::string family = m[1];
      EXPECT_TRUE(helped.count(family)) << "TYPE before HELP, line " << number << ": " << line;
      EXPECT_EQ(out.types.count(family), 0u) << "second TYPE, line " << number << ": " << line;
      EXPECT_EQ(finished.count(family), 0u) << "family split, line " << number;
      if (!current.empty() && current != family) finished.insert(current);
      out.types[family] = m[2];
      current = family;
      continue;
    }
    if (!std::regex_match(line, m, sample_line)) {
      ADD_FAILURE() << "not a sample, line " << number << ": " << line;
      continue;
    }
    Sample s;
    s.name = m[1];
    const std::string labels = m[3];
    for (auto it = std::sregex_iterator(labels.begin(), labels.end(), label);
         it != std::sregex_iterator(); ++it)
      EXPECT_TRUE(s.labels.emplace((*it)[1], (*it)[2]).second) << "repeated label, line " << number;
    const std::string value = m[4];
    if (value == "+Inf")
      s.value = std::numeric_limits<double>::infinity();
    else {
      std::size_t used = 0;
      s.value = std::stod(value, &used);
      EXPECT_EQ(used, value.size()) << "line " << number << ": " << line;
    }
    const std::string family = familyOf(s.name, out.types);
    EXPECT_EQ(family, current) << "sample outside its family's block, line " << number << ": "
                               << line;
    out.samples.push_back(std::move(s));
  }
  return out;
}

/// A series' identity without `le`.
std::string seriesKey(const Sample& s) {
  std::string key = s.name.substr(0, s.name.rfind('_'));
  for (const auto& [k, v] : s.labels)
    if (k != "le") key += "|" + k + "=" + v;
  return key;
}

/// Checks every histogram: ascending le, non-decreasing counts, +Inf last and equal to _count.
void checkHistograms(const Exposition& e) {
  std::map<std::string, std::vector<std::pair<double, double>>> buckets;
  std::map<std::string, double> counts;
  std::set<std::string> sums;
  for (const Sample& s : e.samples) {
    const std::string family = familyOf(s.name, e.types);
    if (e.types.at(family) != "histogram") continue;
    const std::string suffix = s.name.substr(family.size());
    if (suffix == "_bucket") {
      ASSERT_TRUE(s.labels.count("le")) << s.name;
      const std::string le = s.labels.at("le");
      buckets[seriesKey(s)].emplace_back(
          le == "+Inf" ? std::numeric_limits<double>::infinity() : std::stod(le), s.value);
    } else if (suffix == "_count") {
      counts[seriesKey(Sample{family + "_count", s.labels, 0})] = s.value;
    } else if (suffix == "_sum") {
      sums.insert(seriesKey(Sample{family + "_sum", s.labels, 0}));
      EXPECT_GE(s.value, 0) << s.name;
    }
  }
  EXPECT_FALSE(buckets.empty());
  for (const auto& [series, list] : buckets) {
    ASSERT_FALSE(list.empty());
    for (std::size_t i = 1; i < list.size(); ++i) {
      EXPECT_LT(list[i - 1].first, list[i].first) << series << ": le not ascending";
      EXPECT_LE(list[i - 1].second, list[i].second) << series << ": bucket counts decrease";
    }
    EXPECT_TRUE(std::isinf(list.back().first)) << series << ": no +Inf bucket last";
    ASSERT_TRUE(counts.count(series)) << series << ": no _count";
    EXPECT_EQ(list.back().second, counts.at(series)) << series << ": +Inf != _count";
    EXPECT_TRUE(sums.count(series)) << series << ": no _sum";
  }
}

/// The value of `name` with exactly `labels`, or nullopt.
std::optional<double> valueOf(const Exposition& e, const std::string& name,
                              const std::map<std::string, std::string>& labels) {
  for (const Sample& s : e.samples)
    if (s.name == name && s.labels == labels) return s.value;
  return std::nullopt;
}

Json helloAgent(const std::string& name) {
  return agent(name,
               {blueprint("hello", {block("trigger", "api_trigger", {}, {{"trigger", "reply"}}),
                                    block("reply", "return_value", {{"value", "hi"}})})});
}

constexpr const char* kTriggerRoute = "/v1/agents/:agent_id/blueprints/:blueprint_id";

TEST(Metrics, HistogramsCountTheRequestsMadeAndTheExpositionIsStrict) {
  TestHostOptions options;
  options.agents["alpha"] = helloAgent("Alpha");
  options.agents["beta"] = helloAgent("Beta");
  options.agents["gamma"] = helloAgent("Gamma");
  options.config = {{"metrics_max_agents", 2}};
  TestHost host(options);
  ASSERT_TRUE(host.start());
  HttpClient admin(host.port(), host.adminKey());

  for (int i = 0; i < 7; ++i)
    ASSERT_EQ(runSync(admin, "alpha", "hello", Json::object()).status, 200);
  for (int i = 0; i < 2; ++i)
    ASSERT_EQ(runSync(admin, "beta", "hello", Json::object()).status, 200);
  for (int i = 0; i < 4; ++i)
    ASSERT_EQ(runSync(admin, "gamma", "hello", Json::object()).status, 200);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(httpRequest(host.port(), "GET", "/healthz").status, 200);
  HttpResponse job =
      admin.postJson(triggerPath("alpha", "hello") + "/jobs", {{"inputs", Json::object()}});
  ASSERT_EQ(job.status, 202) << job.body;
  EXPECT_EQ(waitForJob(admin, job.json()["job_id"])["status"], "completed");

  const HttpResponse metrics = httpRequest(host.port(), "GET", "/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.header("Content-Type"), "text/plain; version=0.0.4");
  const Exposition e = parseStrict(metrics.body);
  checkHistograms(e);

  EXPECT_EQ(e.types.at("blueprint_http_request_duration_seconds"), "histogram");
  EXPECT_EQ(e.types.at("blueprint_run_duration_seconds"), "histogram");
  EXPECT_EQ(e.types.at("blueprint_block_duration_seconds"), "histogram");
  EXPECT_EQ(valueOf(e, "blueprint_http_request_duration_seconds_count",
                    {{"method", "POST"}, {"route", kTriggerRoute}}),
            13.0);
  EXPECT_EQ(valueOf(e, "blueprint_http_request_duration_seconds_count",
                    {{"method", "GET"}, {"route", "/healthz"}}),
            3.0);
  EXPECT_EQ(valueOf(e, "blueprint_http_request_duration_seconds_count",
                    {{"method", "POST"}, {"route", kTriggerRoute + std::string("/jobs")}}),
            1.0);
  // metrics_max_agents = 2: the first two agents run get series, the third counts as other.
  EXPECT_EQ(valueOf(e, "blueprint_run_duration_seconds_count", {{"agent", "alpha"}}), 8.0);
  EXPECT_EQ(valueOf(e, "blueprint_run_duration_seconds_count", {{"agent", "beta"}}), 2.0);
  EXPECT_EQ(valueOf(e, "blueprint_run_duration_seconds_count", {{"agent", "gamma"}}), std::nullopt);
  EXPECT_EQ(valueOf(e, "blueprint_run_duration_seconds_count", {{"agent", "other"}}), 4.0);
  EXPECT_EQ(valueOf(e, "blueprint_block_duration_seconds_count", {{"block_type", "api_trigger"}}),
            14.0);
  EXPECT_EQ(valueOf(e, "blueprint_block_duration_seconds_count", {{"block_type", "return_value"}}),
            14.0);

  for (const char* process : {"process_resident_memory_bytes", "process_open_fds",
                              "process_threads", "process_start_time_seconds"}) {
    const std::optional<double> v = valueOf(e, process, {});
    ASSERT_TRUE(v.has_value()) << process;
    EXPECT_GT(*v, 0) << process;
  }
  EXPECT_GT(*valueOf(e, "process_resident_memory_bytes", {}), 1e6);
  EXPECT_GT(*valueOf(e, "process_start_time_seconds", {}), 1.6e9);
  // The queued count is refreshed in the background (every 250 ms): the job just queued and
  // run may still be counted.
  ASSERT_TRUE(valueOf(e, "blueprint_jobs_queued", {}).has_value());
  EXPECT_LE(*valueOf(e, "blueprint_jobs_queued", {}), 1.0);
  EXPECT_EQ(valueOf(e, "blueprint_storage_write_failures_total", {}), 0.0);

  if (!fs::exists("/usr/bin/promtool")) {
    std::cout << "[ INFO     ] promtool not installed (Debian package prometheus): the strict "
                 "parser above is the check\n";
    return;
  }
  const fs::path file = host.dir() / "metrics.txt";
  std::ofstream(file) << metrics.body;
  const std::string command = "/usr/bin/promtool check metrics < " + file.string() + " > " +
                              (host.dir() / "promtool.txt").string() + " 2>&1";
  const int rc = std::system(command.c_str());
  std::ifstream report(host.dir() / "promtool.txt");
  const std::string said((std::istreambuf_iterator<char>(report)),
                         std::istreambuf_iterator<char>());
  EXPECT_EQ(rc, 0) << said;
}

}  // namespace
}  // namespace blueprint::testing
