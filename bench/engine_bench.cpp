// SPDX-License-Identifier: Apache-2.0
// engine_bench.cpp: the engine micro-benchmarks of issue 6 (Google Benchmark). The real
// core_blocks.so is loaded through PluginManager and every block is called through the C ABI,
// exactly as the host does; no HTTP, no storage.
//
//   BM_RunHello        api_trigger → return_value: the fixed cost of a run
//   BM_RunChain40      api_trigger → 40 × set_state → return_value; counter ns_per_block
//   BM_TemplateRender  "@{result.inputs.name}" (a 3-segment path) rendered against an environment
//   BM_WalkPath3       the path walk alone
//   BM_ValidateHello / BM_ValidateChain40   parse + validate an agent against the catalogue
//   BM_CompileChain40  what a deploy costs: validate + compile the 40-block agent
//   BM_NewJobId        a job id (getrandom-batched UUID v4); BM_NewJobIdMt19937 the generator it
//                      replaced (issue 11), kept here only as the yardstick
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>

#include "blueprint/blueprint_validator.hpp"
#include "blueprint/template.hpp"
#include "engine/compiled_blueprint.hpp"
#include "engine/runner.hpp"
#include "runs/job_id.hpp"
#include "plugins/plugin_manager.hpp"

namespace blueprint::host {
namespace {

namespace fs = std::filesystem;

Json readJson(const fs::path& file) {
  std::ifstream in(file);
  if (!in) throw std::runtime_error("cannot read " + file.string());
  return Json::parse(in);
}

/// The catalogue of core_blocks.so, loaded once through a PluginManager over a temp directory.
class Plugins {
 public:
  static Plugins& instance() {
    static Plugins plugins;
    return plugins;
  }
  std::shared_ptr<const Catalog> catalog() const { return catalog_; }

