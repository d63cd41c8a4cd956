// SPDX-License-Identifier: Apache-2.0
#include "storage/storage_modules.hpp"

#include <atomic>
#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/dll/shared_library.hpp>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <vector>

namespace blueprint::host {

namespace fs = std::filesystem;

namespace {

constexpr const char* kModuleFile = "blueprint_storage_postgres.so";
constexpr const char* kEntry = "blueprint_open_postgres_storage";

std::atomic<StorageFactory> g_registered{nullptr};

std::vector<fs::path> searchPath() {
  std::vector<fs::path> dirs;
  if (const char* dir = std::getenv("BLUEPRINT_MODULE_DIR"); dir != nullptr && *dir != '\0')
    dirs.emplace_back(dir);
  std::error_code ec;
  const fs::path program = boost::dll::program_location(ec);
  if (!ec) dirs.push_back(program.parent_path());   // the build tree, or a flat install
  dirs.emplace_back(BLUEPRINT_MODULE_INSTALL_DIR);  // `cmake --install`
  return dirs;
}

/// Loads the module once; the library stays loaded for the life of the process (open storages
/// run its code until exit).
StorageFactory moduleFactory() {
  static std::mutex mutex;
  static boost::dll::shared_library library;
  static StorageFactory factory = nullptr;
  std::lock_guard<std::mutex> lock(mutex);
  if (factory != nullptr) return factory;
  std::string looked;
  for (const fs::path& dir : searchPath()) {
    const fs::path file = dir / kModuleFile;
    looked += (looked.empty() ? "" : ", ") + file.string();
    std::error_code exists_ec;
    if (!fs::exists(file, exists_ec)) continue;
    try {
      library.load(file, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
    } catch (const std::exception& e) {
      throw StorageError("PostgreSQL storage: cannot load " + file.string() + ": " + e.what());
    }
    if (!library.has(kEntry))
      throw StorageError("PostgreSQL storage: " + file.string() + " does not export " + kEntry);
    factory = &library.get<Storage*(const char*)>(kEntry);
    return factory;
  }
  throw StorageError(std::string("PostgreSQL storage needs ") + kModuleFile +
                     ", which is built and installed with the host; looked in: " + looked +
                     " (set BLUEPRINT_MODULE_DIR to its directory)");
}

}  // namespace

void registerPostgresStorage(StorageFactory factory) { g_registered.store(factory); }

std::unique_ptr<Storage> openPostgresStorage(const std::string& url) {
  StorageFactory factory = g_registered.load();
  if (factory == nullptr) factory = moduleFactory();
  return std::unique_ptr<Storage>(factory(url.c_str()));
}

}  // namespace blueprint::host
