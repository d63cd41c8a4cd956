// SPDX-License-Identifier: Apache-2.0
// job_id_test.cpp: job ids (issue 11, Tenancy) are UUID v4 from the kernel's CSPRNG, distinct
// across threads, and a forked child never repeats the ids its parent's batch still holds.
#include "runs/job_id.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mutex>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace blueprint::host {
namespace {

TEST(NewJobId, IsAUuidV4AndNeverRepeatsAcrossThreads) {
  static const std::regex kUuidV4(
      "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  std::mutex mutex;
  std::set<std::string> ids;
  std::vector<std::thread> threads;
  constexpr int kThreads = 4;
  constexpr int kPerThread = 5000;  // ~20 refills of each thread's batch
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      std::vector<std::string> mine;
      for (int i = 0; i < kPerThread; ++i) mine.push_back(newJobId());
      std::lock_guard<std::mutex> lock(mutex);
      ids.insert(mine.begin(), mine.end());
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(kThreads * kPerThread));
  for (const std::string& id : ids) ASSERT_TRUE(std::regex_match(id, kUuidV4)) << id;
}

TEST(NewJobId, AForkedChildDoesNotRepeatItsParentsNextIds) {
  newJobId();  // this thread's batch is filled and partly used
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const std::string id = newJobId();
    const bool written =
        ::write(pipe_fds[1], id.data(), id.size()) == static_cast<ssize_t>(id.size());
    ::_exit(written ? 0 : 1);
  }
  ::close(pipe_fds[1]);
  std::string child_id(36, '\0');
  const ssize_t got = ::read(pipe_fds[0], child_id.data(), child_id.size());
  ::close(pipe_fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_EQ(got, 36);
  EXPECT_NE(newJobId(), child_id) << "the child handed out the parent's next id";
}

}  // namespace
}  // namespace blueprint::host
