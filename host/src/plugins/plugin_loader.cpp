// SPDX-License-Identifier: Apache-2.0
#include "plugins/plugin_loader.hpp"

#include <blueprint/version.h>
#include <elf.h>
#include <blueprint/native_json.hpp>

#include <cstring>
#include <exception>
#include <fstream>
#include <map>
#include <set>
#include <system_error>

namespace blueprint::host {

namespace fs = std::filesystem;

PluginLoader::PluginLoader(fs::path cache_dir) : cache_dir_(std::move(cache_dir)) {}

namespace {

std::string readFile(const fs::path& file, std::string& error) {
  std::ifstream in(file, std::ios::binary | std::ios::ate);
  if (!in) {
    error = "cannot read the file";
    return {};
  }
  // One bulk read: a byte-wise istreambuf_iterator copy of a multi-megabyte plugin made every
  // reload cost tens of milliseconds (seconds in sanitizer builds) before any real work.
  const std::streamoff size = in.tellg();
  std::string data(size > 0 ? static_cast<std::size_t>(size) : 0, '\0');
  in.seekg(0);
  if (size < 0 || !in.read(data.data(), static_cast<std::streamsize>(data.size()))) {
    error = "cannot read the file";
    return {};
  }
  return data;
}

template <typename T>
bool readAt(const std::string& data, std::uint64_t offset, T& out) {
  if (offset > data.size() || data.size() - offset < sizeof(T)) return false;
  std::memcpy(&out, data.data() + offset, sizeof(T));
  return true;
}

}  // namespace

std::string PluginLoader::checkElf(const fs::path& file) {
  std::string error;
  const std::string data = readFile(file, error);
  if (!error.empty()) return error;
  // A damaged file is most often one still being copied: say how to deploy it safely (§5).
  const std::string file_name = file.filename().string();
  auto damaged = [&](const std::string& what) {
    return what + "; if it was still being copied, copy it again: write " + file_name +
           ".tmp, then rename it over " + file_name;
  };
  Elf64_Ehdr eh{};
  if (!readAt(data, 0, eh) || std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0)
    return damaged("not an ELF file (truncated or not a shared library)");
  if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_type != ET_DYN)
    return "not a 64-bit ELF shared library; build it with blueprint_add_block()";
  if (eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shnum == 0)
    return damaged("ELF file has no section headers (truncated?)");
  std::vector<Elf64_Shdr> sections(eh.e_shnum);
  for (std::uint16_t i = 0; i < eh.e_shnum; ++i)
    if (!readAt(data, eh.e_shoff + std::uint64_t{i} * sizeof(Elf64_Shdr), sections[i]))
      return damaged("ELF section table is truncated");
  bool found_entry = false;
  int unique_count = 0;
  bool has_dynsym = false;
  for (const auto& sh : sections) {
    if (sh.sh_type != SHT_DYNSYM) continue;
    has_dynsym = true;
    if (sh.sh_link >= sections.size() || sh.sh_entsize != sizeof(Elf64_Sym))
      return damaged("ELF dynamic symbol table is malformed");
    const Elf64_Shdr& strtab = sections[sh.sh_link];
    if (strtab.sh_offset > data.size() || data.size() - strtab.sh_offset < strtab.sh_size)
      return damaged("ELF string table is truncated");
    for (std::uint64_t off = 0; off + sizeof(Elf64_Sym) <= sh.sh_size; off += sizeof(Elf64_Sym)) {
      Elf64_Sym sym{};
      if (!readAt(data, sh.sh_offset + off, sym)) return damaged("ELF symbol table is truncated");
      if (ELF64_ST_BIND(sym.st_info) == STB_GNU_UNIQUE) ++unique_count;
      if (sym.st_shndx == SHN_UNDEF || sym.st_name >= strtab.sh_size) continue;
      const char* name = data.data() + strtab.sh_offset + sym.st_name;
      const std::size_t max_len = strtab.sh_size - sym.st_name;
      if (strnlen(name, max_len) == std::strlen(BP_PLUGIN_ENTRY_SYMBOL) &&
          std::strncmp(name, BP_PLUGIN_ENTRY_SYMBOL, max_len) == 0 &&
          ELF64_ST_TYPE(sym.st_info) == STT_FUNC)
        found_entry = true;
    }
  }
  if (!has_dynsym) return damaged("ELF file has no dynamic symbol table");
  if (!found_entry)
    return "does not export bp_plugin_v1 (build it with blueprint_add_block() and "
           "BLUEPRINT_PLUGIN(...))";
  if (unique_count > 0)
    return "has " + std::to_string(unique_count) +
           " STB_GNU_UNIQUE symbols, so it could never be unloaded; build it with "
           "blueprint_add_block() (it passes -fno-gnu-unique)";
  return {};
}

