// SPDX-License-Identifier: Apache-2.0
// storage_contract_test.cpp: the Storage contract (storage.hpp), run against every backend.
// Each backend is reached only through openStorage(url), so a new backend joins by adding its
// URL to urlFor() and its name to the INSTANTIATE_TEST_SUITE_P list at the bottom. PostgreSQL runs
// on a real server (tests/support/postgres_cluster), each test in a fresh database of its own.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "storage/storage.hpp"
#include "storage/storage_url.hpp"
#include "support/postgres_cluster.hpp"

namespace blueprint::host {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr std::int64_t kHourMs = 60LL * 60 * 1000;

/// A fresh directory under the system temp dir, removed (with everything in it) on destruction.
class TempDir {
 public:
  TempDir() {
    std::random_device device;
    std::mt19937_64 engine((static_cast<std::uint64_t>(device()) << 32) ^ device());
    path_ = fs::temp_directory_path() / ("bp-storage-" + std::to_string(engine()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

/// The URL each backend's contract runs against. The SQLite file sits in a directory that does
/// not exist yet, so every test also checks that openStorage creates it. A PostgreSQL test gets
/// an empty database of its own on the shared test server, kept alive by `database`.
std::string urlFor(const std::string& backend, const fs::path& dir,
                   std::unique_ptr<testing::PostgresCluster::Database>& database) {
  if (backend == "memory") return "memory:";
  if (backend == "sqlite") return "sqlite:" + (dir / "nested" / "blueprint.db").string();
  if (backend == "postgresql") {
    database = testing::sharedPostgresCluster().createDatabase();
    return database->url();
  }
  throw std::invalid_argument("no test URL for backend '" + backend + "'");
}

/// A queued job of agent `agent_id`, created at `created_at_ms` by API key "key-1".
JobRecord makeJob(const std::string& job_id, std::int64_t created_at_ms,
                  const std::string& agent_id = "agent-a") {
  JobRecord job;
  job.job_id = job_id;
  job.agent_id = agent_id;
  job.blueprint_id = "main";
  job.agent_version = 1;
  job.status = job_status::kQueued;
  job.payload = Json{{"inputs", {{"question", "what is " + job_id + "?"}}}};
  job.created_at_ms = created_at_ms;
  job.created_by = "key-1";
  return job;
}

/// A job as a worker hands it to finishJob.
JobRecord finished(JobRecord job, const std::string& status, std::optional<std::string> artifact,
                   std::optional<std::string> error, std::int64_t finished_at_ms) {
  job.status = status;
  job.artifact = std::move(artifact);
  job.error = std::move(error);
  job.finished_at_ms = finished_at_ms;
  job.trace = Json::array({{{"block", "b1"}, {"type", "llm"}, {"end_state", status}}});
  return job;
}

void expectSameJob(const JobRecord& actual, const JobRecord& expected) {
  SCOPED_TRACE("job " + expected.job_id);
  EXPECT_EQ(actual.job_id, expected.job_id);
  EXPECT_EQ(actual.agent_id, expected.agent_id);
  EXPECT_EQ(actual.blueprint_id, expected.blueprint_id);
  EXPECT_EQ(actual.agent_version, expected.agent_version);
  EXPECT_EQ(actual.status, expected.status);
  EXPECT_EQ(actual.payload, expected.payload);
  EXPECT_EQ(actual.artifact, expected.artifact);
  EXPECT_EQ(actual.error, expected.error);
  EXPECT_EQ(actual.created_at_ms, expected.created_at_ms);
  EXPECT_EQ(actual.started_at_ms, expected.started_at_ms);
  EXPECT_EQ(actual.finished_at_ms, expected.finished_at_ms);
  EXPECT_EQ(actual.attempts, expected.attempts);
  EXPECT_EQ(actual.trace, expected.trace);
  EXPECT_EQ(actual.lease_token, expected.lease_token);
  EXPECT_EQ(actual.lease_until_ms, expected.lease_until_ms);
  EXPECT_EQ(actual.cancel_requested, expected.cancel_requested);
  EXPECT_EQ(actual.created_by, expected.created_by);
}

std::vector<std::string> idsOf(const std::vector<JobRecord>& jobs) {
  std::vector<std::string> ids;
  for (const JobRecord& job : jobs) ids.push_back(job.job_id);
  return ids;
}

/// What concurrent claimers got: `jobs` claims in all, each job once, each with its own token,
/// every one a first attempt.
void expectEveryJobClaimedOnce(const std::vector<std::vector<JobRecord>>& claimed, int jobs) {
  std::set<std::string> ids;
  std::set<std::int64_t> tokens;
  std::size_t claims = 0;
  for (const std::vector<JobRecord>& list : claimed) {
    for (const JobRecord& job : list) {
      ++claims;
      ids.insert(job.job_id);
      tokens.insert(job.lease_token);
      EXPECT_EQ(job.attempts, 1) << job.job_id;
    }
  }
  EXPECT_EQ(claims, static_cast<std::size_t>(jobs));
  EXPECT_EQ(ids.size(), claims) << "a job was claimed more than once";
  EXPECT_EQ(tokens.size(), claims) << "a lease token was handed out twice";
}

class StorageContractTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    // A backend that cannot run here (no PostgreSQL server programs) fails with the reason.
    try {
      url_ = urlFor(GetParam(), dir_.path(), database_);
    } catch (const std::exception& e) {
      FAIL() << e.what();
    }
    storage_ = openStorage(url_);
  }

  /// Closes the storage and opens the same URL again.
  void reopen() {
    storage_.reset();
    storage_ = openStorage(url_);
  }

  /// Whether the backend keeps data across reopen (every backend but memory).
  bool persistent() const { return GetParam() != "memory"; }

  Storage& store() { return *storage_; }

  // Declared first so they are removed last, after the storage has closed its file or
  // connections.
  TempDir dir_;
  std::unique_ptr<testing::PostgresCluster::Database> database_;
  std::string url_;
  std::unique_ptr<Storage> storage_;
};

// ---- open ----

TEST_P(StorageContractTest, ReportsItsBackendName) { EXPECT_EQ(store().backendName(), GetParam()); }

// ---- agents ----

TEST_P(StorageContractTest, SavesReplacesListsAndDeletesDrafts) {
  EXPECT_FALSE(store().getAgent("agent-a"));
  EXPECT_TRUE(store().listAgents().empty());

  const std::int64_t before = nowMs();
  const Json draft_a = {{"name", "A"}, {"blueprints", Json::array({{{"id", "main"}}})}};
  const Json draft_b = {{"name", "B"}, {"blueprints", Json::array()}};
  store().saveDraft("agent-b", draft_b);
  store().saveDraft("agent-a", draft_a);

  std::optional<AgentRecord> agent = store().getAgent("agent-a");
  ASSERT_TRUE(agent);
  EXPECT_EQ(agent->agent_id, "agent-a");
  EXPECT_EQ(agent->draft, draft_a);
  EXPECT_FALSE(agent->deployed_version);
  EXPECT_EQ(agent->latest_version, 0);
  EXPECT_GE(agent->updated_at_ms, before);

  // Replacing the draft keeps the versions and the deployed state.
  ASSERT_EQ(store().deployNewVersion("agent-a", draft_a).version, 1);
  const Json draft_a2 = {{"name", "A2"}, {"blueprints", Json::array()}};
  store().saveDraft("agent-a", draft_a2);
  agent = store().getAgent("agent-a");
  ASSERT_TRUE(agent);
  EXPECT_EQ(agent->draft, draft_a2);
  EXPECT_EQ(agent->deployed_version, 1);
  EXPECT_EQ(agent->latest_version, 1);
  ASSERT_TRUE(store().getVersion("agent-a", 1));
  EXPECT_EQ(store().getVersion("agent-a", 1)->definition, draft_a);

  std::vector<AgentRecord> agents = store().listAgents();
  ASSERT_EQ(agents.size(), 2u);
  std::sort(agents.begin(), agents.end(),
            [](const AgentRecord& x, const AgentRecord& y) { return x.agent_id < y.agent_id; });
  EXPECT_EQ(agents[0].agent_id, "agent-a");
  EXPECT_EQ(agents[0].draft, draft_a2);
  EXPECT_EQ(agents[1].agent_id, "agent-b");
  EXPECT_EQ(agents[1].draft, draft_b);

  EXPECT_TRUE(store().deleteAgent("agent-a"));
  EXPECT_FALSE(store().deleteAgent("agent-a"));
  EXPECT_FALSE(store().getAgent("agent-a"));
  EXPECT_FALSE(store().getVersion("agent-a", 1));
  ASSERT_EQ(store().listAgents().size(), 1u);
  EXPECT_EQ(store().listAgents()[0].agent_id, "agent-b");
}

TEST_P(StorageContractTest, DeploysNewVersionsRollsBackAndUndeploys) {
  store().saveDraft("agent-a", {{"name", "A"}});
  const std::int64_t before = nowMs();
  for (std::int64_t expected = 1; expected <= 3; ++expected) {
    const Json definition = {{"name", "A"}, {"revision", expected}};
    AgentVersion version = store().deployNewVersion("agent-a", definition);
    EXPECT_EQ(version.agent_id, "agent-a");
    EXPECT_EQ(version.version, expected);
    EXPECT_EQ(version.definition, definition);
    EXPECT_GE(version.created_at_ms, before);
  }
  std::optional<AgentRecord> agent = store().getAgent("agent-a");
  ASSERT_TRUE(agent);
  EXPECT_EQ(agent->deployed_version, 3);
  EXPECT_EQ(agent->latest_version, 3);

  std::optional<AgentVersion> second = store().getVersion("agent-a", 2);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->version, 2);
  EXPECT_EQ(second->definition, (Json{{"name", "A"}, {"revision", 2}}));

  // Rollback to an existing version.
  EXPECT_TRUE(store().deployExistingVersion("agent-a", 1));
  agent = store().getAgent("agent-a");
  EXPECT_EQ(agent->deployed_version, 1);
  EXPECT_EQ(agent->latest_version, 3);
  EXPECT_FALSE(store().deployExistingVersion("agent-a", 7));
  EXPECT_FALSE(store().deployExistingVersion("ghost", 1));
  EXPECT_EQ(store().getAgent("agent-a")->deployed_version, 1);

  // A new deploy after a rollback still takes latest + 1.
  EXPECT_EQ(store().deployNewVersion("agent-a", {{"name", "A"}}).version, 4);

  EXPECT_TRUE(store().undeploy("agent-a"));
  agent = store().getAgent("agent-a");
  EXPECT_FALSE(agent->deployed_version);
  EXPECT_EQ(agent->latest_version, 4);
  EXPECT_FALSE(store().undeploy("ghost"));

  EXPECT_FALSE(store().getVersion("agent-a", 99));
  EXPECT_FALSE(store().getVersion("ghost", 1));
  EXPECT_THROW(store().deployNewVersion("ghost", {{"name", "G"}}), StorageError);
  EXPECT_FALSE(store().getAgent("ghost"));
}

TEST_P(StorageContractTest, DeleteAgentRemovesVersionsAndKvButKeepsJobs) {
  store().saveDraft("agent-a", {{"name", "A"}});
  store().deployNewVersion("agent-a", {{"name", "A"}});
  store().kvSet("agent-a", "counter", 1);
  store().kvSet("agent-b", "counter", 2);
  store().createJob(makeJob("job-1", nowMs()), "");

  EXPECT_TRUE(store().deleteAgent("agent-a"));
  EXPECT_FALSE(store().getVersion("agent-a", 1));
  EXPECT_FALSE(store().kvGet("agent-a", "counter"));
  EXPECT_EQ(store().kvGet("agent-b", "counter"), Json(2));
  ASSERT_TRUE(store().getJob("job-1"));
  EXPECT_EQ(store().getJob("job-1")->agent_id, "agent-a");
}

// ---- jobs: create, idempotency, round trip ----

TEST_P(StorageContractTest, CreateJobHonoursIdempotencyKeysPerCreatorFor24Hours) {
  const std::int64_t now = nowMs();
  JobRecord first = makeJob("job-1", now);
  first.created_by = "alice";
  auto [created, is_new] = store().createJob(first, "key-x");
  EXPECT_TRUE(is_new);
  expectSameJob(created, first);

  // Same creator and key: the first job comes back and nothing is inserted.
  JobRecord repeat = makeJob("job-2", now);
  repeat.created_by = "alice";
  auto [same, same_is_new] = store().createJob(repeat, "key-x");
  EXPECT_FALSE(same_is_new);
  expectSameJob(same, first);
  EXPECT_FALSE(store().getJob("job-2"));

  // The key is scoped to its creator.
  JobRecord other = makeJob("job-3", now);
  other.created_by = "bob";
  auto [bobs, bobs_is_new] = store().createJob(other, "key-x");
  EXPECT_TRUE(bobs_is_new);
  EXPECT_EQ(bobs.job_id, "job-3");

  // No key: never deduplicated.
  EXPECT_TRUE(store().createJob(makeJob("job-4", now), "").second);
  EXPECT_TRUE(store().createJob(makeJob("job-5", now), "").second);

  // A key older than 24 h no longer matches; the new job takes it over.
  JobRecord old = makeJob("job-old", now - 25 * kHourMs);
  old.created_by = "alice";
  ASSERT_TRUE(store().createJob(old, "key-y").second);
  JobRecord fresh = makeJob("job-fresh", now);
  fresh.created_by = "alice";
  auto [fresh_job, fresh_is_new] = store().createJob(fresh, "key-y");
  EXPECT_TRUE(fresh_is_new);
  EXPECT_EQ(fresh_job.job_id, "job-fresh");
  JobRecord again = makeJob("job-again", now);
  again.created_by = "alice";
  auto [again_job, again_is_new] = store().createJob(again, "key-y");
  EXPECT_FALSE(again_is_new);
  EXPECT_EQ(again_job.job_id, "job-fresh");
  EXPECT_TRUE(store().getJob("job-old"));  // the old job itself stays

  // 23 h is still inside the window.
  JobRecord recent = makeJob("job-recent", now - 23 * kHourMs);
  recent.created_by = "carol";
  ASSERT_TRUE(store().createJob(recent, "key-z").second);
  JobRecord late_retry = makeJob("job-late-retry", now);
  late_retry.created_by = "carol";
  EXPECT_EQ(store().createJob(late_retry, "key-z").first.job_id, "job-recent");

  // A duplicate job id is a storage error, not a silent overwrite.
  EXPECT_THROW(store().createJob(makeJob("job-4", now), ""), StorageError);
}

TEST_P(StorageContractTest, ConcurrentCreatesAreEachStoredOnceAndAnsweredAlone) {
  // Many submitters at once (SQLite commits them in shared batches): every new job is stored,
  // every caller gets its own job back, a key repeated across threads yields one job, and a
  // bad job (a duplicate id) fails alone without taking its batch down.
  const std::int64_t now = nowMs();
  store().createJob(makeJob("taken", now), "");
  constexpr int kThreads = 8, kPerThread = 40;
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0}, keyed_new{0}, duplicate_errors{0};
  std::vector<std::string> keyed_ids(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string id = "c-" + std::to_string(t) + "-" + std::to_string(i);
        auto [job, is_new] = store().createJob(makeJob(id, now), "");
        if (!is_new || job.job_id != id) ++wrong;
        if (i == kPerThread / 2) {
          try {
            store().createJob(makeJob("taken", now), "");
            ++wrong;
          } catch (const StorageError&) {
            ++duplicate_errors;
          }
          auto keyed = store().createJob(makeJob("k-" + std::to_string(t), now), "shared-key");
          if (keyed.second) ++keyed_new;
          keyed_ids[static_cast<std::size_t>(t)] = keyed.first.job_id;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(duplicate_errors.load(), kThreads);
  EXPECT_EQ(keyed_new.load(), 1);
  EXPECT_EQ(std::set<std::string>(keyed_ids.begin(), keyed_ids.end()).size(), 1u);
  // kThreads * kPerThread new jobs, "taken", and the one keyed job.
  EXPECT_EQ(store().countQueued(), kThreads * kPerThread + 2);
  for (int t = 0; t < kThreads; ++t)
    for (int i = 0; i < kPerThread; ++i)
      ASSERT_TRUE(store().getJob("c-" + std::to_string(t) + "-" + std::to_string(i)).has_value());
}

TEST_P(StorageContractTest, CreateJobFillsAMissingCreationTime) {
  const std::int64_t before = nowMs();
  auto [job, is_new] = store().createJob(makeJob("job-1", 0), "");
  EXPECT_TRUE(is_new);
  EXPECT_GE(job.created_at_ms, before);
  EXPECT_EQ(store().getJob("job-1")->created_at_ms, job.created_at_ms);
}

TEST_P(StorageContractTest, GetJobRoundTripsEveryField) {
  EXPECT_FALSE(store().getJob("missing"));

  // Defaults: every nullable empty.
  const JobRecord plain = makeJob("job-plain", 1'700'000'000'000);
  store().createJob(plain, "");
  std::optional<JobRecord> loaded = store().getJob("job-plain");
  ASSERT_TRUE(loaded);
  expectSameJob(*loaded, plain);

  // Every field set, with text that tends to break drivers: a NUL byte, non-ASCII, quotes.
  JobRecord full = makeJob("job-full", 1'700'000'000'001, "agent-ü");
  full.blueprint_id = "bp'; DROP TABLE jobs; --";
  full.agent_version = 7;
  full.status = job_status::kCompleted;
  full.payload = {{"inputs", {{"text", "héllo \"wörld\"\n"}, {"n", 3.5}, {"list", {1, 2, 3}}}}};
  static constexpr char kArtifact[] = "line1\nline2 \xE2\x9C\x93 with a NUL \0 inside";
  full.artifact = std::string(kArtifact, sizeof(kArtifact) - 1);
  full.error = "b2: upstream said \"no\"";
  full.started_at_ms = 1'700'000'000'100;
  full.finished_at_ms = 1'700'000'000'200;
  full.attempts = 3;
  full.trace =
      Json::array({{{"block", "b1"}, {"type", "llm"}, {"end_state", "ok"}, {"duration_us", 1234}},
                   {{"block", "b2"},
                    {"type", "http"},
                    {"end_state", "error"},
                    {"duration_us", 99},
                    {"error", "boom"}}});
  full.lease_token = 42;
  full.lease_until_ms = 1'700'000'060'000;
  full.cancel_requested = true;
  full.created_by = "ops-key";
  ASSERT_NE(full.artifact->find('\0'), std::string::npos);
  store().putJob(full);
  loaded = store().getJob("job-full");
  ASSERT_TRUE(loaded);
  expectSameJob(*loaded, full);
}

TEST_P(StorageContractTest, PutJobInsertsAndReplacesKeepingTheIdempotencyKey) {
  const std::int64_t now = nowMs();
  JobRecord job = makeJob("job-1", now);
  store().createJob(job, "key-1");

  // A sync run whose caller left writes its final state over the row.
  job.status = job_status::kCompleted;
  job.artifact = "done";
  job.started_at_ms = now + 1;
  job.finished_at_ms = now + 2;
  job.attempts = 1;
  store().putJob(job);
  expectSameJob(*store().getJob("job-1"), job);
  EXPECT_EQ(store().createJob(makeJob("job-2", now), "key-1").first.job_id, "job-1");

  JobRecord running = makeJob("job-3", now);
  running.status = job_status::kInProgress;
  running.started_at_ms = now;
  store().putJob(running);
  expectSameJob(*store().getJob("job-3"), running);
}

// ---- jobs: listing and counting ----

TEST_P(StorageContractTest, ListJobsNewestFirstWithFilterPageAndTotal) {
  const std::int64_t base = 1'700'000'000'000;
  for (int i = 0; i < 5; ++i) {
    store().createJob(makeJob("a-" + std::to_string(i), base + i), "");
  }
  // Same creation time: job_id descending breaks the tie.
  store().createJob(makeJob("a-tie-1", base + 10), "");
  store().createJob(makeJob("a-tie-2", base + 10), "");
  store().createJob(makeJob("b-0", base + 3, "agent-b"), "");
  JobRecord done = makeJob("a-1", base + 1);
  done.status = job_status::kCompleted;
  done.finished_at_ms = base + 100;
  store().putJob(done);
  done = makeJob("a-3", base + 3);
  done.status = job_status::kCompleted;
  done.finished_at_ms = base + 100;
  store().putJob(done);

  JobQuery query;
  query.agent_id = "agent-a";
  JobPage page = store().listJobs(query);
  EXPECT_EQ(page.total, 7);
  EXPECT_EQ(idsOf(page.jobs),
            (std::vector<std::string>{"a-tie-2", "a-tie-1", "a-4", "a-3", "a-2", "a-1", "a-0"}));
  EXPECT_EQ(page.jobs[0].payload, makeJob("a-tie-2", 0).payload);

  query.status = job_status::kCompleted;
  page = store().listJobs(query);
  EXPECT_EQ(page.total, 2);
  EXPECT_EQ(idsOf(page.jobs), (std::vector<std::string>{"a-3", "a-1"}));

  query.status = job_status::kQueued;
  query.limit = 2;
  query.offset = 1;
  page = store().listJobs(query);
  EXPECT_EQ(page.total, 5);
  EXPECT_EQ(idsOf(page.jobs), (std::vector<std::string>{"a-tie-1", "a-4"}));

  query.status.reset();
  query.limit = 3;
  query.offset = 5;
  page = store().listJobs(query);
  EXPECT_EQ(page.total, 7);
  EXPECT_EQ(idsOf(page.jobs), (std::vector<std::string>{"a-1", "a-0"}));

  query.offset = 50;
  page = store().listJobs(query);
  EXPECT_EQ(page.total, 7);
  EXPECT_TRUE(page.jobs.empty());

  query = JobQuery{};
  query.agent_id = "agent-b";
  page = store().listJobs(query);
  EXPECT_EQ(page.total, 1);
  EXPECT_EQ(idsOf(page.jobs), (std::vector<std::string>{"b-0"}));

  query.agent_id = "ghost";
  page = store().listJobs(query);
  EXPECT_EQ(page.total, 0);
  EXPECT_TRUE(page.jobs.empty());
}

TEST_P(StorageContractTest, ListJobsShowsOneCreatorsJobsWhenAsked) {
  // A key that is not an admin lists only its own jobs (issue 11, Tenancy).
  const std::int64_t base = 1'700'000'000'000;
  const std::vector<std::tuple<std::string, std::string, std::string>> jobs = {
      {"alice-0", "agent-a", "alice"}, {"bob-0", "agent-a", "bob"},
      {"alice-1", "agent-a", "alice"}, {"alice-b", "agent-b", "alice"},
      {"bob-1", "agent-a", "bob"},     {"alice-2", "agent-a", "alice"}};
  std::int64_t at = base;
  for (const auto& [id, agent, creator] : jobs) {
    JobRecord job = makeJob(id, ++at, agent);
    job.created_by = creator;
    store().createJob(job, "");
  }
  // A sync run stored after its caller left keeps its creator too.
  JobRecord sync_run = makeJob("alice-sync", ++at);
  sync_run.created_by = "alice";
  sync_run.status = job_status::kCompleted;
  sync_run.finished_at_ms = at;
  store().putJob(sync_run);
  EXPECT_EQ(store().getJob("alice-sync")->created_by, "alice");
  EXPECT_EQ(store().getJob("bob-1")->created_by, "bob");

  JobQuery query;
  query.agent_id = "agent-a";
  query.created_by = "alice";
  JobPage page = store().listJobs(query);
  EXPECT_EQ(page.total, 4);
  EXPECT_EQ(idsOf(page.jobs),
            (std::vector<std::string>{"alice-sync", "alice-2", "alice-1", "alice-0"}));

  query.status = job_status::kQueued;
  query.limit = 1;
  query.offset = 1;
  page = store().listJobs(query);
  EXPECT_EQ(page.total, 3);
  EXPECT_EQ(idsOf(page.jobs), (std::vector<std::string>{"alice-1"}));

  query = JobQuery{};
  query.agent_id = "agent-a";
  query.created_by = "bob";
  EXPECT_EQ(idsOf(store().listJobs(query).jobs), (std::vector<std::string>{"bob-1", "bob-0"}));
  query.created_by = "carol";
  page = store().listJobs(query);
  EXPECT_EQ(page.total, 0);
  EXPECT_TRUE(page.jobs.empty());
  query.created_by.reset();
  EXPECT_EQ(store().listJobs(query).total, 6);
}

TEST_P(StorageContractTest, CountQueuedCountsOnlyQueuedJobs) {
  EXPECT_EQ(store().countQueued(), 0);
  const std::int64_t now = nowMs();
  for (int i = 0; i < 3; ++i) store().createJob(makeJob("q-" + std::to_string(i), now + i), "");
  JobRecord done = makeJob("done", now);
  done.status = job_status::kCompleted;
  store().putJob(done);
  EXPECT_EQ(store().countQueued(), 3);
  ASSERT_TRUE(store().claimJob(60s));
  EXPECT_EQ(store().countQueued(), 2);
  ASSERT_TRUE(store().requestCancel("q-2"));
  EXPECT_EQ(store().countQueued(), 1);
}

// ---- jobs: leases ----

TEST_P(StorageContractTest, ClaimJobTakesOldestFirstWithFreshTokens) {
  EXPECT_FALSE(store().claimJob(60s));

  const std::int64_t base = nowMs() - 1000;
  store().createJob(makeJob("late", base + 20), "");
  store().createJob(makeJob("early", base + 10), "");
  store().createJob(makeJob("middle", base + 15), "");

  const std::int64_t before = nowMs();
  std::optional<JobRecord> first = store().claimJob(60s);
  const std::int64_t after = nowMs();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->job_id, "early");
  EXPECT_EQ(first->status, job_status::kInProgress);
  EXPECT_EQ(first->attempts, 1);
  ASSERT_TRUE(first->started_at_ms);
  EXPECT_GE(*first->started_at_ms, before);
  EXPECT_LE(*first->started_at_ms, after);
  EXPECT_GT(first->lease_token, 0);
  ASSERT_TRUE(first->lease_until_ms);
  EXPECT_GE(*first->lease_until_ms, before + 60'000);
  EXPECT_LE(*first->lease_until_ms, after + 60'000);
  expectSameJob(*store().getJob("early"), *first);

  std::optional<JobRecord> second = store().claimJob(60s);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->job_id, "middle");
  EXPECT_GT(second->lease_token, first->lease_token);
  std::optional<JobRecord> third = store().claimJob(60s);
  ASSERT_TRUE(third);
  EXPECT_EQ(third->job_id, "late");
  EXPECT_GT(third->lease_token, second->lease_token);

  // Everything is leased and no lease has expired.
  EXPECT_FALSE(store().claimJob(60s));
}

TEST_P(StorageContractTest, ClaimJobRetakesAJobWhoseLeaseExpired) {
  const std::int64_t base = nowMs() - 1000;
  store().createJob(makeJob("crashed", base), "");
  std::optional<JobRecord> first = store().claimJob(1ms);
  ASSERT_TRUE(first);
  std::this_thread::sleep_for(20ms);

  // A newer queued job waits behind the older expired one.
  store().createJob(makeJob("newer", base + 100), "");
  std::optional<JobRecord> second = store().claimJob(60s);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->job_id, "crashed");
  EXPECT_EQ(second->status, job_status::kInProgress);
  EXPECT_EQ(second->attempts, 2);
  EXPECT_GT(second->lease_token, first->lease_token);
  EXPECT_EQ(second->started_at_ms, first->started_at_ms);  // kept from the first attempt

  // The first holder has lost the job.
  EXPECT_FALSE(store().renewLease("crashed", first->lease_token, 60s, nullptr));
  EXPECT_TRUE(store().renewLease("crashed", second->lease_token, 60s, nullptr));

  std::optional<JobRecord> third = store().claimJob(60s);
  ASSERT_TRUE(third);
  EXPECT_EQ(third->job_id, "newer");
  EXPECT_FALSE(store().claimJob(60s));
}

TEST_P(StorageContractTest, RenewLeaseExtendsOnlyForTheHolderAndReportsCancel) {
  store().createJob(makeJob("job-1", nowMs()), "");
  std::optional<JobRecord> claimed = store().claimJob(10s);
  ASSERT_TRUE(claimed);

  bool cancel = true;
  const std::int64_t before = nowMs();
  EXPECT_TRUE(store().renewLease("job-1", claimed->lease_token, 120s, &cancel));
  EXPECT_FALSE(cancel);
  EXPECT_GE(*store().getJob("job-1")->lease_until_ms, before + 120'000);

  EXPECT_FALSE(store().renewLease("job-1", claimed->lease_token + 1000, 120s, nullptr));
  cancel = true;
  EXPECT_FALSE(store().renewLease("ghost", 1, 120s, &cancel));
  EXPECT_FALSE(cancel);

  std::optional<JobRecord> cancelled = store().requestCancel("job-1");
  ASSERT_TRUE(cancelled);
  EXPECT_TRUE(cancelled->cancel_requested);
  EXPECT_TRUE(store().renewLease("job-1", claimed->lease_token, 120s, &cancel));
  EXPECT_TRUE(cancel);

  ASSERT_TRUE(store().finishJob(
      finished(*claimed, job_status::kCancelled, std::nullopt, std::nullopt, nowMs()),
      claimed->lease_token, {}));
  cancel = false;
  EXPECT_FALSE(store().renewLease("job-1", claimed->lease_token, 120s, &cancel));
  EXPECT_TRUE(cancel);
}

TEST_P(StorageContractTest, FinishJobWritesOnlyWithTheCurrentToken) {
  store().createJob(makeJob("job-1", nowMs() - 1000), "");
  std::optional<JobRecord> stale = store().claimJob(1ms);
  ASSERT_TRUE(stale);
  std::this_thread::sleep_for(20ms);
  std::optional<JobRecord> current = store().claimJob(60s);
  ASSERT_TRUE(current);
  ASSERT_EQ(current->job_id, "job-1");

  EXPECT_FALSE(store().finishJob(
      finished(*stale, job_status::kCompleted, "stale answer", std::nullopt, nowMs()),
      stale->lease_token, {}));
  std::optional<JobRecord> loaded = store().getJob("job-1");
  EXPECT_EQ(loaded->status, job_status::kInProgress);
  EXPECT_FALSE(loaded->artifact);
  EXPECT_EQ(loaded->trace, Json::array());
  EXPECT_EQ(loaded->lease_token, current->lease_token);

  const std::int64_t finished_at = nowMs();
  const JobRecord final_state =
      finished(*current, job_status::kCompleted, "the answer", std::nullopt, finished_at);
  EXPECT_TRUE(store().finishJob(final_state, current->lease_token, {}));
  loaded = store().getJob("job-1");
  EXPECT_EQ(loaded->status, job_status::kCompleted);
  EXPECT_EQ(loaded->artifact, "the answer");
  EXPECT_FALSE(loaded->error);
  EXPECT_EQ(loaded->trace, final_state.trace);
  EXPECT_EQ(loaded->finished_at_ms, finished_at);
  EXPECT_EQ(loaded->attempts, 2);

  // Finished: the same token no longer writes.
  EXPECT_FALSE(
      store().finishJob(finished(*current, job_status::kError, std::nullopt, "b1: late", nowMs()),
                        current->lease_token, {}));
  EXPECT_EQ(store().getJob("job-1")->status, job_status::kCompleted);

  // A queued job has no holder, not even token 0.
  store().createJob(makeJob("job-2", nowMs()), "");
  EXPECT_FALSE(store().finishJob(
      finished(makeJob("job-2", 0), job_status::kCompleted, "x", std::nullopt, nowMs()), 0, {}));
  EXPECT_EQ(store().getJob("job-2")->status, job_status::kQueued);
  EXPECT_FALSE(store().finishJob(
      finished(makeJob("ghost", 0), job_status::kCompleted, "x", std::nullopt, nowMs()), 1, {}));
}

TEST_P(StorageContractTest, FinishJobStampsAMissingFinishTime) {
  store().createJob(makeJob("job-1", nowMs()), "");
  std::optional<JobRecord> claimed = store().claimJob(60s);
  ASSERT_TRUE(claimed);
  JobRecord final_state = finished(*claimed, job_status::kError, std::nullopt, "b1: boom", 0);
  final_state.finished_at_ms.reset();
  const std::int64_t before = nowMs();
  ASSERT_TRUE(store().finishJob(final_state, claimed->lease_token, {}));
  std::optional<JobRecord> loaded = store().getJob("job-1");
  ASSERT_TRUE(loaded->finished_at_ms);
  EXPECT_GE(*loaded->finished_at_ms, before);
  EXPECT_EQ(loaded->error, "b1: boom");
}

TEST_P(StorageContractTest, FinishJobCanHandAJobBackToTheQueue) {
  store().createJob(makeJob("job-1", nowMs()), "");
  std::optional<JobRecord> claimed = store().claimJob(60s);
  ASSERT_TRUE(claimed);

  // A worker shutting down returns the job unfinished.
  JobRecord handed_back = *claimed;
  handed_back.status = job_status::kQueued;
  handed_back.finished_at_ms.reset();
  ASSERT_TRUE(store().finishJob(handed_back, claimed->lease_token, {}));
  std::optional<JobRecord> loaded = store().getJob("job-1");
  EXPECT_EQ(loaded->status, job_status::kQueued);
  EXPECT_FALSE(loaded->finished_at_ms);
  EXPECT_EQ(store().countQueued(), 1);
  EXPECT_FALSE(store().renewLease("job-1", claimed->lease_token, 60s, nullptr));

  std::optional<JobRecord> again = store().claimJob(60s);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->job_id, "job-1");
  EXPECT_EQ(again->attempts, 2);
  EXPECT_GT(again->lease_token, claimed->lease_token);
}

TEST_P(StorageContractTest, FinishJobStoresTheRunsEventsWithTheFinalState) {
  store().createJob(makeJob("job-1", nowMs()), "");
  std::optional<JobRecord> claimed = store().claimJob(60s);
  ASSERT_TRUE(claimed);
  EXPECT_TRUE(store().loadEvents("job-1", 0).empty());

  // More events than one PostgreSQL statement carries, in order.
  std::vector<std::string> events = {"{\"status\":\"in_progress\"}"};
  for (int i = 0; i < 1200; ++i) events.push_back("{\"delta\":\"" + std::to_string(i) + "\"}");
  events.push_back("[DONE]");
  const JobRecord final_state =
      finished(*claimed, job_status::kCompleted, "the answer", std::nullopt, nowMs());
  ASSERT_TRUE(store().finishJob(final_state, claimed->lease_token, events));

  EXPECT_EQ(store().getJob("job-1")->status, job_status::kCompleted);
  EXPECT_EQ(store().loadEvents("job-1", 0), events);
  EXPECT_EQ(store().loadEvents("job-1", 1200),
            (std::vector<std::string>{"{\"delta\":\"1199\"}", "[DONE]"}));

  // Finished: the same token writes no more events either.
  EXPECT_FALSE(
      store().finishJob(finished(*claimed, job_status::kError, std::nullopt, "b1: late", nowMs()),
                        claimed->lease_token, {"{\"error\":\"b1: late\"}", "[DONE]"}));
  EXPECT_EQ(store().loadEvents("job-1", 0), events);
}

TEST_P(StorageContractTest, FinishJobWithAStaleTokenWritesNeitherTheJobNorItsEvents) {
  store().createJob(makeJob("job-1", nowMs() - 1000), "");
  std::optional<JobRecord> stale = store().claimJob(1ms);
  ASSERT_TRUE(stale);
  std::this_thread::sleep_for(20ms);
  std::optional<JobRecord> current = store().claimJob(60s);
  ASSERT_TRUE(current);
  ASSERT_EQ(current->job_id, "job-1");

  // The attempt that lost its lease ends after the takeover: nothing of it is stored.
  EXPECT_FALSE(store().finishJob(
      finished(*stale, job_status::kCompleted, "stale answer", std::nullopt, nowMs()),
      stale->lease_token, {"{\"delta\":\"stale\"}", "[DONE]"}));
  std::optional<JobRecord> loaded = store().getJob("job-1");
  EXPECT_EQ(loaded->status, job_status::kInProgress);
  EXPECT_FALSE(loaded->artifact);
  EXPECT_TRUE(store().loadEvents("job-1", 0).empty());

  ASSERT_TRUE(store().finishJob(
      finished(*current, job_status::kCompleted, "the answer", std::nullopt, nowMs()),
      current->lease_token, {"{\"delta\":\"the answer\"}", "[DONE]"}));
  EXPECT_EQ(store().loadEvents("job-1", 0),
            (std::vector<std::string>{"{\"delta\":\"the answer\"}", "[DONE]"}));

  // No holder at all (queued, unknown): no events.
  store().createJob(makeJob("job-2", nowMs()), "");
  EXPECT_FALSE(store().finishJob(
      finished(makeJob("job-2", 0), job_status::kCompleted, "x", std::nullopt, nowMs()), 0,
      {"[DONE]"}));
  EXPECT_TRUE(store().loadEvents("job-2", 0).empty());
  EXPECT_FALSE(store().finishJob(
      finished(makeJob("ghost", 0), job_status::kCompleted, "x", std::nullopt, nowMs()), 1,
      {"[DONE]"}));
  EXPECT_TRUE(store().loadEvents("ghost", 0).empty());
}

TEST_P(StorageContractTest, FinishJobEventsFollowEventsTheJobAlreadyHas) {
  store().createJob(makeJob("job-1", nowMs()), "");
  std::optional<JobRecord> first = store().claimJob(60s);
  ASSERT_TRUE(first);
  // Events stored outside a finish (appendEvents: no lease, or an older host) stay, and the
  // finish's events are numbered on from them.
  const std::vector<std::string> earlier = {"{\"delta\":\"a\"}", "{\"delta\":\"b\"}"};
  store().appendEvents("job-1", earlier);

  // A hand-back with no events leaves them as they are.
  JobRecord handed_back = *first;
  handed_back.status = job_status::kQueued;
  handed_back.finished_at_ms.reset();
  ASSERT_TRUE(store().finishJob(handed_back, first->lease_token, {}));
  EXPECT_EQ(store().loadEvents("job-1", 0), earlier);

  std::optional<JobRecord> second = store().claimJob(60s);
  ASSERT_TRUE(second);
  ASSERT_TRUE(
      store().finishJob(finished(*second, job_status::kCompleted, "c", std::nullopt, nowMs()),
                        second->lease_token, {"{\"delta\":\"c\"}", "[DONE]"}));
  EXPECT_EQ(store().loadEvents("job-1", 0),
            (std::vector<std::string>{"{\"delta\":\"a\"}", "{\"delta\":\"b\"}", "{\"delta\":\"c\"}",
                                      "[DONE]"}));
  EXPECT_EQ(store().loadEvents("job-1", 2),
            (std::vector<std::string>{"{\"delta\":\"c\"}", "[DONE]"}));
}

// ---- jobs: cancel, retry, retention ----

TEST_P(StorageContractTest, RequestCancelEndsQueuedJobsAndFlagsRunningOnes) {
  EXPECT_FALSE(store().requestCancel("ghost"));

  const std::int64_t base = nowMs() - 1000;
  store().createJob(makeJob("running", base), "");
  store().createJob(makeJob("queued", base + 1), "");
  std::optional<JobRecord> claimed = store().claimJob(60s);
  ASSERT_TRUE(claimed);
  ASSERT_EQ(claimed->job_id, "running");

  const std::int64_t before = nowMs();
  std::optional<JobRecord> cancelled = store().requestCancel("queued");
  ASSERT_TRUE(cancelled);
  EXPECT_EQ(cancelled->status, job_status::kCancelled);
  EXPECT_TRUE(cancelled->cancel_requested);
  ASSERT_TRUE(cancelled->finished_at_ms);
  EXPECT_GE(*cancelled->finished_at_ms, before);
  expectSameJob(*store().getJob("queued"), *cancelled);
  EXPECT_FALSE(store().claimJob(60s));  // a cancelled job is never claimed

  std::optional<JobRecord> flagged = store().requestCancel("running");
  ASSERT_TRUE(flagged);
  EXPECT_EQ(flagged->status, job_status::kInProgress);
  EXPECT_TRUE(flagged->cancel_requested);
  EXPECT_FALSE(flagged->finished_at_ms);
  EXPECT_EQ(flagged->lease_token, claimed->lease_token);
  // The worker ends it as cancelled.
  EXPECT_TRUE(store().finishJob(
      finished(*claimed, job_status::kCancelled, std::nullopt, std::nullopt, nowMs()),
      claimed->lease_token, {}));
  EXPECT_EQ(store().getJob("running")->status, job_status::kCancelled);

  // A finished job is left as it is.
  JobRecord done = makeJob("done", base);
  done.status = job_status::kCompleted;
  done.finished_at_ms = base + 5;
  store().putJob(done);
  std::optional<JobRecord> unchanged = store().requestCancel("done");
  ASSERT_TRUE(unchanged);
  expectSameJob(*unchanged, done);
}

TEST_P(StorageContractTest, RetryJobRequeuesOnlyFailedJobs) {
  auto [ghost, ghost_requeued] = store().retryJob("ghost");
  EXPECT_FALSE(ghost);
  EXPECT_FALSE(ghost_requeued);

  store().createJob(makeJob("failed", nowMs() - 1000), "");
  std::optional<JobRecord> claimed = store().claimJob(60s);
  ASSERT_TRUE(claimed);
  ASSERT_TRUE(
      store().finishJob(finished(*claimed, job_status::kError, "partial", "b1: boom", nowMs()),
                        claimed->lease_token, {"{\"error\":\"b1: boom\"}", "[DONE]"}));
  ASSERT_EQ(store().loadEvents("failed", 0).size(), 2u);

  auto [retried, requeued] = store().retryJob("failed");
  EXPECT_TRUE(requeued);
  ASSERT_TRUE(retried);
  EXPECT_EQ(retried->status, job_status::kQueued);
  EXPECT_FALSE(retried->artifact);
  EXPECT_FALSE(retried->error);
  EXPECT_FALSE(retried->finished_at_ms);
  EXPECT_EQ(retried->lease_token, 0);
  EXPECT_FALSE(retried->lease_until_ms);
  EXPECT_EQ(retried->attempts, 1);
  EXPECT_EQ(retried->started_at_ms, claimed->started_at_ms);
  // The next run starts a fresh trace and event stream.
  EXPECT_EQ(retried->trace, Json::array());
  EXPECT_TRUE(store().loadEvents("failed", 0).empty());
  expectSameJob(*store().getJob("failed"), *retried);
  EXPECT_EQ(store().countQueued(), 1);

  std::optional<JobRecord> again = store().claimJob(60s);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->job_id, "failed");
  EXPECT_EQ(again->attempts, 2);
  EXPECT_GT(again->lease_token, claimed->lease_token);
  ASSERT_TRUE(
      store().finishJob(finished(*again, job_status::kCompleted, "ok", std::nullopt, nowMs()),
                        again->lease_token, {}));

