// SPDX-License-Identifier: Apache-2.0
// private_data_test.cpp: what the host keeps stays private (issue 11, L4 and L5). A storage
// URL's password never reaches the real binary's exit message, however the URL is mistyped; the
// data directory of a real host is 0700 and the database, its -wal/-shm files and the plugin
// cache are the owner's alone, whatever umask the host was started with, and an existing data
// directory that others could read is tightened at start-up with a log line.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "hostile/hostile_support.hpp"
#include "support/api_helpers.hpp"
#include "support/http_client.hpp"
#include "support/test_host.hpp"

namespace blueprint::testing {
namespace {

namespace fs = std::filesystem;

/// The permission bits of `path` (never following a symlink); ~0 when it cannot be read.
unsigned modeOf(const fs::path& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return ~0U;
  return st.st_mode & 07777U;
}

/// The umask hosts are usually started with, for the scope of a test: the host must not rely on
/// the one it inherits.
class UsualUmask {
 public:
  UsualUmask() : saved_(::umask(022)) {}
  ~UsualUmask() { ::umask(saved_); }
  UsualUmask(const UsualUmask&) = delete;
  UsualUmask& operator=(const UsualUmask&) = delete;

 private:
  mode_t saved_;
};

Json echoAgent() {
  return agent(
      "Echo",
      {blueprint("echo", {block("trigger", "api_trigger", {}, {{"trigger", "r"}}),
                          block("r", "return_value", {{"value", "@{payload.inputs.secret}"}})})});
}

/// Runs one job through the host so the database has written payload and result.
void storeAJob(const TestHost& host) {
  HttpClient client(host.port(), host.invokeKey());
  HttpResponse r = client.postJson(triggerPath("echo", "echo") + "/jobs",
                                   Json{{"inputs", {{"secret", "card 4111"}}}});
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(waitForJob(client, r.json().value("job_id", "")).value("artifact", ""), "card 4111");
}

/// Asserts the modes a host's data directory must have while it runs.
void expectPrivate(const TestHost& host) {
  const fs::path data = host.dataDir();
  EXPECT_EQ(modeOf(data), 0700U) << data;
  EXPECT_EQ(modeOf(data / "host.db"), 0600U);
  for (const char* name : {"host.db-wal", "host.db-shm"}) {
    const fs::path file = data / name;
    if (fs::exists(file)) {
      EXPECT_EQ(modeOf(file), 0600U) << file;
    }
  }
  const fs::path cache = data / "plugin-cache";
  ASSERT_TRUE(fs::is_directory(cache));
  EXPECT_EQ(modeOf(cache), 0700U);
  std::size_t copies = 0;
  for (const auto& entry : fs::directory_iterator(cache)) {
    ++copies;
    EXPECT_EQ(modeOf(entry.path()), 0600U) << entry.path();
  }
  EXPECT_GT(copies, 0U);
}

TEST(PrivateData, ANewDataDirectoryAndEverythingInItIsTheOwnersAlone) {
  UsualUmask umask_022;
  TestHostOptions options;
  options.agents["echo"] = echoAgent();
  TestHost host(options);
  fs::remove_all(host.dataDir());  // the host creates it
  ASSERT_TRUE(host.start());
  storeAJob(host);
  expectPrivate(host);
  EXPECT_TRUE(stillServing(host));
}

TEST(PrivateData, AnExistingDataDirectoryOthersCouldReadIsTightenedAtStartUp) {
  UsualUmask umask_022;
  TestHostOptions options;
  options.agents["echo"] = echoAgent();
  TestHost host(options);
  // What an earlier host left: a world-readable directory, database and key file.
  fs::permissions(host.dataDir(), fs::perms(0755), fs::perm_options::replace);
  std::ofstream(host.dataDir() / "host.db").close();
  fs::permissions(host.dataDir() / "host.db", fs::perms(0644), fs::perm_options::replace);
  std::ofstream(host.dataDir() / "api-keys.json") << R"({"keys":[]})";
  fs::permissions(host.dataDir() / "api-keys.json", fs::perms(0644), fs::perm_options::replace);
  ASSERT_TRUE(host.start());
  storeAJob(host);
  expectPrivate(host);
  EXPECT_EQ(modeOf(host.dataDir() / "api-keys.json"), 0600U);
  const std::string log = host.output();
  EXPECT_NE(log.find("tightened " + host.dataDir().string() + " from mode 0755 to 0700"),
            std::string::npos)
      << log;
  EXPECT_NE(
      log.find("tightened " + (host.dataDir() / "host.db").string() + " from mode 0644 to 0600"),
      std::string::npos)
      << log;
  EXPECT_TRUE(stillServing(host));
}

TEST(PrivateData, AStorageUrlNeverShowsItsPasswordInTheExitMessage) {
  // The password is "s3cret" + one character a URL treats specially + "Pa55": neither half may
  // appear, whatever the binary makes of the URL.
  const std::vector<std::string> urls = {
      "postgresq://blueprint:s3cret-Pa55@127.0.0.1:1/jobs",   // scheme mistyped
      "postgresql:/blueprint:s3cret-Pa55@127.0.0.1:1/jobs",   // one slash
      "postgresql://blueprint:s3cret/Pa55@127.0.0.1:1/jobs",  // '/' in the password
      "postgresql://blueprint:s3cret?Pa55@127.0.0.1:1/jobs",  // '?'
      "postgresql://blueprint:s3cret#Pa55@127.0.0.1:1/jobs",  // '#'
      "postgresql://blueprint:s3cret@Pa55@127.0.0.1:1/jobs",  // '@'
      "postgresql://blueprint:s3cret-Pa55/127.0.0.1:1/jobs",  // '@' forgotten
      // Percent-encoded, '/' is fine: the URL parses, and the server is what cannot be reached.
      "postgresql://blueprint:s3cret%2FPa55@127.0.0.1:1/jobs?connect_timeout=2",
  };
  for (const std::string& url : urls) {
    TestHostOptions options;
    options.config = {{"storage", url}};
    TestHost host(options);
    EXPECT_FALSE(host.start(std::chrono::seconds(15)));
    const std::optional<int> code = host.waitExit(std::chrono::seconds(5));
    ASSERT_TRUE(code.has_value());
    EXPECT_NE(*code, 0);
    const std::string output = host.output();
    SCOPED_TRACE(output);
    EXPECT_EQ(output.find("s3cret"), std::string::npos);
    EXPECT_EQ(output.find("Pa55"), std::string::npos);
    EXPECT_NE(output.find("127.0.0.1"), std::string::npos);
    if (url.find("%2F") != std::string::npos) {
      EXPECT_NE(output.find("postgresql://blueprint@127.0.0.1:1/jobs': cannot open"),
                std::string::npos);
    }
  }
}

}  // namespace
}  // namespace blueprint::testing
