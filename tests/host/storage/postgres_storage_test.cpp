// SPDX-License-Identifier: Apache-2.0
// postgres_storage_test.cpp: what only the PostgreSQL backend promises, beyond the Storage
// contract (storage_contract_test.cpp runs that on it too): several hosts on one database. Each
// "host" is a PostgresStorage instance of its own (own connection pool, own listener), on a real
// server from tests/support/postgres_cluster, each test in a fresh database.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "storage/postgres_storage.hpp"
#include "storage/storage.hpp"
#include "support/postgres_cluster.hpp"

namespace blueprint::host {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

JobRecord makeJob(const std::string& job_id, std::int64_t created_at_ms) {
  JobRecord job;
  job.job_id = job_id;
  job.agent_id = "agent-a";
  job.blueprint_id = "main";
  job.agent_version = 1;
  job.payload = Json{{"inputs", {{"n", job_id}}}};
  job.created_at_ms = created_at_ms;
  job.created_by = "key-1";
  return job;
}

/// What the threads of two hosts claimed (threads [0, threads_per_host) are host A's): every one
/// of `jobs` exactly once, with its own lease token, and host B took part.
void expectEveryJobClaimedOnce(const std::vector<std::vector<JobRecord>>& claimed, int jobs,
                               int threads_per_host) {
  std::set<std::string> ids;
  std::set<std::int64_t> tokens;
  std::size_t claims = 0;
  std::size_t claims_by_b = 0;
  for (std::size_t t = 0; t < claimed.size(); ++t) {
    for (const JobRecord& job : claimed[t]) {
      ++claims;
      if (t >= static_cast<std::size_t>(threads_per_host)) ++claims_by_b;
      ids.insert(job.job_id);
      tokens.insert(job.lease_token);
      EXPECT_EQ(job.attempts, 1) << job.job_id;
      EXPECT_EQ(job.status, job_status::kInProgress) << job.job_id;
    }
  }
  EXPECT_EQ(claims, static_cast<std::size_t>(jobs));
  EXPECT_EQ(ids.size(), claims) << "a job was claimed more than once";
  EXPECT_EQ(tokens.size(), claims) << "a lease token was handed out twice";
  EXPECT_GT(claims_by_b, 0u) << "host B never got a job; the hosts did not run side by side";
}

class PostgresStorageTest : public ::testing::Test {
 public:
  void SetUp() override {
    try {
      database_ = testing::sharedPostgresCluster().createDatabase();
    } catch (const std::exception& e) {
      FAIL() << e.what();
    }
  }

  /// A new "host" on the test's database.
  std::unique_ptr<PostgresStorage> openHost(const std::string& query = "") {
    return std::make_unique<PostgresStorage>(database_->url() + query);
  }

  std::vector<std::string> query(const std::string& sql) {
    return testing::PostgresCluster::query(database_->url(), sql);
  }

