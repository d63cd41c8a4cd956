// SPDX-License-Identifier: Apache-2.0
// plugin_watcher.hpp: reloads plugins when the plugin directory changes (DESIGN §5). Events are
// debounced: an operator's `cp x.so.tmp && mv x.so.tmp x.so`, or a build writing several files,
// causes one reload once the directory has been quiet for the debounce interval.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include <functional>

namespace Poco {
class DirectoryWatcher;
}  // namespace Poco

namespace blueprint::host {

class PluginManager;
struct PluginDirListener;

class PluginWatcher {
 public:
  PluginWatcher(PluginManager& plugins, std::chrono::milliseconds debounce);
  ~PluginWatcher();
  PluginWatcher(const PluginWatcher&) = delete;
  PluginWatcher& operator=(const PluginWatcher&) = delete;

  /// Reloads completed since start (for tests and logs).
  std::uint64_t reloads() const;

 private:
  void onChange();
  void loop();

  PluginManager& plugins_;
  std::chrono::milliseconds debounce_;
  std::shared_ptr<PluginDirListener> listener_;
  std::unique_ptr<Poco::DirectoryWatcher> watcher_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  bool pending_ = false;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point last_event_;
  std::uint64_t reloads_ = 0;
  std::thread thread_;
};

}  // namespace blueprint::host