  // Not in `error`: the job comes back unchanged with false.
  const JobRecord completed = *store().getJob("failed");
  auto [same, changed] = store().retryJob("failed");
  EXPECT_FALSE(changed);
  ASSERT_TRUE(same);
  expectSameJob(*same, completed);
  expectSameJob(*store().getJob("failed"), completed);
}

TEST_P(StorageContractTest, DeleteFinishedBeforeDeletesOldestFinishedInBatches) {
  const std::int64_t base = 1'700'000'000'000;
  const char* statuses[] = {job_status::kCompleted, job_status::kError, job_status::kCancelled,
                            job_status::kCompleted, job_status::kError};
  for (int i = 0; i < 5; ++i) {
    JobRecord job = makeJob("old-" + std::to_string(i), base);
    job.status = statuses[i];
    job.finished_at_ms = base + 10 - i;  // old-4 finished first
    store().putJob(job);
    store().appendEvents(job.job_id, {"{\"delta\":\"x\"}", "[DONE]"});
  }
  JobRecord recent = makeJob("recent", base);
  recent.status = job_status::kCompleted;
  recent.finished_at_ms = base + 1000;
  store().putJob(recent);
  store().appendEvents("recent", {"[DONE]"});
  store().createJob(makeJob("queued", base), "");
  JobRecord running = makeJob("running", base);
  running.status = job_status::kInProgress;
  running.started_at_ms = base;
  store().putJob(running);

  const std::int64_t cutoff = base + 500;
  EXPECT_EQ(store().deleteFinishedBefore(cutoff, 0), 0);
  EXPECT_EQ(store().deleteFinishedBefore(cutoff, 2), 2);
  EXPECT_FALSE(store().getJob("old-4"));
  EXPECT_FALSE(store().getJob("old-3"));
  EXPECT_TRUE(store().getJob("old-2"));
  EXPECT_TRUE(store().loadEvents("old-4", 0).empty());
  EXPECT_EQ(store().loadEvents("old-2", 0).size(), 2u);
  EXPECT_EQ(store().deleteFinishedBefore(cutoff, 2), 2);
  EXPECT_EQ(store().deleteFinishedBefore(cutoff, 2), 1);
  EXPECT_EQ(store().deleteFinishedBefore(cutoff, 2), 0);

  JobQuery all;
  all.limit = 100;
  std::vector<std::string> left = idsOf(store().listJobs(all).jobs);
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{"queued", "recent", "running"}));
  EXPECT_EQ(store().loadEvents("recent", 0), (std::vector<std::string>{"[DONE]"}));
}

