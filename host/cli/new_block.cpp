// SPDX-License-Identifier: Apache-2.0
#include "new_block.hpp"

#include <fstream>
#include <regex>
#include <stdexcept>

namespace blueprint::cli {

namespace fs = std::filesystem;

namespace {

void replaceAll(std::string& text, const std::string& from, const std::string& to) {
  for (std::size_t pos = 0; (pos = text.find(from, pos)) != std::string::npos; pos += to.size())
    text.replace(pos, from.size(), to);
}

void writeFile(const fs::path& path, std::string text, const std::string& name,
               const std::string& type, const std::string& class_name) {
  replaceAll(text, "@NAME@", name);
  replaceAll(text, "@TYPE@", type);
  replaceAll(text, "@CLASS@", class_name);
  std::ofstream out(path);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

const char* kCMake = R"(cmake_minimum_required(VERSION 3.25)
project(@NAME@ VERSION 0.1.0 LANGUAGES CXX)

# The installed Blueprint SDK; pass -DCMAKE_PREFIX_PATH=<prefix> if it is not in /usr/local.
find_package(BlueprintSDK 1.2.1 REQUIRED)

# @NAME@.so: exports only bp_plugin_v1, checked after every build.
blueprint_add_block(@NAME@ block.cpp)

# `cpack -G DEB` in the build directory: a .deb that installs @NAME@.so into
# /usr/lib/blueprint/plugins (also what `cmake --install` does, under its prefix).
blueprint_package_block(@NAME@
  MAINTAINER "@NAME@ maintainers <maintainers@example.org>"
  DESCRIPTION "Blueprint block @TYPE@")

# Unit tests: load the built .so through the plugin ABI (blueprint/testing.hpp). They need
# GoogleTest (Debian/Ubuntu: libgtest-dev): without it configuring fails, so `ctest` never passes
# by running nothing. -DBUILD_TESTING=OFF builds the block alone.
option(BUILD_TESTING "Build the unit tests of @NAME@, which need GoogleTest" ON)
if(BUILD_TESTING)
  enable_testing()
  blueprint_add_block_test(@NAME@_test @NAME@ block_test.cpp)
endif()
)";

const char* kBlock = R"(// @TYPE@: reverses its `text` field. Replace it with your own block.
#include <blueprint/sdk.hpp>

#include <algorithm>

namespace @NAME@ {

/// Reverses `text`; takes the `error` end state when `text` is empty.
class @CLASS@ final : public blueprint::Block {
 public:
  static constexpr std::string_view kType = "@TYPE@";

  static blueprint::BlockSpec spec() {
    return blueprint::BlockSpec(kType, "@CLASS@")
        .description("Returns `text` reversed.")
        .field(blueprint::Field::string("text").required().description("Text to reverse."))
        .endStates({"success", "error"})
        .instant()  // never waits: lets the host send a fast run's events in one write
        .example(R"json({"text":"abc"})json", R"json("cba")json");
  }

  blueprint::Result run(blueprint::Context& ctx, const blueprint::Json& fields) override {
    // A missing or non-text `text` throws a FieldError naming it: the block's error message.
    std::string text = blueprint::Fields(fields).get<std::string>("text");
    if (text.empty()) return blueprint::Result::error("text is empty");
    std::reverse(text.begin(), text.end());
    ctx.log(blueprint::LogLevel::Debug, "reversed " + std::to_string(text.size()) + " bytes");
    return blueprint::Result::success(text);
  }
};

}  // namespace @NAME@

// Every block type of this library, listed once.
BLUEPRINT_PLUGIN("com.example.@NAME@", "0.1.0", @NAME@::@CLASS@)
)";

const char* kTest = R"(// Unit tests of @TYPE@ through the same C ABI the host uses.
#include <blueprint/testing.hpp>
#include <gtest/gtest.h>

TEST(@CLASS@, ReversesText) {
  blueprint::testing::PluginUnderTest plugin(PLUGIN_PATH);
  auto out = plugin.run("@TYPE@", {{"text", "abc"}});
  EXPECT_EQ(out.end_state, "success");
  EXPECT_EQ(out.output, "cba");
}

TEST(@CLASS@, RejectsEmptyText) {
  blueprint::testing::PluginUnderTest plugin(PLUGIN_PATH);
  auto out = plugin.run("@TYPE@", {{"text", ""}});
  EXPECT_EQ(out.end_state, "error");
  EXPECT_EQ(out.error, "text is empty");
}
)";