std::string PluginLoader::parseManifest(const bp_plugin& plugin,
                                        std::vector<std::shared_ptr<BlockType>>& out) {
  if (plugin.manifest_json == nullptr) return "has no manifest";
  Json manifest = Json::parse(plugin.manifest_json, plugin.manifest_json + plugin.manifest_size,
                              nullptr, false);
  if (manifest.is_discarded() || !manifest.is_object() || !manifest.contains("blocks") ||
      !manifest["blocks"].is_array())
    return "manifest is not a JSON object with a \"blocks\" list";
  std::set<std::string> seen;
  for (const Json& entry : manifest["blocks"]) {
    if (!entry.is_object() || !entry.contains("type") || !entry["type"].is_string())
      return "manifest has a block without a \"type\" string";
    auto bt = std::make_shared<BlockType>();
    bt->type = entry["type"].get<std::string>();
    if (bt->type.empty() || !seen.insert(bt->type).second)
      return "manifest lists block type '" + bt->type + "' twice or empty";
    bt->manifest = entry;
    bt->name = entry.value("name", bt->type);
    bt->role = entry.value("role", "");
    bt->is_return = bt->role == "return";
    bt->instant = entry.value("instant", false);
    // `async` (ABI 1.3) promises a block that never blocks its thread; only a plugin built for
    // 1.3 can keep that promise (it needs defer), so older ones stay on the blocking pool.
    if (entry.contains("async") && !entry["async"].is_boolean())
      return "block type '" + bt->type + "' has a non-boolean \"async\"";
    bt->async = plugin.abi_minor >= 3 && entry.value("async", false);
    const Json states = entry.value("end_states", Json::array());
    if (!states.is_array() || states.empty())
      return "block type '" + bt->type + "' lists no end states";
    for (const Json& s : states) {
      if (!s.is_string()) return "block type '" + bt->type + "' has a non-string end state";
      bt->end_states.push_back(s.get<std::string>());
    }
    for (const Json& s : entry.value("branch_states", Json::array()))
      if (s.is_string()) bt->branch_states.push_back(s.get<std::string>());
    for (const Json& f : entry.value("fields", Json::array())) {
      if (!f.is_object() || !f.contains("name") || !f["name"].is_string())
        return "block type '" + bt->type + "' has a field without a name";
      FieldSpec spec;
      spec.name = f["name"].get<std::string>();
      spec.type = f.value("type", "string");
      static const std::map<std::string, FieldSpec::Kind> kTypes = {
          {"string", FieldSpec::Kind::String},   {"number", FieldSpec::Kind::Number},
          {"boolean", FieldSpec::Kind::Boolean}, {"object", FieldSpec::Kind::Object},
          {"list", FieldSpec::Kind::List},       {"any", FieldSpec::Kind::Any},
          {"json", FieldSpec::Kind::Json}};
      auto kind = kTypes.find(spec.type);
      if (kind == kTypes.end())
        return "block type '" + bt->type + "' field '" + spec.name + "' has unknown type '" +
               spec.type + "'";
      spec.kind = kind->second;
      spec.required = f.value("required", false);
      if (f.contains("default")) spec.default_value = f["default"];
      for (const Json& o : f.value("options", Json::array()))
        if (o.is_string()) spec.options.push_back(o.get<std::string>());
      spec.templated = f.value("template", true);
      if (f.contains("json_when") && f["json_when"].is_object()) {
        spec.json_when_field = f["json_when"].value("field", "");
        spec.json_when_value = f["json_when"].value("equals", "");
      }
      bt->fields.push_back(std::move(spec));
    }
    for (std::uint32_t i = 0; i < plugin.block_count; ++i) {
      const bp_block_vtable* vt = plugin.blocks[i];
      if (vt != nullptr && vt->type != nullptr && bt->type == vt->type) bt->vtable = vt;
    }
    if (bt->vtable == nullptr)
      return "manifest lists block type '" + bt->type + "' but no vtable provides it";
    if (bt->vtable->struct_size < offsetof(bp_block_vtable, destroy) + sizeof(void*) ||
        bt->vtable->run == nullptr)
      return "block type '" + bt->type + "' has an incomplete vtable (no run function)";
    out.push_back(std::move(bt));
  }
  if (out.empty()) return "manifest lists no block types";
  return {};
}