// ---- job events ----

TEST_P(StorageContractTest, AppendsAndLoadsEventsInOrderFromASequenceNumber) {
  EXPECT_TRUE(store().loadEvents("job-1", 0).empty());
  store().appendEvents("job-1", {"{\"delta\":\"he\"}", "{\"delta\":\"llo\"}"});
  store().appendEvents("job-2", {"{\"delta\":\"other\"}"});
  store().appendEvents("job-1", {});
  store().appendEvents("job-1", {"[DONE]"});

  EXPECT_EQ(store().loadEvents("job-1", 0),
            (std::vector<std::string>{"{\"delta\":\"he\"}", "{\"delta\":\"llo\"}", "[DONE]"}));
  EXPECT_EQ(store().loadEvents("job-1", 1),
            (std::vector<std::string>{"{\"delta\":\"llo\"}", "[DONE]"}));
  EXPECT_EQ(store().loadEvents("job-1", 2), (std::vector<std::string>{"[DONE]"}));
  EXPECT_TRUE(store().loadEvents("job-1", 3).empty());
  EXPECT_TRUE(store().loadEvents("job-1", 100).empty());
  EXPECT_EQ(store().loadEvents("job-2", 0), (std::vector<std::string>{"{\"delta\":\"other\"}"}));
}

// ---- kv ----

