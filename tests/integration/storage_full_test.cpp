// SPDX-License-Identifier: Apache-2.0
// Storage trouble answers honestly (issue 15): the real blueprint-host with its SQLite database
// on a 3 MB tmpfs the test mounts. Filled up by a file, job submits answer 503
// storage_unavailable with Retry-After, /readyz turns not ready, the failures are counted in
// /metrics and logged once (not once per request). With the file gone the host recovers by
// itself, and every job it accepted before, during and after completes.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
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

/// A tmpfs of `size` mounted at `dir` for the test's life; unmounted (lazily if still busy) at
/// the end.
class SmallTmpfs {
 public:
  SmallTmpfs(fs::path dir, const std::string& size) : dir_(std::move(dir)) {
    fs::create_directories(dir_);
    const std::string options = "size=" + size + ",mode=0700";
    if (::mount("tmpfs", dir_.c_str(), "tmpfs", 0, options.c_str()) == 0)
      mounted_ = true;
    else
      error_ = std::strerror(errno);
  }
  ~SmallTmpfs() {
    if (mounted_ && ::umount(dir_.c_str()) != 0) ::umount2(dir_.c_str(), MNT_DETACH);
    std::error_code ignored;
    fs::remove(dir_, ignored);
  }
  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }
  const fs::path& dir() const { return dir_; }

 private:
  fs::path dir_;
  bool mounted_ = false;
  std::string error_;
};

/// Writes `path` until the file system is full; the bytes written.
std::size_t fillUp(const fs::path& path) {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) return 0;
  const std::string chunk(16 * 1024, 'x');
  std::size_t written = 0;
  while (true) {
    const std::size_t n = std::fwrite(chunk.data(), 1, chunk.size(), file);
    written += n;
    if (n < chunk.size() || std::fflush(file) != 0) break;
  }
  std::fclose(file);
  return written;
}

std::size_t countOf(const std::string& text, const std::string& needle) {
  std::size_t count = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + needle.size()))
    ++count;
  return count;
}

double metricValue(const std::string& exposition, const std::string& name) {
  const std::size_t at = exposition.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::stod(exposition.substr(at + name.size() + 2));
}

TEST(StorageFull, SubmitsAnswer503ReadyzTurnsAndTheHostRecoversLosingNothing) {
  TestHostOptions options;
  options.agents["hello"] = agent(
      "Hello", {blueprint("hello", {block("trigger", "api_trigger", {}, {{"trigger", "reply"}}),
                                    block("reply", "return_value", {{"value", "hi"}})})});
  // Declared before the host, so the host has stopped when the disk is unmounted.
  SmallTmpfs disk(fs::temp_directory_path() / ("bp-small-disk-" + std::to_string(::getpid())),
                  "3m");
  if (!disk.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here (" << disk.error() << ")";
  // The database on the small disk (the plugin cache, tens of MB, stays in the data dir).
  TestHostOptions on_disk = options;
  on_disk.config = {{"storage", "sqlite:" + (disk.dir() / "host.db").string()},
                    {"job_workers", 2},
                    {"job_lease_ms", 1000},
                    {"job_poll_ms", 50},
                    {"storage_probe_ms", 200}};
  TestHost served(on_disk);
  ASSERT_TRUE(served.start());
  HttpClient client(served.port(), served.adminKey());
  const std::string submit_path = triggerPath("hello", "hello") + "/jobs";
  // Large payloads fill the database's log quickly once the disk is full.
  const Json body = {{"inputs", {{"filler", std::string(32 * 1024, 'p')}}}};

  std::vector<std::string> accepted;
  for (int i = 0; i < 5; ++i) {
    HttpResponse r = client.postJson(submit_path, body);
    ASSERT_EQ(r.status, 202) << r.body;
    accepted.push_back(r.json()["job_id"]);
  }
  ASSERT_EQ(httpRequest(served.port(), "GET", "/readyz").status, 200);

  const fs::path filler = disk.dir() / "filler";
  ASSERT_GT(fillUp(filler), 0u);

  // Submits go on until one is refused: every 202 before it is a job the host must run.
  HttpResponse refused;
  for (int i = 0; i < 400 && refused.status == 0; ++i) {
    HttpResponse r = client.postJson(submit_path, body);
    if (r.status == 202)
      accepted.push_back(r.json()["job_id"]);
    else
      refused = r;
  }
  ASSERT_EQ(refused.status, 503) << refused.body << "\n" << served.output();
  std::cout << "[ INFO     ] " << accepted.size() << " jobs accepted before the first 503\n";
  EXPECT_EQ(refused.errorCode(), "storage_unavailable") << refused.body;
  EXPECT_EQ(refused.header("Retry-After"), "5");
  EXPECT_FALSE(refused.json()["error"].value("message", "").empty());

  for (int i = 0; i < 5; ++i) {
    HttpResponse again = client.postJson(submit_path, body);
    EXPECT_EQ(again.status, 503) << again.body;
    EXPECT_EQ(again.errorCode(), "storage_unavailable");
  }
  // Other writes answer alike: saving an agent's draft.
  HttpResponse draft = client.put(
      "/v1/agents/other",
      agent("Other", {blueprint("b", {block("t", "api_trigger", {}, {{"trigger", "r"}}),
                                      block("r", "return_value",
                                            {{"value", std::string(64 * 1024, 'd')}})})}));
  EXPECT_EQ(draft.status, 503) << draft.body;
  EXPECT_EQ(draft.errorCode(), "storage_unavailable") << draft.body;
  EXPECT_EQ(draft.header("Retry-After"), "5");
  HttpResponse not_ready = httpRequest(served.port(), "GET", "/readyz");
  EXPECT_EQ(not_ready.status, 503) << not_ready.body;
  EXPECT_EQ(not_ready.errorCode(), "storage_unavailable") << not_ready.body;
  EXPECT_EQ(httpRequest(served.port(), "GET", "/healthz").status, 200);
  const std::string metrics = httpRequest(served.port(), "GET", "/metrics").body;
  EXPECT_GE(metricValue(metrics, "blueprint_storage_write_failures_total"), 6.0) << metrics;
  EXPECT_EQ(metricValue(metrics, "blueprint_storage_writable"), 0.0) << metrics;

  // Space returns: the host turns ready by itself (the probe), and submits are accepted again.
  fs::remove(filler);
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  int ready = 0;
  while (Clock::now() < deadline &&
         (ready = httpRequest(served.port(), "GET", "/readyz").status) != 200)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_EQ(ready, 200) << served.output();
  for (int i = 0; i < 3; ++i) {
    HttpResponse r = client.postJson(submit_path, body);
    ASSERT_EQ(r.status, 202) << r.body;
    accepted.push_back(r.json()["job_id"]);
  }

  // Nothing accepted is lost.
  for (const std::string& id : accepted) {
    Json job = waitForJob(client, id, std::chrono::seconds(60));
    EXPECT_EQ(job["status"], "completed") << job.dump();
  }

  // One line per state change, whatever the number of failed requests and job claims.
  const std::string log = served.output();
  EXPECT_EQ(countOf(log, "storage cannot take writes"), 1u) << log;
  EXPECT_EQ(countOf(log, "storage takes writes again"), 1u) << log;
  EXPECT_EQ(countOf(log, "claiming a job failed"), 0u) << log;
  EXPECT_EQ(countOf(log, "incident"), 0u) << log;
  ASSERT_EQ(served.stop(), 0);
}

}  // namespace
}  // namespace blueprint::testing