  ~Plugins() {
    catalog_.reset();
    manager_.reset();
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

 private:
  Plugins() {
    std::string pattern = (fs::temp_directory_path() / "bp_engine_bench_XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    root_ = pattern;
    fs::create_directories(root_ / "plugins");
    fs::copy_file(fs::path(BLUEPRINT_PLUGIN_DIR) / "core_blocks.so",
                  root_ / "plugins/core_blocks.so");
    manager_ = std::make_unique<PluginManager>(root_ / "plugins", root_ / "cache");
    ReloadReport report = manager_->reload();
    if (!report.rejected.empty()) throw std::runtime_error(report.toJson().dump());
    catalog_ = manager_->current();
  }

  fs::path root_;
  std::unique_ptr<PluginManager> manager_;
  std::shared_ptr<const Catalog> catalog_;
};

class NullObserver final : public RunObserver {
 public:
  void onDelta(std::string_view) override {}
};

const Json& helloAgent() {
  static const Json agent = readJson(fs::path(BLUEPRINT_SOURCE_DIR) / "examples/agents/hello.json");
  return agent;
}

const Json& chainAgent() {
  static const Json agent = readJson(fs::path(BLUEPRINT_SOURCE_DIR) / "bench/agents/chain40.json");
  return agent;
}

/// Runs `blueprint_id` of `agent` once per iteration, as the trigger handler does (its trace left
/// compact, RunOptions::defer_trace); `trace_json` builds the trace's JSON as the job worker and
/// `blueprint run --trace` do.
void runBlueprint(benchmark::State& state, const char* agent_id, const Json& agent,
                  const char* blueprint_id, bool trace_json = false) {
  auto compiled = CompiledAgent::compile(agent_id, 1, agent, Plugins::instance().catalog());
  const CompiledBlueprint* blueprint = compiled->find(blueprint_id);
  if (blueprint == nullptr) {
    state.SkipWithError("blueprint not found");
    return;
  }
  const Json payload = Json::parse(R"({"inputs":{"name":"Ada"}})");
  RunOptions options;
  options.defer_trace = !trace_json;
  NullObserver observer;
  for (auto _ : state) {
    RunControl control;
    RunResult result = Runner::run(*compiled, *blueprint, payload, options, observer, control);
    if (result.status != RunResult::Status::Completed) {
      state.SkipWithError(result.error.c_str());
      return;
    }
    benchmark::DoNotOptimize(result);
  }
  const double blocks = static_cast<double>(blueprint->blocks.size());
  state.counters["blocks"] = blocks;
  state.counters["ns_per_block"] =
      benchmark::Counter(blocks * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_RunHello(benchmark::State& state) { runBlueprint(state, "hello", helloAgent(), "hello"); }
BENCHMARK(BM_RunHello);

void BM_RunChain40(benchmark::State& state) {
  runBlueprint(state, "chain40", chainAgent(), "chain");
}
BENCHMARK(BM_RunChain40);

void BM_RunChain40TraceJson(benchmark::State& state) {
  runBlueprint(state, "chain40", chainAgent(), "chain", true);
}
BENCHMARK(BM_RunChain40TraceJson);

/// The run environment as far as a `result.…` path needs it (Execution::lookup's shape:
/// the head picks a root, the rest is walked, the value is returned by copy).
class ResultEnv final : public TemplateEnv {
 public:
  explicit ResultEnv(Json result) : result_(std::move(result)) {}
  Json lookup(const Path& path) const override {
    if (path.segments.empty() || path.segments[0] != "result") return nullptr;
    const Json* v = walkPath(result_, path.segments, 1);
    return v != nullptr ? *v : Json(nullptr);
  }

 private:
  Json result_;
};

void BM_TemplateRender(benchmark::State& state) {
  const ResultEnv env(Json::parse(R"({"inputs":{"name":"Ada","user_id":"7"},"other":1})"));
  const Template t = Template::compile(Json("Hello, @{result.inputs.name}!"), Template::Mode::Text);
  for (auto _ : state) benchmark::DoNotOptimize(t.render(env));
}
BENCHMARK(BM_TemplateRender);

void BM_TemplateRenderWhole(benchmark::State& state) {
  const ResultEnv env(Json::parse(R"({"inputs":{"name":"Ada","user_id":"7"},"other":1})"));
  const Template t = Template::compile(Json("@{result.inputs.name}"), Template::Mode::Text);
  for (auto _ : state) benchmark::DoNotOptimize(t.render(env));
}
BENCHMARK(BM_TemplateRenderWhole);

void BM_WalkPath3(benchmark::State& state) {
  const Json root = Json::parse(R"({"result":{"inputs":{"name":"Ada","user_id":"7"},"other":1}})");
  const Path path = parsePath("result.inputs.name");
  for (auto _ : state) benchmark::DoNotOptimize(walkPath(root, path.segments));
}
BENCHMARK(BM_WalkPath3);

void validate(benchmark::State& state, const char* agent_id, const Json& agent) {
  const auto catalog = Plugins::instance().catalog();
  for (auto _ : state) benchmark::DoNotOptimize(parseAndValidateAgent(agent, agent_id, *catalog));
}

void BM_ValidateHello(benchmark::State& state) { validate(state, "hello", helloAgent()); }
BENCHMARK(BM_ValidateHello);

void BM_ValidateChain40(benchmark::State& state) { validate(state, "chain40", chainAgent()); }
BENCHMARK(BM_ValidateChain40);

void BM_CompileChain40(benchmark::State& state) {
  const auto catalog = Plugins::instance().catalog();
  for (auto _ : state)
    benchmark::DoNotOptimize(CompiledAgent::compile("chain40", 1, chainAgent(), catalog));
}
BENCHMARK(BM_CompileChain40);

void BM_NewJobId(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(newJobId());
}
BENCHMARK(BM_NewJobId);

/// The job id generator before issue 11: predictable once 312 ids are seen.
std::string mt19937JobId() {
  thread_local std::mt19937_64 rng([] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
    return std::mt19937_64(seq);
  }());
  std::uint64_t hi = rng(), lo = rng();
  hi = (hi & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;
  lo = (lo & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;
  static const char kHex[] = "0123456789abcdef";
  std::string id(36, '-');
  std::size_t at = 0;
  auto nibbles = [&](std::uint64_t bits, int count) {
    for (int shift = (count - 1) * 4; shift >= 0; shift -= 4) {
      if (at == 8 || at == 13 || at == 18 || at == 23) ++at;
      id[at++] = kHex[(bits >> shift) & 0xF];
    }
  };
  nibbles(hi, 16);
  nibbles(lo, 16);
  return id;
}

void BM_NewJobIdMt19937(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(mt19937JobId());
}
BENCHMARK(BM_NewJobIdMt19937);

}  // namespace
}  // namespace blueprint::host

BENCHMARK_MAIN();