TEST_P(StorageContractTest, KvIsNamespacedPerAgent) {
  EXPECT_FALSE(store().kvGet("agent-a", "count"));
  store().kvSet("agent-a", "count", 1);
  store().kvSet("agent-b", "count", "one");
  EXPECT_EQ(store().kvGet("agent-a", "count"), Json(1));
  EXPECT_EQ(store().kvGet("agent-b", "count"), Json("one"));

  const Json document = {{"items", {1, "two", nullptr}}, {"nested", {{"ok", true}}}};
  store().kvSet("agent-a", "count", document);
  EXPECT_EQ(store().kvGet("agent-a", "count"), document);

  // A stored null is a value, unlike a missing key.
  store().kvSet("agent-a", "nothing", nullptr);
  std::optional<Json> null_value = store().kvGet("agent-a", "nothing");
  ASSERT_TRUE(null_value);
  EXPECT_TRUE(null_value->is_null());

  EXPECT_TRUE(store().kvDelete("agent-a", "count"));
  EXPECT_FALSE(store().kvDelete("agent-a", "count"));
  EXPECT_FALSE(store().kvGet("agent-a", "count"));
  EXPECT_EQ(store().kvGet("agent-b", "count"), Json("one"));
  EXPECT_FALSE(store().kvDelete("agent-b", "missing"));
}