PluginLoadResult PluginLoader::load(const fs::path& file, std::uint64_t generation) const {
  PluginLoadResult result;
  const std::string file_name = file.filename().string();
  if (std::string err = checkElf(file); !err.empty()) {
    result.error = file_name + ": " + err;
    return result;
  }
  // Never dlopen the operator's file: it may be replaced while mapped (DESIGN §5).
  std::error_code ec;
  fs::create_directories(cache_dir_, ec);
  fs::path stem = file.stem();
  fs::path cache_path = cache_dir_ / (stem.string() + ".g" + std::to_string(generation) + ".so");
  fs::copy_file(file, cache_path, fs::copy_options::overwrite_existing, ec);
  if (ec) {
    result.error = file_name + ": cannot copy to the plugin cache " + cache_path.string() + ": " +
                   ec.message();
    return result;
  }
  // copy_file keeps the operator's mode (often 0755) whatever the umask; the copy is the
  // host's alone (issue 11, L5). dlopen needs read access only.
  fs::permissions(cache_path, fs::perms::owner_read | fs::perms::owner_write,
                  fs::perm_options::replace, ec);
  auto fail = [&](std::string message) {
    fs::remove(cache_path, ec);
    result = PluginLoadResult{};
    result.error = file_name + ": " + message;
    return result;
  };
  boost::dll::shared_library library;
  try {
    library.load(cache_path, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  } catch (const std::exception& e) {
    return fail(std::string("dlopen failed: ") + e.what());
  }
  if (!library.has(BP_PLUGIN_ENTRY_SYMBOL)) return fail("does not export bp_plugin_v1");
  auto entry = library.get<const bp_plugin*()>(BP_PLUGIN_ENTRY_SYMBOL);
  const bp_plugin* plugin = entry();
  if (plugin == nullptr)
    return fail(
        "bp_plugin_v1() returned NULL: the plugin refused to describe itself (an SDK plugin "
        "does this when building its manifest throws, e.g. a BlockSpec example that is not JSON; "
        "it writes the reason to the host's standard error)");
  if (plugin->struct_size < offsetof(bp_plugin, blocks) + sizeof(void*))
    return fail("bp_plugin struct is too small (" + std::to_string(plugin->struct_size) +
                " bytes); rebuild it against the current SDK");
  if (plugin->abi_major != BP_ABI_MAJOR)
    return fail("built for plugin ABI " + std::to_string(plugin->abi_major) + "." +
                std::to_string(plugin->abi_minor) + ", this host speaks ABI " +
                std::to_string(BP_ABI_MAJOR) + "." + std::to_string(BP_ABI_MINOR) +
                "; rebuild it against SDK " + std::to_string(BP_ABI_MAJOR) + ".x");
  if (plugin->abi_minor > BP_ABI_MINOR)
    return fail("built for plugin ABI " + std::to_string(plugin->abi_major) + "." +
                std::to_string(plugin->abi_minor) + ", newer than this host's " +
                std::to_string(BP_ABI_MAJOR) + "." + std::to_string(BP_ABI_MINOR) +
                "; upgrade the host or rebuild the plugin against an older SDK");
  std::vector<std::shared_ptr<BlockType>> types;
  std::string manifest_error;
  try {
    manifest_error = parseManifest(*plugin, types);
    // BP_EXT_NATIVE_JSON (ABI 1.2, block_abi.h): on only for a plugin that opted in with a
    // layout tag equal to the host's own, byte for byte; every other plugin keeps JSON text.
    const bool native = plugin->struct_size >= offsetof(bp_plugin, native_json) + sizeof(void*) &&
                        plugin->native_json != nullptr &&
                        blueprint::nativeJsonTag() == plugin->native_json;
    for (auto& t : types) t->native_json = native;
  } catch (const std::exception& e) {
    // A member of the wrong JSON type (e.g. a numeric "name") throws from nlohmann's value().
    manifest_error = std::string("manifest is malformed: ") + e.what();
  }
  if (!manifest_error.empty()) return fail(manifest_error);
  if (plugin->init != nullptr) {
    std::string init_error;
    bp_sink sink{&init_error, [](void* ctx, const char* d, std::size_t n) {
                   static_cast<std::string*>(ctx)->append(d, n);
                 }};
    // The boundary is C (status codes, never exceptions), but a C++ plugin's init may throw
    // anyway; left alone, that would unwind through reload() and, on the watcher's or SIGHUP's
    // thread, end the host. The message is copied out before the library can be unloaded: the
    // exception object may live in the plugin's code.
    std::string thrown;
    bp_status status = BP_STATUS_ERROR;
    try {
      status = plugin->init(&sink);
    } catch (const std::exception& e) {
      thrown = e.what();
      if (thrown.empty()) thrown = "no message";
    } catch (...) {
      thrown = "not a std::exception";
    }
    if (!thrown.empty())
      return fail("init threw an exception: " + thrown +
                  " (init must report failure through its status and error sink)");
    if (status != BP_STATUS_OK)
      return fail("init failed: " +
                  (init_error.empty() ? std::string("no reason given") : init_error));
  }
  result.plugin =
      std::make_shared<LoadedPlugin>(file_name, generation, cache_path, std::move(library), plugin);
  for (auto& t : types) {
    t->plugin = result.plugin;
    result.types.push_back(std::move(t));
  }
  return result;
}

}  // namespace blueprint::host
