// SPDX-License-Identifier: Apache-2.0
#include "plugins/plugin_watcher.hpp"

#include <Poco/Delegate.h>
#include <Poco/DirectoryWatcher.h>
#include <Poco/Logger.h>

#include <exception>

#include "plugins/plugin_manager.hpp"

namespace blueprint::host {

/// Adapts Poco's events (which pass an event object) to a plain callback.
struct PluginDirListener {
  std::function<void()> callback;
  void handle(const Poco::DirectoryWatcher::DirectoryEvent& event) {
    const std::string name = event.item.path();
    // Only finished plugin files matter: `x.so.tmp` is still being written.
    if (name.size() >= 3 && name.compare(name.size() - 3, 3, ".so") == 0) callback();
  }
};

PluginWatcher::PluginWatcher(PluginManager& plugins, std::chrono::milliseconds debounce)
    : plugins_(plugins), debounce_(debounce) {
  thread_ = std::thread([this] { loop(); });
  auto listener = std::make_shared<PluginDirListener>();
  listener->callback = [this] { onChange(); };
  watcher_ = std::make_unique<Poco::DirectoryWatcher>(
      plugins_.directory().string(),
      Poco::DirectoryWatcher::DW_ITEM_ADDED | Poco::DirectoryWatcher::DW_ITEM_REMOVED |
          Poco::DirectoryWatcher::DW_ITEM_MODIFIED | Poco::DirectoryWatcher::DW_ITEM_MOVED_FROM |
          Poco::DirectoryWatcher::DW_ITEM_MOVED_TO,
      1);
  // The delegates capture the listener by pointer; keep it alive as long as the watcher.
  listener_ = listener;
  watcher_->itemAdded += Poco::delegate(listener.get(), &PluginDirListener::handle);
  watcher_->itemRemoved += Poco::delegate(listener.get(), &PluginDirListener::handle);
  watcher_->itemModified += Poco::delegate(listener.get(), &PluginDirListener::handle);
  watcher_->itemMovedFrom += Poco::delegate(listener.get(), &PluginDirListener::handle);
  watcher_->itemMovedTo += Poco::delegate(listener.get(), &PluginDirListener::handle);
}

PluginWatcher::~PluginWatcher() {
  watcher_.reset();  // stops delivering events first
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

std::uint64_t PluginWatcher::reloads() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return reloads_;
}

void PluginWatcher::onChange() {
  std::lock_guard<std::mutex> lock(mutex_);
  pending_ = true;
  last_event_ = std::chrono::steady_clock::now();
  cv_.notify_all();
}

void PluginWatcher::loop() {
  auto& log = Poco::Logger::get("blueprint.plugins");
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    cv_.wait(lock, [&] { return stopping_ || pending_; });
    if (stopping_) break;
    // Debounce: wait until the directory has been quiet for the whole interval.
    while (!stopping_ && std::chrono::steady_clock::now() - last_event_ < debounce_)
      cv_.wait_until(lock, last_event_ + debounce_);
    if (stopping_) break;
    pending_ = false;
    lock.unlock();
    // An exception must not leave this thread: it would end the host. The previous catalogue
    // keeps serving, and the next change of the directory tries again.
    try {
      ReloadReport report = plugins_.reload();
      log.information(
          "plugin directory changed: catalogue generation %s (%s loaded, %s rejected, %s removed)",
          std::to_string(report.catalog_generation), std::to_string(report.loaded.size()),
          std::to_string(report.rejected.size()), std::to_string(report.removed.size()));
    } catch (const std::exception& e) {
      log.error("plugin reload failed: %s; the previous catalogue keeps serving",
                std::string(e.what()));
    }
    lock.lock();
    ++reloads_;
  }
}

}  // namespace blueprint::host