// ---- durability ----

TEST_P(StorageContractTest, EverythingSurvivesCloseAndReopen) {
  if (!persistent()) GTEST_SKIP() << GetParam() << " storage is ephemeral by design";

  store().saveDraft("agent-a", {{"name", "A"}});
  store().deployNewVersion("agent-a", {{"name", "A"}, {"v", 1}});
  store().deployNewVersion("agent-a", {{"name", "A"}, {"v", 2}});
  ASSERT_TRUE(store().deployExistingVersion("agent-a", 1));
  store().kvSet("agent-a", "memory", {{"turns", 3}});

  const std::int64_t now = nowMs();
  store().createJob(makeJob("job-running", now - 10), "idem-1");
  store().createJob(makeJob("job-queued", now), "");
  std::optional<JobRecord> claimed = store().claimJob(60s);
  ASSERT_TRUE(claimed);
  store().appendEvents("job-running", {"{\"delta\":\"a\"}", "{\"delta\":\"b\"}"});
  const AgentRecord agent_before = *store().getAgent("agent-a");

  reopen();
  reopen();  // a second open finds the schema current and applies nothing

  std::optional<AgentRecord> agent = store().getAgent("agent-a");
  ASSERT_TRUE(agent);
  EXPECT_EQ(agent->draft, agent_before.draft);
  EXPECT_EQ(agent->deployed_version, 1);
  EXPECT_EQ(agent->latest_version, 2);
  EXPECT_EQ(agent->updated_at_ms, agent_before.updated_at_ms);
  EXPECT_EQ(store().getVersion("agent-a", 2)->definition, (Json{{"name", "A"}, {"v", 2}}));
  EXPECT_EQ(store().kvGet("agent-a", "memory"), (Json{{"turns", 3}}));
  expectSameJob(*store().getJob("job-running"), *claimed);
  EXPECT_EQ(store().getJob("job-queued")->status, job_status::kQueued);
  EXPECT_EQ(store().loadEvents("job-running", 0),
            (std::vector<std::string>{"{\"delta\":\"a\"}", "{\"delta\":\"b\"}"}));
  // The idempotency key and the lease token counter are durable too.
  EXPECT_EQ(store().createJob(makeJob("job-dup", now), "idem-1").first.job_id, "job-running");
  std::optional<JobRecord> next = store().claimJob(60s);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->job_id, "job-queued");
  EXPECT_GT(next->lease_token, claimed->lease_token);
}