const char* kBlueprint = R"({
  "name": "@NAME@ sample",
  "blueprints": [
    {
      "id": "sample",
      "blocks": [
        { "id": "trigger", "type": "api_trigger",
          "fields": { "default_result": "{\"inputs\":{\"text\":\"hello\"}}" },
          "next": { "trigger": "block" } },
        { "id": "block", "type": "@TYPE@", "fields": { "text": "@{result.inputs.text}" },
          "next": { "success": "reply", "error": "failed" } },
        { "id": "reply", "type": "return_value", "fields": { "value": "@{result}" } },
        { "id": "failed", "type": "return_value", "fields": { "value": "failed: @{message}" } }
      ]
    }
  ]
}
)";

const char* kReadme = R"(# @NAME@

A Blueprint block plugin with one block type, `@TYPE@`.

    cmake -S . -B build -DCMAKE_PREFIX_PATH=<where the Blueprint SDK is installed>
    cmake --build build && ctest --test-dir build
    blueprint run blueprint.json --plugins <a dir with build/@NAME@.so and core_blocks.so> --inputs '{"text":"abc"}'

The tests need GoogleTest (`sudo apt install libgtest-dev`): configuring stops with that advice
when it is missing. `-DBUILD_TESTING=OFF` builds the block without its tests.

Deploy by copying `build/@NAME@.so` into the host's plugin directory as `@NAME@.so.tmp` and
renaming it to `@NAME@.so`; a host watching the directory swaps it in without a restart.

On a host installed from the `blueprint-host` package, ship it as a package instead:

    (cd build && cpack -G DEB)
    sudo apt install ./build/blueprint-block-*.deb    # → /usr/lib/blueprint/plugins/@NAME@.so

Set `MAINTAINER` (and `LICENSE_FILE`) in `blueprint_package_block()` in CMakeLists.txt first.
)";

}  // namespace

void scaffoldBlockProject(const std::string& name, const std::string& type, const fs::path& dir) {
  if (!std::regex_match(name, std::regex("[A-Za-z_][A-Za-z0-9_]{0,63}")))
    throw std::runtime_error("'" + name +
                             "' is not a usable plugin name: use letters, digits and _ "
                             "(a C identifier), e.g. acme_text");
  if (!std::regex_match(type, std::regex("[a-z0-9_]+\\.[a-z0-9_.]+")))
    throw std::runtime_error("block type '" + type +
                             "' must be dotted lower-case for third parties, e.g. acme.reverse");
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_empty(dir, ec))
    throw std::runtime_error(dir.string() + " exists and is not empty");
  fs::create_directories(dir, ec);
  if (ec) throw std::runtime_error("cannot create " + dir.string() + ": " + ec.message());
  std::string class_name;
  bool upper = true;
  for (char c : type.substr(type.rfind('.') + 1)) {
    if (c == '_') {
      upper = true;
      continue;
    }
    class_name += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    upper = false;
  }
  if (class_name.empty() || !std::isalpha(static_cast<unsigned char>(class_name[0])))
    class_name = "Block" + class_name;
  writeFile(dir / "CMakeLists.txt", kCMake, name, type, class_name);
  writeFile(dir / "block.cpp", kBlock, name, type, class_name);
  writeFile(dir / "block_test.cpp", kTest, name, type, class_name);
  writeFile(dir / "blueprint.json", kBlueprint, name, type, class_name);
  writeFile(dir / "README.md", kReadme, name, type, class_name);
}

}  // namespace blueprint::cli
