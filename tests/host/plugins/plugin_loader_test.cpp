// SPDX-License-Identifier: Apache-2.0
// plugin_loader_test.cpp: PluginLoader and PluginManager against real plugin files built by this
// build (core_blocks.so and tests/fixtures/plugins/*): what loads, what is refused and with which
// advice, and the hot-swap contract of DESIGN §5 (previous build keeps serving, private cache
// copies, unload when the last reference goes).
#include "plugins/plugin_loader.hpp"

#include <dlfcn.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "plugins/plugin_manager.hpp"

namespace blueprint::host {
namespace {

namespace fs = std::filesystem;

/// A fresh directory under the system temp dir, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "bp_loader_test_XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

fs::path corePlugin() { return fs::path(BLUEPRINT_PLUGIN_DIR) / "core_blocks.so"; }

/// A fixture plugin: fixtures/plugins/<name>/<name>.so.
fs::path fixturePlugin(const std::string& name) {
  return fs::path(BLUEPRINT_FIXTURE_PLUGIN_DIR) / name / (name + ".so");
}

/// Files in `dir` (names only), sorted; empty when the directory does not exist.
std::vector<std::string> filesIn(const fs::path& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    names.push_back(it->path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

/// True while the dynamic loader still has `file` mapped (RTLD_NOLOAD never loads it).
bool isMapped(const fs::path& file) {
  void* handle = ::dlopen(file.c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (handle == nullptr) return false;
  ::dlclose(handle);
  return true;
}

/// Operators deploy by writing x.so.tmp and renaming it over x.so (DESIGN §5).
void deployAs(const fs::path& source, const fs::path& target) {
  fs::path tmp = target;
  tmp += ".tmp";
  fs::copy_file(source, tmp, fs::copy_options::overwrite_existing);
  fs::rename(tmp, target);
}

bool hasType(const PluginLoadResult& r, const std::string& type) {
  return std::any_of(r.types.begin(), r.types.end(),
                     [&](const auto& t) { return t->type == type; });
}

std::string abiVersion(unsigned major, unsigned minor) {
  return std::to_string(major) + "." + std::to_string(minor);
}

// ---- PluginLoader ----

TEST(PluginLoader, LoadsCoreBlocks) {
  TempDir tmp;
  const fs::path cache = tmp.path() / "cache";
  PluginLoader loader(cache);
  PluginLoadResult r = loader.load(corePlugin(), 7);
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_NE(r.plugin, nullptr);
  EXPECT_EQ(r.plugin->id(), "dev.blueprint.core");
  EXPECT_EQ(r.plugin->generation(), 7u);
  EXPECT_EQ(r.plugin->fileName(), "core_blocks.so");
  for (const char* type : {"api_trigger", "return_value", "set_state", "log_message", "parse_json"})
    EXPECT_TRUE(hasType(r, type)) << type;
  for (const auto& t : r.types) {
    EXPECT_EQ(t->plugin, r.plugin) << t->type;
    EXPECT_NE(t->vtable, nullptr) << t->type;
  }
  // The host loads its private copy, never the operator's file (DESIGN §5).
  const fs::path copy = cache / "core_blocks.g7.so";
  EXPECT_EQ(r.plugin->cachePath(), copy);
  EXPECT_TRUE(fs::exists(copy));
  EXPECT_TRUE(isMapped(copy));
  r = PluginLoadResult{};
  EXPECT_FALSE(fs::exists(copy));
  EXPECT_FALSE(isMapped(copy));
}

TEST(PluginLoader, AcceptsCoreBlocksElf) { EXPECT_EQ(PluginLoader::checkElf(corePlugin()), ""); }

TEST(PluginLoader, RejectsAbiMajor2) {
  TempDir tmp;
  PluginLoader loader(tmp.path() / "cache");
  PluginLoadResult r = loader.load(fixturePlugin("abi_major_2"), 1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.plugin, nullptr);
  EXPECT_TRUE(r.types.empty());
  EXPECT_NE(r.error.find("abi_major_2.so: "), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("ABI 2.0"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("ABI " + abiVersion(BP_ABI_MAJOR, BP_ABI_MINOR)), std::string::npos)
      << r.error;
  EXPECT_NE(r.error.find("rebuild it against SDK " + std::to_string(BP_ABI_MAJOR) + ".x"),
            std::string::npos)
      << r.error;
  EXPECT_TRUE(filesIn(tmp.path() / "cache").empty()) << "a refused build leaves no cache copy";
}

TEST(PluginLoader, RejectsNewerMinor) {
  TempDir tmp;
  PluginLoader loader(tmp.path() / "cache");
  PluginLoadResult r = loader.load(fixturePlugin("newer_minor"), 1);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error.find("newer_minor.so: "), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("ABI " + abiVersion(BP_ABI_MAJOR, BP_ABI_MINOR + 1)), std::string::npos)
      << r.error;
  EXPECT_NE(r.error.find("newer than this host's " + abiVersion(BP_ABI_MAJOR, BP_ABI_MINOR)),
            std::string::npos)
      << r.error;
  EXPECT_NE(r.error.find("upgrade the host or rebuild the plugin"), std::string::npos) << r.error;
  EXPECT_TRUE(filesIn(tmp.path() / "cache").empty());
}

TEST(PluginLoader, RejectsMissingEntry) {
  TempDir tmp;
  PluginLoader loader(tmp.path() / "cache");
  PluginLoadResult r = loader.load(fixturePlugin("missing_entry"), 1);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error.find("missing_entry.so: does not export bp_plugin_v1"), std::string::npos)
      << r.error;
  EXPECT_NE(r.error.find("blueprint_add_block()"), std::string::npos) << r.error;
  // Refused from the ELF symbol table alone: the library was never copied nor dlopened.
  EXPECT_TRUE(filesIn(tmp.path() / "cache").empty());
  EXPECT_FALSE(isMapped(fixturePlugin("missing_entry")));
}

TEST(PluginLoader, RejectsUniqueSymbols) {
  TempDir tmp;
  PluginLoader loader(tmp.path() / "cache");
  PluginLoadResult r = loader.load(fixturePlugin("unique_symbol"), 1);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error.find("unique_symbol.so: "), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("STB_GNU_UNIQUE"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("could never be unloaded"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("blueprint_add_block()"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("-fno-gnu-unique"), std::string::npos) << r.error;
  // Never dlopened: a UNIQUE symbol would have pinned it in the process for good.
  EXPECT_TRUE(filesIn(tmp.path() / "cache").empty());
  EXPECT_FALSE(isMapped(fixturePlugin("unique_symbol")));
}

TEST(PluginLoader, RejectsTruncatedFile) {
  TempDir tmp;
  const fs::path truncated = tmp.path() / "half_copied.so";
  fs::copy_file(corePlugin(), truncated);
  fs::resize_file(truncated, 1000);
  PluginLoader loader(tmp.path() / "cache");
  PluginLoadResult r = loader.load(truncated, 1);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error.find("half_copied.so: "), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("truncated"), std::string::npos) << r.error;
  // What to do: copy the whole file again, the safe way.
  EXPECT_NE(r.error.find("rename"), std::string::npos) << r.error;
  EXPECT_TRUE(filesIn(tmp.path() / "cache").empty());
}

TEST(PluginLoader, RejectsNonElfFile) {
  TempDir tmp;
  const fs::path text = tmp.path() / "readme.so";
  {
    std::FILE* f = std::fopen(text.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("not a library\n", f);
    std::fclose(f);
  }
  PluginLoader loader(tmp.path() / "cache");
  PluginLoadResult r = loader.load(text, 1);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error.find("readme.so: not an ELF file"), std::string::npos) << r.error;
}

TEST(PluginLoader, RejectsFailingInit) {
  TempDir tmp;
  PluginLoader loader(tmp.path() / "cache");
  PluginLoadResult r = loader.load(fixturePlugin("throwing_init"), 1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error, "throwing_init.so: init failed: license file /etc/idle.lic not found");
  EXPECT_EQ(r.plugin, nullptr);
  EXPECT_TRUE(filesIn(tmp.path() / "cache").empty());
}

// A C++ init that throws instead of returning a status is a rejection, not an exception
// unwinding into the host's reload thread.
TEST(PluginLoader, RejectsInitThatThrows) {
  TempDir tmp;
  PluginLoader loader(tmp.path() / "cache");
  PluginLoadResult r = loader.load(fixturePlugin("init_throws"), 1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error,
            "init_throws.so: init threw an exception: cannot reach the licence server (init must "
            "report failure through its status and error sink)");
  EXPECT_EQ(r.plugin, nullptr);
  EXPECT_TRUE(filesIn(tmp.path() / "cache").empty());
}

// An SDK plugin whose manifest cannot be built (BlockSpec::example is not JSON) makes its entry
// return NULL instead of throwing through it: a load error, not std::terminate in the host.
TEST(PluginLoader, RejectsSdkPluginWhoseManifestCannotBeBuilt) {
  TempDir tmp;
  PluginLoader loader(tmp.path() / "cache");
  PluginLoadResult r = loader.load(fixturePlugin("malformed_manifest"), 1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error.rfind("malformed_manifest.so: bp_plugin_v1() returned NULL: the plugin "
                          "refused to describe itself",
                          0),
            0u)
      << r.error;
  EXPECT_EQ(r.plugin, nullptr);
  EXPECT_TRUE(filesIn(tmp.path() / "cache").empty());
}

TEST(PluginLoader, LoadsPlainCPlugin) {
  TempDir tmp;
  PluginLoader loader(tmp.path() / "cache");
  PluginLoadResult r = loader.load(fixturePlugin("good_minimal"), 3);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.plugin->id(), "dev.blueprint.test.minimal");
  ASSERT_EQ(r.types.size(), 1u);
  const BlockType& hello = *r.types[0];
  EXPECT_EQ(hello.type, "minimal.hello");
  EXPECT_EQ(hello.end_states, (std::vector<std::string>{"success", "error"}));
  // Call it through the C ABI exactly as the engine does.
  std::string output, error, end_state;
  auto append = [](void* ctx, const char* data, std::size_t size) {
    static_cast<std::string*>(ctx)->append(data, size);
  };
  bp_run_args args{};
  args.struct_size = sizeof(bp_run_args);
  args.fields_json = "{}";
  args.fields_size = 2;
  args.output = bp_sink{&output, append};
  args.error = bp_sink{&error, append};
  args.end_state = bp_sink{&end_state, append};
  EXPECT_EQ(hello.vtable->run(nullptr, &args), BP_STATUS_OK);
  EXPECT_EQ(output, "\"hi\"");
  EXPECT_EQ(error, "");
  EXPECT_EQ(end_state, "");
}

// BP_EXT_NATIVE_JSON is opt-in: an SDK plugin (core_blocks) announces the host's layout and gets
// native JSON; a C plugin and an SDK plugin built with BLUEPRINT_SDK_NATIVE_JSON=0 leave
// bp_plugin.native_json NULL and get JSON text, and their blocks still run.
TEST(PluginLoader, PassesNativeJsonOnlyToPluginsThatOptIn) {
  TempDir tmp;
  PluginLoader loader(tmp.path() / "cache");
  PluginLoadResult core = loader.load(corePlugin(), 1);
  ASSERT_TRUE(core.ok()) << core.error;
  EXPECT_TRUE(core.types.front()->native_json);
  PluginLoadResult c_plugin = loader.load(fixturePlugin("good_minimal"), 2);
  ASSERT_TRUE(c_plugin.ok()) << c_plugin.error;
  EXPECT_FALSE(c_plugin.types.front()->native_json);
  PluginLoadResult text_only = loader.load(fixturePlugin("text_json_only"), 3);
  ASSERT_TRUE(text_only.ok()) << text_only.error;
  ASSERT_EQ(text_only.types.size(), 1u);
  const BlockType& echo = *text_only.types.front();
  EXPECT_FALSE(echo.native_json);
  EXPECT_EQ(text_only.plugin->plugin()->native_json, nullptr);

  std::string output, error;
  auto append = [](void* ctx, const char* data, std::size_t size) {
    static_cast<std::string*>(ctx)->append(data, size);
  };
  const std::string fields = R"({"text":"plain"})";
  bp_sink create_error{&error, append};
  void* instance = echo.vtable->create(fields.data(), fields.size(), &create_error);
  ASSERT_NE(instance, nullptr) << error;
  bp_run_args args{};
  args.struct_size = sizeof(bp_run_args);
  args.fields_json = fields.data();
  args.fields_size = fields.size();
  args.output = bp_sink{&output, append};
  args.error = bp_sink{&error, append};
  EXPECT_EQ(echo.vtable->run(instance, &args), BP_STATUS_OK) << error;
  echo.vtable->destroy(instance);
  EXPECT_EQ(output, "\"plain\"");
}

// ---- PluginManager: hot-swap (DESIGN §5) ----

/// A plugin directory and a cache directory under one temp dir.
struct PluginDirs {
  TempDir tmp;
  fs::path plugins = tmp.path() / "plugins";
  fs::path cache = tmp.path() / "cache";
  PluginDirs() { fs::create_directories(plugins); }
};

TEST(PluginManager, LoadsEveryPluginOfTheDirectory) {
  PluginDirs dirs;
  fs::copy_file(corePlugin(), dirs.plugins / "core_blocks.so");
  fs::copy_file(fixturePlugin("good_minimal"), dirs.plugins / "good_minimal.so");
  PluginManager manager(dirs.plugins, dirs.cache);
  ReloadReport report = manager.reload();
  EXPECT_EQ(report.loaded.size(), 2u);
  EXPECT_TRUE(report.rejected.empty()) << report.toJson().dump();
  auto catalog = manager.current();
  EXPECT_NE(catalog->find("return_value"), nullptr);
  EXPECT_NE(catalog->find("minimal.hello"), nullptr);
  EXPECT_EQ(catalog->generation(), report.catalog_generation);
}

TEST(PluginManager, KeepsPreviousBuildWhenReplacedByBrokenOne) {
  PluginDirs dirs;
  const fs::path file = dirs.plugins / "core_blocks.so";
  deployAs(corePlugin(), file);
  PluginManager manager(dirs.plugins, dirs.cache);
  ASSERT_EQ(manager.reload().loaded.size(), 1u);
  const std::uint64_t serving = manager.current()->find("return_value")->plugin->generation();

  deployAs(fixturePlugin("abi_major_2"), file);
  ReloadReport report = manager.reload();
  EXPECT_TRUE(report.loaded.empty());
  ASSERT_EQ(report.rejected.size(), 1u);
  EXPECT_NE(report.rejected[0].find("core_blocks.so: built for plugin ABI 2.0"), std::string::npos)
      << report.rejected[0];
  auto catalog = manager.current();
  ASSERT_NE(catalog->find("return_value"), nullptr) << "the previous build keeps serving";
  EXPECT_EQ(catalog->find("return_value")->plugin->generation(), serving);
  EXPECT_EQ(catalog->find("future.block"), nullptr);
  ASSERT_EQ(catalog->plugins().size(), 1u);
  EXPECT_EQ(catalog->plugins()[0].generation, serving);
  EXPECT_NE(catalog->plugins()[0].last_error.find("ABI 2.0"), std::string::npos);
  EXPECT_TRUE(fs::exists(dirs.cache / ("core_blocks.g" + std::to_string(serving) + ".so")));

  // The same broken file is not retried on every reload.
  EXPECT_TRUE(manager.reload().rejected.empty());

  // A good build replaces it; the old generation unloads once nothing refers to it.
  deployAs(corePlugin(), file);
  catalog.reset();
  report = manager.reload();
  ASSERT_EQ(report.loaded.size(), 1u) << report.toJson().dump();
  const std::uint64_t next = manager.current()->find("return_value")->plugin->generation();
  EXPECT_GT(next, serving);
  EXPECT_EQ(filesIn(dirs.cache),
            (std::vector<std::string>{"core_blocks.g" + std::to_string(next) + ".so"}));
}

TEST(PluginManager, RemovesTypesOfDeletedFile) {
  PluginDirs dirs;
  fs::copy_file(corePlugin(), dirs.plugins / "core_blocks.so");
  fs::copy_file(fixturePlugin("good_minimal"), dirs.plugins / "good_minimal.so");
  PluginManager manager(dirs.plugins, dirs.cache);
  manager.reload();
  ASSERT_NE(manager.current()->find("minimal.hello"), nullptr);

  fs::remove(dirs.plugins / "good_minimal.so");
  ReloadReport report = manager.reload();
  EXPECT_EQ(report.removed, (std::vector<std::string>{"good_minimal.so"}));
  auto catalog = manager.current();
  EXPECT_EQ(catalog->find("minimal.hello"), nullptr);
  EXPECT_NE(catalog->find("return_value"), nullptr);
  ASSERT_EQ(catalog->plugins().size(), 1u);
  EXPECT_EQ(catalog->plugins()[0].file_name, "core_blocks.so");
}

TEST(PluginManager, RemovesCacheCopyWhenLastReferenceGoes) {
  PluginDirs dirs;
  fs::copy_file(corePlugin(), dirs.plugins / "core_blocks.so");
  PluginManager manager(dirs.plugins, dirs.cache);
  manager.reload();
  std::shared_ptr<const Catalog> catalog = manager.current();
  std::shared_ptr<const BlockType> type = catalog->findShared("return_value");
  ASSERT_NE(type, nullptr);
  const fs::path copy = type->plugin->cachePath();
  EXPECT_EQ(copy.parent_path(), dirs.cache);
  EXPECT_TRUE(fs::exists(copy));
  EXPECT_TRUE(isMapped(copy));
  const int zombies_before = zombieGenerations("core_blocks.so");

  fs::remove(dirs.plugins / "core_blocks.so");
  manager.reload();
  EXPECT_EQ(manager.current()->find("return_value"), nullptr);
  EXPECT_TRUE(fs::exists(copy)) << "a catalogue still in use pins its generation";

  catalog.reset();
  EXPECT_TRUE(fs::exists(copy)) << "a BlockType still in use pins its library";
  EXPECT_TRUE(isMapped(copy));

  type.reset();
  EXPECT_FALSE(fs::exists(copy));
  EXPECT_FALSE(isMapped(copy)) << "dlclose must really unload the library";
  EXPECT_EQ(zombieGenerations("core_blocks.so"), zombies_before);
  EXPECT_TRUE(filesIn(dirs.cache).empty());
}

TEST(PluginManager, ReportsDuplicateBlockTypes) {
  PluginDirs dirs;
  fs::copy_file(corePlugin(), dirs.plugins / "a_core.so");
  fs::copy_file(corePlugin(), dirs.plugins / "b_core.so");
  PluginManager manager(dirs.plugins, dirs.cache);
  ReloadReport report = manager.reload();
  ASSERT_FALSE(report.rejected.empty());
  EXPECT_NE(report.rejected[0].find("b_core.so: block type"), std::string::npos)
      << report.rejected[0];
  EXPECT_NE(report.rejected[0].find("already provided by a_core.so"), std::string::npos)
      << report.rejected[0];
  EXPECT_EQ(manager.current()->find("return_value")->plugin->fileName(), "a_core.so");
}

}  // namespace
}  // namespace blueprint::host