// ---- concurrency ----

TEST_P(StorageContractTest, ConcurrentCreateAndClaimNeverClaimsAJobTwice) {
  constexpr int kThreads = 4;
  constexpr int kJobsPerThread = 200;
  std::vector<std::vector<JobRecord>> claimed(kThreads);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      try {
        for (int i = 0; i < kJobsPerThread; ++i) {
          const std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
          store().createJob(makeJob(id, nowMs()), "");
          // This thread's own job is queued at least until some claim takes it, so the claim
          // always finds something; long leases mean nothing is taken twice.
          std::optional<JobRecord> job = store().claimJob(10min);
          if (!job) {
            ++failures;
            continue;
          }
          claimed[static_cast<std::size_t>(t)].push_back(*job);
        }
      } catch (const std::exception& e) {
        ADD_FAILURE() << "thread " << t << ": " << e.what();
        ++failures;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);

  expectEveryJobClaimedOnce(claimed, kThreads * kJobsPerThread);
  EXPECT_EQ(store().countQueued(), 0);
  EXPECT_FALSE(store().claimJob(10min));
}

// ---- batched claims, hand-backs and finish-and-claim ----

TEST_P(StorageContractTest, ClaimJobsTakesTheOldestClaimableEachUnderItsOwnToken) {
  const std::int64_t base = nowMs() - 10'000;
  for (int i = 4; i >= 0; --i) store().createJob(makeJob("job-" + std::to_string(i), base + i), "");
  EXPECT_TRUE(store().claimJobs(60s, 0).empty());

  std::vector<JobRecord> first = store().claimJobs(60s, 3);
  EXPECT_EQ(idsOf(first), (std::vector<std::string>{"job-0", "job-1", "job-2"}));
  std::set<std::int64_t> tokens;
  for (const JobRecord& job : first) {
    EXPECT_EQ(job.status, job_status::kInProgress) << job.job_id;
    EXPECT_EQ(job.attempts, 1) << job.job_id;
    EXPECT_TRUE(job.started_at_ms) << job.job_id;
    EXPECT_TRUE(job.lease_until_ms) << job.job_id;
    EXPECT_GT(job.lease_token, 0) << job.job_id;
    tokens.insert(job.lease_token);
    // What the claim returned is what is stored.
    std::optional<JobRecord> stored = store().getJob(job.job_id);
    ASSERT_TRUE(stored);
    expectSameJob(*stored, job);
  }
  EXPECT_EQ(tokens.size(), 3u) << "two jobs of one batch share a token";

  std::vector<JobRecord> rest = store().claimJobs(60s, 10);
  EXPECT_EQ(idsOf(rest), (std::vector<std::string>{"job-3", "job-4"}));
  for (const JobRecord& job : rest) EXPECT_GT(job.lease_token, *tokens.rbegin()) << job.job_id;
  EXPECT_TRUE(store().claimJobs(60s, 10).empty());
  EXPECT_EQ(store().countQueued(), 0);
}

TEST_P(StorageContractTest, ClaimJobsTakesExpiredLeasesInCreationOrderWithQueuedJobs) {
  const std::int64_t base = nowMs() - 10'000;
  store().createJob(makeJob("old", base), "");
  store().createJob(makeJob("new", base + 2), "");
  std::vector<JobRecord> stale = store().claimJobs(1ms, 1);
  ASSERT_EQ(idsOf(stale), std::vector<std::string>{"old"});
  store().createJob(makeJob("middle", base + 1), "");
  std::this_thread::sleep_for(5ms);  // the 1 ms lease of "old" expires

  std::vector<JobRecord> claimed = store().claimJobs(60s, 5);
  EXPECT_EQ(idsOf(claimed), (std::vector<std::string>{"old", "middle", "new"}));
  ASSERT_EQ(claimed.size(), 3u);
  EXPECT_EQ(claimed[0].attempts, 2);
  EXPECT_GT(claimed[0].lease_token, stale[0].lease_token);
  // The first lease is fenced off.
  EXPECT_FALSE(
      store().finishJob(finished(stale[0], job_status::kCompleted, "late", std::nullopt, nowMs()),
                        stale[0].lease_token, {"[DONE]"}));
  EXPECT_TRUE(store().loadEvents("old", 0).empty());
}