  std::unique_ptr<testing::PostgresCluster::Database> database_;
};

/// `threads_per_host` threads on each of two hosts of one database claim `jobs` queued jobs with
/// `claim(host, thread, mine)` until it returns; then every job must have been claimed once.
/// Returns host B, for the caller's checks of what is left.
std::unique_ptr<PostgresStorage> claimOnTwoHosts(
    PostgresStorageTest& test, int jobs, int threads_per_host,
    const std::function<void(PostgresStorage&, int, std::vector<JobRecord>&)>& claim);

TEST_F(PostgresStorageTest, TwoHostsClaimingConcurrentlyNeverClaimAJobTwice) {
  std::unique_ptr<PostgresStorage> host_b =
      claimOnTwoHosts(*this, 400, 4, [](PostgresStorage& host, int, std::vector<JobRecord>& mine) {
        // Long leases: nothing expires, so a second claim of a job would be a bug.
        while (std::optional<JobRecord> job = host.claimJob(10min)) mine.push_back(std::move(*job));
      });
  EXPECT_EQ(host_b->countQueued(), 0);
  EXPECT_FALSE(host_b->claimJob(10min));
}

TEST_F(PostgresStorageTest, TwoHostsClaimingBatchesConcurrentlyNeverClaimAJobTwice) {
  constexpr int kThreadsPerHost = 3;
  std::unique_ptr<PostgresStorage> host_b = claimOnTwoHosts(
      *this, 400, kThreadsPerHost, [](PostgresStorage& host, int t, std::vector<JobRecord>& mine) {
        // Batches of several sizes, every other one taken with the finish of the previous job.
        const std::size_t batch = static_cast<std::size_t>(t % kThreadsPerHost) * 4 + 2;
        for (int round = 0;; ++round) {
          std::vector<JobRecord> jobs;
          if (mine.empty() || round % 2 == 0) {
            jobs = host.claimJobs(10min, batch);
          } else {
            JobRecord done = mine.back();
            done.status = job_status::kCompleted;
            Storage::FinishAndClaim next =
                host.finishJobAndClaim(done, done.lease_token, {"[DONE]"}, 10min, batch);
            if (!next.written) ADD_FAILURE() << "finish of " << done.job_id << " refused";
            jobs = std::move(next.claimed);
          }
          if (jobs.empty()) break;
          for (JobRecord& job : jobs) mine.push_back(std::move(job));
        }
      });
  EXPECT_EQ(host_b->countQueued(), 0);
  EXPECT_TRUE(host_b->claimJobs(10min, 10).empty());
}

std::unique_ptr<PostgresStorage> claimOnTwoHosts(
    PostgresStorageTest& test, int jobs, int threads_per_host,
    const std::function<void(PostgresStorage&, int, std::vector<JobRecord>&)>& claim) {
  std::unique_ptr<PostgresStorage> host_a = test.openHost();
  std::unique_ptr<PostgresStorage> host_b = test.openHost();
  const std::int64_t base = nowMs() - 10'000;
  for (int i = 0; i < jobs; ++i)
    host_a->createJob(makeJob("job-" + std::to_string(i), base + i), "");

  std::vector<std::vector<JobRecord>> claimed(static_cast<std::size_t>(2 * threads_per_host));
  std::vector<std::thread> threads;
  for (int t = 0; t < 2 * threads_per_host; ++t) {
    PostgresStorage& host = t < threads_per_host ? *host_a : *host_b;
    threads.emplace_back([&, t] {
      try {
        claim(host, t, claimed[static_cast<std::size_t>(t)]);
      } catch (const std::exception& e) {
        ADD_FAILURE() << "thread " << t << ": " << e.what();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  expectEveryJobClaimedOnce(claimed, jobs, threads_per_host);
  return host_b;
}

TEST_F(PostgresStorageTest, AJobHandedBackIsAnnouncedAndClaimedByTheOtherHost) {
  std::unique_ptr<PostgresStorage> host_a = openHost();
  std::unique_ptr<PostgresStorage> host_b = openHost();
  host_a->createJob(makeJob("job-1", nowMs()), "");
  std::vector<JobRecord> on_a = host_a->claimJobs(10min, 5);
  ASSERT_EQ(on_a.size(), 1u);
  EXPECT_TRUE(host_b->claimJobs(10min, 5).empty());
  host_b->waitForJobs(std::chrono::milliseconds(300));  // listening from here on
  ASSERT_EQ(host_a->unclaimJobs({{"job-1", on_a[0].lease_token}}), 1u);
  EXPECT_TRUE(host_b->waitForJobs(std::chrono::seconds(10))) << "the hand-back was not announced";
  std::vector<JobRecord> on_b = host_b->claimJobs(10min, 5);
  ASSERT_EQ(on_b.size(), 1u);
  EXPECT_EQ(on_b[0].attempts, 1) << "the handed-back claim was counted";
  EXPECT_GT(on_b[0].lease_token, on_a[0].lease_token);
}

TEST_F(PostgresStorageTest, AnExpiredLeaseMovesToTheOtherHostAndFencesTheFirst) {
  std::unique_ptr<PostgresStorage> host_a = openHost();
  std::unique_ptr<PostgresStorage> host_b = openHost();
  host_a->createJob(makeJob("job-1", nowMs() - 1000), "");

  // Host A claims, then stalls past its lease (as a host that died would).
  std::optional<JobRecord> on_a = host_a->claimJob(50ms);
  ASSERT_TRUE(on_a);
  EXPECT_FALSE(host_b->claimJob(60s)) << "B took a job whose lease had not expired";
  std::this_thread::sleep_for(100ms);

  std::optional<JobRecord> on_b = host_b->claimJob(60s);
  ASSERT_TRUE(on_b);
  EXPECT_EQ(on_b->job_id, "job-1");
  EXPECT_EQ(on_b->attempts, 2);
  EXPECT_GT(on_b->lease_token, on_a->lease_token);
  EXPECT_EQ(on_b->started_at_ms, on_a->started_at_ms);

  // A wakes up: its token no longer holds the job, so it can neither renew nor write.
  JobRecord stale = *on_a;
  stale.status = job_status::kCompleted;
  stale.artifact = "A's stale answer";
  EXPECT_FALSE(host_a->renewLease("job-1", on_a->lease_token, 60s, nullptr));
  EXPECT_FALSE(host_a->finishJob(stale, on_a->lease_token, {"{\"delta\":\"A\"}", "[DONE]"}));
  EXPECT_EQ(host_a->getJob("job-1")->lease_token, on_b->lease_token);
  EXPECT_TRUE(host_b->loadEvents("job-1", 0).empty()) << "A's stale events were stored";

  JobRecord done = *on_b;
  done.status = job_status::kCompleted;
  done.artifact = "B's answer";
  EXPECT_TRUE(host_b->finishJob(done, on_b->lease_token, {"{\"delta\":\"B\"}", "[DONE]"}));
  std::optional<JobRecord> stored = host_a->getJob("job-1");
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->status, job_status::kCompleted);
  EXPECT_EQ(stored->artifact, "B's answer");
  EXPECT_EQ(host_a->loadEvents("job-1", 0),
            (std::vector<std::string>{"{\"delta\":\"B\"}", "[DONE]"}));
}

TEST_F(PostgresStorageTest, AgentsRevisionMovesWithEveryAgentChangeOfAnyHost) {
  std::unique_ptr<PostgresStorage> host_a = openHost();
  std::unique_ptr<PostgresStorage> host_b = openHost();
  std::optional<std::int64_t> seen = host_b->agentsRevision();
  ASSERT_TRUE(seen) << "PostgreSQL is shared by hosts, so it must report a revision";
  // Each change through A is visible to B as a new revision, once A's call returned.
  auto expectMoved = [&](const std::string& what) {
    const std::optional<std::int64_t> now = host_b->agentsRevision();
    ASSERT_TRUE(now);
    EXPECT_NE(*now, *seen) << what << " did not move the revision";
    seen = now;
  };
  host_a->saveDraft("agent-a", Json{{"name", "A"}, {"blueprints", Json::array()}});
  expectMoved("saveDraft");
  host_a->deployNewVersion("agent-a", Json{{"name", "A"}, {"blueprints", Json::array()}});
  expectMoved("deployNewVersion");
  host_a->deployNewVersion("agent-a", Json{{"name", "A2"}, {"blueprints", Json::array()}});
  expectMoved("a second deployNewVersion");
  ASSERT_TRUE(host_a->deployExistingVersion("agent-a", 1));
  expectMoved("deployExistingVersion");
  ASSERT_TRUE(host_a->undeploy("agent-a"));
  expectMoved("undeploy");
  ASSERT_TRUE(host_a->deleteAgent("agent-a"));
  expectMoved("deleteAgent");

  // Jobs, kv and a failed (rolled back) deploy leave it alone: hosts re-read agents only when
  // an agent really changed.
  host_a->createJob(makeJob("job-1", nowMs()), "");
  host_a->kvSet("agent-a", "k", Json(1));
  EXPECT_THROW(host_a->deployNewVersion("missing", Json::object()), StorageError);
  EXPECT_EQ(host_b->agentsRevision(), seen);
}

TEST_F(PostgresStorageTest, WaitForJobsWakesWhenAnotherHostQueuesAJob) {
  std::unique_ptr<PostgresStorage> worker_host = openHost();
  std::unique_ptr<PostgresStorage> api_host = openHost();

  // Nothing queued: the wait runs out and says so.
  const Clock::time_point quiet_start = Clock::now();
  EXPECT_FALSE(worker_host->waitForJobs(300ms));
  EXPECT_GE(Clock::now() - quiet_start, 290ms);

  // Another host creates jobs until the waiter wakes (the first may race the waiter's start).
  constexpr auto kTimeout = 20s;
  std::atomic<bool> woke{false};
  const Clock::time_point wait_start = Clock::now();
  std::future<bool> waited = std::async(std::launch::async, [&] {
    const bool result = worker_host->waitForJobs(kTimeout);
    woke = true;
    return result;
  });
  for (int i = 0; !woke && Clock::now() - wait_start < kTimeout; ++i) {
    api_host->createJob(makeJob("job-" + std::to_string(i), nowMs()), "");
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(waited.get());
  EXPECT_LT(Clock::now() - wait_start, 10s) << "woken only by the timeout";

  // Drain what arrived meanwhile; then an announcement made while nobody waits is reported to
  // the next call, so a loop of claim-then-wait never sleeps through a job.
  while (worker_host->waitForJobs(200ms)) {
  }
  api_host->createJob(makeJob("job-between", nowMs()), "");
  const Clock::time_point between_start = Clock::now();
  EXPECT_TRUE(worker_host->waitForJobs(kTimeout));
  EXPECT_LT(Clock::now() - between_start, 10s);

  // A failed job sent back to the queue is announced too.
  std::optional<JobRecord> claimed = worker_host->claimJob(60s);
  ASSERT_TRUE(claimed);
  JobRecord failed = *claimed;
  failed.status = job_status::kError;
  failed.error = "b1: boom";
  ASSERT_TRUE(worker_host->finishJob(failed, claimed->lease_token, {}));
  while (worker_host->waitForJobs(200ms)) {
  }
  ASSERT_TRUE(api_host->retryJob(claimed->job_id).second);
  EXPECT_TRUE(worker_host->waitForJobs(kTimeout));
}

TEST_F(PostgresStorageTest, RecoversWhenTheServerDropsItsConnections) {
  std::unique_ptr<PostgresStorage> host = openHost();
  host->createJob(makeJob("job-1", nowMs()), "");
  EXPECT_FALSE(host->waitForJobs(100ms));  // listening from here on

  // What a server restart or a failover does to every connection of the host (the timeout
  // makes the call wait until the backends are gone).
  EXPECT_EQ(query("SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
                  " WHERE datname = current_database() AND application_name = 'blueprint-host'"),
            (std::vector<std::string>{"t", "t"}));

  // The pooled connection is replaced, not reported as an error.
  EXPECT_EQ(host->countQueued(), 1);
  // The listener reconnects and reports once, since jobs may have been queued meanwhile...
  const Clock::time_point start = Clock::now();
  EXPECT_TRUE(host->waitForJobs(20s));
  EXPECT_LT(Clock::now() - start, 10s);
  // ...and hears new jobs again.
  while (host->waitForJobs(200ms)) {
  }
  std::unique_ptr<PostgresStorage> other = openHost();
  other->createJob(makeJob("job-2", nowMs()), "");
  EXPECT_TRUE(host->waitForJobs(20s));
}

TEST_F(PostgresStorageTest, MigrationsRunOnceWhenHostsOpenTogether) {
  constexpr int kHosts = 4;
  std::vector<std::future<std::unique_ptr<PostgresStorage>>> opening;
  for (int i = 0; i < kHosts; ++i) {
    opening.push_back(std::async(std::launch::async, [&] { return openHost(); }));
  }
  std::vector<std::unique_ptr<PostgresStorage>> hosts;
  for (auto& host : opening) {
    try {
      hosts.push_back(host.get());
    } catch (const std::exception& e) {
      ADD_FAILURE() << "a host failed to open: " << e.what();
    }
  }
  ASSERT_EQ(hosts.size(), static_cast<std::size_t>(kHosts));

  std::vector<std::string> versions = query("SELECT version FROM schema_migrations ORDER BY 1");
  std::vector<std::string> expected;
  for (std::int64_t v = 1; v <= PostgresStorage::schemaVersion(); ++v) {
    expected.push_back(std::to_string(v));
  }
  EXPECT_EQ(versions, expected);

  // Every host works on the one schema.
  for (int i = 0; i < kHosts; ++i) {
    hosts[static_cast<std::size_t>(i)]->createJob(makeJob("job-" + std::to_string(i), nowMs()), "");
  }
  EXPECT_EQ(hosts.front()->countQueued(), kHosts);
}

TEST_F(PostgresStorageTest, RefusesASchemaNewerThanThisBuild) {
  openHost().reset();
  query("INSERT INTO schema_migrations (version, applied_at_ms) VALUES (" +
        std::to_string(PostgresStorage::schemaVersion() + 1) + ", 0)");
  try {
    openHost();
    FAIL() << "expected StorageError";
  } catch (const StorageError& e) {
    EXPECT_NE(std::string(e.what()).find("newer than this build"), std::string::npos) << e.what();
  }
}

TEST_F(PostgresStorageTest, CallersBeyondThePoolWaitForAConnection) {
  std::unique_ptr<PostgresStorage> host = openHost("?pool_size=1");
  constexpr int kThreads = 4;
  constexpr int kJobsPerThread = 25;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      try {
        for (int i = 0; i < kJobsPerThread; ++i) {
          host->createJob(makeJob("t" + std::to_string(t) + "-" + std::to_string(i), nowMs()), "");
        }
      } catch (const std::exception& e) {
        ADD_FAILURE() << "thread " << t << ": " << e.what();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(host->countQueued(), kThreads * kJobsPerThread);
  EXPECT_EQ(query("SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database()"
                  " AND application_name = 'blueprint-host'"),
            std::vector<std::string>{"1"});
}

TEST_F(PostgresStorageTest, ErrorsNameTheOperationButNeverThePassword) {
  std::unique_ptr<PostgresStorage> host = openHost();
  host->createJob(makeJob("job-1", nowMs()), "");
  try {
    host->createJob(makeJob("job-1", nowMs()), "");
    FAIL() << "expected StorageError";
  } catch (const StorageError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("createJob failed"), std::string::npos) << message;
    EXPECT_NE(message.find("@127.0.0.1:"), std::string::npos) << message;
    // The test cluster's password is "bp:p@ss/w%rd'\x" (see postgres_cluster.cpp).
    EXPECT_EQ(message.find("p@ss"), std::string::npos) << message;
    EXPECT_EQ(message.find("p%40ss"), std::string::npos) << message;
  }

  // A wrong password is refused with the server's reason, and the password stays out of it.
  const std::string url = database_->url();
  const std::size_t at = url.find('@');
  const std::string wrong = "postgresql://postgres:wrong-Passw0rd" + url.substr(at);
  try {
    PostgresStorage refused(wrong);
    FAIL() << "expected StorageError";
  } catch (const StorageError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("cannot open"), std::string::npos) << message;
    EXPECT_NE(message.find("password authentication failed"), std::string::npos) << message;
    EXPECT_EQ(message.find("wrong-Passw0rd"), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace blueprint::host
