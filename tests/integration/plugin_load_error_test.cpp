// SPDX-License-Identifier: Apache-2.0
// A plugin that cannot describe itself is a load error, never the end of the host: an SDK
// plugin whose manifest throws while it is built (malformed_manifest.so) makes bp_plugin_v1()
// return NULL; the host rejects it with a clear reason, at start-up and on reload, and serves
// the plugins that load.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/http_client.hpp"
#include "support/test_host.hpp"

namespace blueprint::testing {
namespace {

TEST(PluginLoadError, AMalformedSdkManifestIsRejectedAndTheHostServes) {
  TestHostOptions options;
  options.plugins = {corePluginPath(), fixturePluginPath("malformed_manifest")};
  TestHost host(options);
  ASSERT_TRUE(host.start());

  const std::string out = host.output();
  EXPECT_NE(out.find("malformed_manifest.so: bp_plugin_v1() returned NULL: the plugin refused to "
                     "describe itself"),
            std::string::npos)
      << out;
  // The SDK says why on standard error: the example that is not JSON.
  EXPECT_NE(out.find("blueprint plugin dev.blueprint.test.malformed: cannot build its manifest: "
                     "[json.exception.parse_error.101]"),
            std::string::npos)
      << out;

  HttpClient admin(host.port(), host.adminKey());
  HttpResponse reload = admin.post("/v1/plugins/reload");
  ASSERT_EQ(reload.status, 200) << reload.body;
  // Unchanged files are not reloaded; the catalogue still lists the core blocks and the reason.
  HttpResponse blocks = admin.get("/v1/blocks");
  ASSERT_EQ(blocks.status, 200) << blocks.body;
  const nlohmann::json catalogue = nlohmann::json::parse(blocks.body);
  bool has_trigger = false, reported = false;
  for (const auto& block : catalogue["blocks"]) has_trigger |= block["type"] == "api_trigger";
  for (const auto& plugin : catalogue["plugins"])
    if (plugin["file"] == "malformed_manifest.so")
      reported = plugin["last_error"].is_string() &&
                 plugin["last_error"].get<std::string>().find("returned NULL") != std::string::npos;
  EXPECT_TRUE(has_trigger) << blocks.body;
  EXPECT_TRUE(reported) << blocks.body;
  EXPECT_EQ(httpRequest(host.port(), "GET", "/readyz").status, 200);

  std::optional<int> code = host.stop();
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0) << host.output();
}

}  // namespace
}  // namespace blueprint::testing