TEST_P(StorageContractTest, UnclaimJobsHandsJobsBackWithoutCountingTheClaim) {
  const std::int64_t base = nowMs() - 10'000;
  store().createJob(makeJob("a", base), "");
  store().createJob(makeJob("b", base + 1), "");
  std::vector<JobRecord> claimed = store().claimJobs(60s, 2);
  ASSERT_EQ(claimed.size(), 2u);

  // A wrong token hands nothing back.
  EXPECT_EQ(store().unclaimJobs({{"a", claimed[0].lease_token + 1000}}), 0u);
  EXPECT_EQ(store().getJob("a")->status, job_status::kInProgress);

  EXPECT_EQ(store().unclaimJobs(
                {{"a", claimed[0].lease_token}, {"b", claimed[1].lease_token}, {"unknown", 1}}),
            2u);
  for (const char* id : {"a", "b"}) {
    std::optional<JobRecord> job = store().getJob(id);
    ASSERT_TRUE(job);
    EXPECT_EQ(job->status, job_status::kQueued) << id;
    EXPECT_EQ(job->attempts, 0) << id;
    EXPECT_FALSE(job->started_at_ms) << id;
    EXPECT_EQ(job->lease_token, 0) << id;
    EXPECT_FALSE(job->lease_until_ms) << id;
  }
  EXPECT_EQ(store().countQueued(), 2);
  // The handed-back claim no longer holds the job: its finish is refused, and so is a second
  // hand-back.
  EXPECT_FALSE(
      store().finishJob(finished(claimed[0], job_status::kCompleted, "x", std::nullopt, nowMs()),
                        claimed[0].lease_token, {"[DONE]"}));
  EXPECT_EQ(store().unclaimJobs({{"a", claimed[0].lease_token}}), 0u);

  // Claimed again: the first attempt, in the original order.
  std::vector<JobRecord> again = store().claimJobs(60s, 1);
  ASSERT_EQ(idsOf(again), std::vector<std::string>{"a"});
  EXPECT_EQ(again[0].attempts, 1);
  EXPECT_GT(again[0].lease_token, claimed[1].lease_token);

  // A job on its second claim keeps the first claim's count and start time.
  JobRecord handed_back = again[0];
  handed_back.status = job_status::kQueued;
  ASSERT_TRUE(store().finishJob(handed_back, again[0].lease_token, {}));
  std::vector<JobRecord> second = store().claimJobs(60s, 1);
  ASSERT_EQ(idsOf(second), std::vector<std::string>{"a"});
  ASSERT_EQ(second[0].attempts, 2);
  EXPECT_EQ(store().unclaimJobs({{"a", second[0].lease_token}}), 1u);
  std::optional<JobRecord> a = store().getJob("a");
  EXPECT_EQ(a->attempts, 1);
  EXPECT_EQ(a->started_at_ms, again[0].started_at_ms);
}

TEST_P(StorageContractTest, FinishJobAndClaimStoresTheEndAndClaimsTheNextJobs) {
  const std::int64_t base = nowMs() - 10'000;
  for (int i = 0; i < 4; ++i) store().createJob(makeJob("job-" + std::to_string(i), base + i), "");
  std::optional<JobRecord> first = store().claimJob(60s);
  ASSERT_TRUE(first);

  Storage::FinishAndClaim done = store().finishJobAndClaim(
      finished(*first, job_status::kCompleted, "one", std::nullopt, nowMs()), first->lease_token,
      {"{\"delta\":\"one\"}", "[DONE]"}, 60s, 2);
  EXPECT_TRUE(done.written);
  EXPECT_EQ(idsOf(done.claimed), (std::vector<std::string>{"job-1", "job-2"}));
  EXPECT_EQ(store().getJob("job-0")->status, job_status::kCompleted);
  EXPECT_EQ(store().loadEvents("job-0", 0),
            (std::vector<std::string>{"{\"delta\":\"one\"}", "[DONE]"}));
  for (const JobRecord& job : done.claimed) {
    EXPECT_EQ(job.attempts, 1);
    EXPECT_EQ(store().getJob(job.job_id)->lease_token, job.lease_token);
  }

  // A finish the token no longer holds writes nothing, but the claim still happens.
  Storage::FinishAndClaim stale =
      store().finishJobAndClaim(finished(*first, job_status::kError, std::nullopt, "late", nowMs()),
                                first->lease_token, {"[DONE]"}, 60s, 5);
  EXPECT_FALSE(stale.written);
  EXPECT_EQ(idsOf(stale.claimed), std::vector<std::string>{"job-3"});
  EXPECT_EQ(store().getJob("job-0")->status, job_status::kCompleted);
  EXPECT_EQ(store().loadEvents("job-0", 0).size(), 2u);

  Storage::FinishAndClaim last = store().finishJobAndClaim(
      finished(stale.claimed[0], job_status::kCompleted, "three", std::nullopt, nowMs()),
      stale.claimed[0].lease_token, {"[DONE]"}, 60s, 1);
  EXPECT_TRUE(last.written);
  EXPECT_TRUE(last.claimed.empty());
}

TEST_P(StorageContractTest, ConcurrentBatchClaimsNeverClaimAJobTwice) {
  constexpr int kJobs = 300;
  constexpr int kThreads = 4;
  const std::int64_t base = nowMs() - 10'000;
  for (int i = 0; i < kJobs; ++i)
    store().createJob(makeJob("job-" + std::to_string(i), base + i), "");
  std::vector<std::vector<JobRecord>> claimed(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      try {
        // Batches of different sizes, some through finishJobAndClaim; long leases, so a second
        // claim of a job would be a bug.
        auto& mine = claimed[static_cast<std::size_t>(t)];
        const std::size_t batch = static_cast<std::size_t>(t) * 3 + 1;
        while (true) {
          std::vector<JobRecord> jobs;
          if (mine.empty() || t % 2 == 0) {
            jobs = store().claimJobs(10min, batch);
          } else {
            const JobRecord& previous = mine.back();
            Storage::FinishAndClaim done = store().finishJobAndClaim(
                finished(previous, job_status::kCompleted, "ok", std::nullopt, nowMs()),
                previous.lease_token, {"[DONE]"}, 10min, batch);
            if (!done.written) ADD_FAILURE() << "finish of " << previous.job_id << " refused";
            jobs = std::move(done.claimed);
          }
          if (jobs.empty()) break;
          for (JobRecord& job : jobs) mine.push_back(std::move(job));
        }
      } catch (const std::exception& e) {
        ADD_FAILURE() << "thread " << t << ": " << e.what();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  expectEveryJobClaimedOnce(claimed, kJobs);
  EXPECT_EQ(store().countQueued(), 0);
}

TEST_P(StorageContractTest, ConcurrentFinishesAreEachFencedAndComplete) {
  // Many workers finishing at once (on SQLite they share commits): every finish whose token
  // holds its job is stored with exactly its events; every stale one stores nothing.
  constexpr int kJobs = 120;
  constexpr int kThreads = 6;
  const std::int64_t base = nowMs() - 10'000;
  for (int i = 0; i < kJobs; ++i)
    store().createJob(makeJob("job-" + std::to_string(i), base + i), "");
  std::vector<JobRecord> stale = store().claimJobs(1ms, kJobs / 2);  // these leases expire
  ASSERT_EQ(stale.size(), static_cast<std::size_t>(kJobs / 2));
  std::this_thread::sleep_for(5ms);
  std::vector<JobRecord> current = store().claimJobs(10min, kJobs);
  ASSERT_EQ(current.size(), static_cast<std::size_t>(kJobs));

  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      try {
        for (std::size_t i = static_cast<std::size_t>(t); i < current.size(); i += kThreads) {
          const JobRecord& job = current[i];
          if (i < stale.size()) {
            // The expired attempt of the same job tries first and must be refused.
            if (store().finishJob(
                    finished(stale[i], job_status::kError, std::nullopt, "stale", nowMs()),
                    stale[i].lease_token, {"{\"stale\":true}", "[DONE]"}))
              ++wrong;
          }
          if (!store().finishJob(
                  finished(job, job_status::kCompleted, job.job_id, std::nullopt, nowMs()),
                  job.lease_token, {"{\"delta\":\"" + job.job_id + "\"}", "[DONE]"}))
            ++wrong;
        }
      } catch (const std::exception& e) {
        ADD_FAILURE() << "thread " << t << ": " << e.what();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
  for (const JobRecord& job : current) {
    std::optional<JobRecord> stored = store().getJob(job.job_id);
    ASSERT_TRUE(stored);
    EXPECT_EQ(stored->status, job_status::kCompleted) << job.job_id;
    EXPECT_EQ(stored->artifact, job.job_id);
    EXPECT_EQ(store().loadEvents(job.job_id, 0),
              (std::vector<std::string>{"{\"delta\":\"" + job.job_id + "\"}", "[DONE]"}))
        << job.job_id;
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, StorageContractTest,
                         ::testing::Values("memory", "sqlite", "postgresql"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

// ---- openStorage and the clock (not per backend) ----

TEST(OpenStorageTest, OpensEachBuiltBackend) {
  TempDir dir;
  EXPECT_EQ(openStorage("memory:")->backendName(), "memory");
  const fs::path file = dir.path() / "a" / "b" / "c" / "host.db";
  EXPECT_EQ(openStorage("sqlite:" + file.string())->backendName(), "sqlite");
  EXPECT_TRUE(fs::exists(file));
}

TEST(OpenStorageTest, NamesWhereItLookedWhenThePostgresqlModuleIsMissing) {
  // PostgreSQL is a module loaded on first use; without it the error says what and where.
  TempDir empty;
  const char* saved = std::getenv("BLUEPRINT_MODULE_DIR");
  const std::string restore = saved != nullptr ? saved : "";
  ::setenv("BLUEPRINT_MODULE_DIR", empty.path().c_str(), 1);
  try {
    openStorage("postgresql://blueprint:s3cret@127.0.0.1:1/jobs");
    ADD_FAILURE() << "opened PostgreSQL storage without its module";
  } catch (const StorageError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("blueprint_storage_postgres.so"), std::string::npos) << message;
    EXPECT_NE(message.find(empty.path().string()), std::string::npos) << message;
    EXPECT_NE(message.find("BLUEPRINT_MODULE_DIR"), std::string::npos) << message;
    EXPECT_EQ(message.find("s3cret"), std::string::npos) << message;
  }
  if (saved != nullptr)
    ::setenv("BLUEPRINT_MODULE_DIR", restore.c_str(), 1);
  else
    ::unsetenv("BLUEPRINT_MODULE_DIR");
}

TEST(OpenStorageTest, ReportsAnUnreachablePostgresqlServerWithoutItsPassword) {
  // A loopback port nobody listens on: the connection is refused at once.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
  ::close(fd);
  const std::string server = "127.0.0.1:" + std::to_string(ntohs(address.sin_port));

  for (const std::string scheme : {"postgresql", "postgres"}) {
    try {
      openStorage(scheme + "://blueprint:s3cret-Pa55@" + server + "/jobs");
      ADD_FAILURE() << "expected StorageError";
    } catch (const StorageError& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find(scheme + "://blueprint@" + server + "/jobs"), std::string::npos)
          << message;
      EXPECT_EQ(message.find("s3cret"), std::string::npos) << message;
    }
  }
}

TEST(OpenStorageTest, RejectsMalformedPostgresqlUrlsWithoutThePassword) {
  for (const std::string url : {
           "postgresql://u:s3cret-Pa55@db.example:99999/x",           // port out of range
           "postgresql://u:s3cret-Pa55@db.example/x?pool_size=0",     // pool too small
           "postgresql://u:s3cret-Pa55@db.example/x?pool_size=many",  // not a number
           "postgresql://u:s3cret-Pa55@db.example/my%20db",           // whitespace
           "postgresql://u:s3cret-Pa55@db.example/x?user=other",      // user twice
           "postgresql://u:s3cret-Pa55@db.example/x?Bad-Key=1",       // not a libpq keyword
           "postgresql://u:s3cret-Pa55%zz@db.example/x",              // bad percent-encoding
       }) {
    try {
      openStorage(url);
      ADD_FAILURE() << "expected StorageError for " << url;
    } catch (const StorageError& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("postgresql://u@db.example"), std::string::npos) << message;
      EXPECT_EQ(message.find("s3cret"), std::string::npos) << message;
    }
  }
}

TEST(OpenStorageTest, NeverShowsAPasswordHoweverTheUrlIsMistyped) {
  // Issue 11, L4: a mistyped scheme printed the whole URL; a '/', '?', '#' or '@' in the
  // password ended the user information early, so the "redacted" URL still held the password.
  for (const std::string url : {
           "postgresq://u:s3cret-Pa55@db.example/x",     // scheme mistyped
           "postgresql:/u:s3cret-Pa55@db.example/x",     // one slash
           "postgresql//u:s3cret-Pa55@db.example/x",     // no colon
           "postgresql://u:s3cret/Pa55@db.example/x",    // '/' in the password
           "postgresql://u:s3cret?Pa55@db.example/x",    // '?'
           "postgresql://u:s3cret#Pa55@db.example/x",    // '#'
           "postgresql://u:s3cret@Pa55@db.example/x",    // '@'
           "postgresql://u:s3cret-Pa55/db.example/x",    // '@' forgotten: a "port"
           "postgresql://u:s3/cr@et-Pa55@db.example/x",  // all of them
           // '@' after the host: what precedes the last '@' is hidden, the host with it.
           "postgres://u:s3cret-Pa55@db.example/x?sslmode=verify&x=@y",
       }) {
    try {
      openStorage(url);
      ADD_FAILURE() << "expected StorageError for a URL like " << url.substr(0, 14);
    } catch (const StorageError& e) {
      const std::string message = e.what();
      EXPECT_EQ(message.find("s3"), std::string::npos) << message;
      EXPECT_EQ(message.find("Pa55"), std::string::npos) << message;
      if (url.find("=@") == std::string::npos) {
        EXPECT_NE(message.find("db.example"), std::string::npos) << message;
      }
    }
  }
}

TEST(OpenStorageTest, ReadsAPercentEncodedSlashInThePassword) {
  // Percent-encoded, a '/' is an ordinary password character: the URL parses and the error is
  // the unreachable server's (a loopback port nobody listens on), without the password.
  try {
    openStorage("postgresql://u:s3cret%2FPa55@127.0.0.1:1/x?connect_timeout=2");
    ADD_FAILURE() << "expected StorageError";
  } catch (const StorageError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("postgresql://u@127.0.0.1:1/x': cannot open"), std::string::npos)
        << message;
    EXPECT_EQ(message.find("percent-encoded"), std::string::npos) << message;
    EXPECT_EQ(message.find("s3cret"), std::string::npos) << message;
    EXPECT_EQ(message.find("Pa55"), std::string::npos) << message;
  }
}

TEST(RedactStorageUrl, KeepsTheUserAndDropsPasswordQueryAndFragment) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"postgresql://u:pw@h:5432/db?sslpassword=k#f", "postgresql://u@h:5432/db"},
      {"postgres://u@h/db", "postgres://u@h/db"},
      {"postgresql://h/db?password=k", "postgresql://h/db"},
      {"postgresql://u:p/w@h/db", "postgresql://u@h/db"},
      {"postgresq://u:pw@h/db", "postgresq://u@h/db"},
      {"postgresql:u:pw@h/db", "postgresql:u@h/db"},
      {"postgresql:/u:pw@h/db", "postgresql:***@h/db"},
      {"postgresql//u:pw@h/db", "***@h/db"},
      {"postgresql://u:pw/h/db", "postgresql://u:***/h/db"},
      {"postgresql://[::1]:5432/db", "postgresql://[::1]:5432/db"},
      {"postgresql://h:5432/db", "postgresql://h:5432/db"},
      {"sqlite:/var/lib/a@b.db", "sqlite:/var/lib/a@b.db"},
      {"memory:", "memory:"},
      {"mysql://db/x", "mysql://db/x"},
      {"", ""},
  };
  for (const auto& [url, shown] : cases) EXPECT_EQ(redactStorageUrl(url).display, shown) << url;
  EXPECT_EQ(redactStorageUrl("postgresql://u:p/w@h/db").secret, "p/w");
  EXPECT_EQ(redactStorageUrl("postgresql://u:pw/h/db").secret, "pw");
}

TEST(OpenStorageTest, RejectsUnknownUrlsNamingTheAcceptedForms) {
  for (const std::string url : {"mysql://db/x", "", "memory", "sqlite:", "/var/lib/host.db"}) {
    try {
      openStorage(url);
      ADD_FAILURE() << "expected StorageError for '" << url << "'";
    } catch (const StorageError& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("'" + url + "'"), std::string::npos) << message;
      EXPECT_NE(message.find("sqlite:<path>"), std::string::npos) << message;
      EXPECT_NE(message.find("memory:"), std::string::npos) << message;
    }
  }
}

TEST(OpenStorageTest, ReportsASqliteFileThatCannotBeOpened) {
  TempDir dir;
  // A directory where the database file should be.
  const fs::path taken = dir.path() / "taken.db";
  fs::create_directories(taken);
  try {
    openStorage("sqlite:" + taken.string());
    FAIL() << "expected StorageError";
  } catch (const StorageError& e) {
    EXPECT_NE(std::string(e.what()).find(taken.string()), std::string::npos) << e.what();
  }
}

TEST(NowMsTest, IsTheSystemClockInMilliseconds) {
  const auto system_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  EXPECT_LE(std::abs(nowMs() - system_ms), 1000);
}

}  // namespace
}  // namespace blueprint::host
