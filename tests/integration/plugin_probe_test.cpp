// SPDX-License-Identifier: Apache-2.0
// probe_plugins (DESIGN §4): each new plugin build is loaded first in a `blueprint probe` child,
// so a build that aborts the process loading it is rejected with the reason and the host keeps
// serving the plugins that load.
#include <gtest/gtest.h>

#include "support/http_client.hpp"
#include "support/test_host.hpp"

namespace blueprint::testing {
namespace {

TEST(PluginProbe, APluginThatAbortsWhenLoadedIsRejectedAndTheHostServes) {
  TestHostOptions options;
  options.plugins = {corePluginPath(), fixturePluginPath("abort_on_load"),
                     fixturePluginPath("good_minimal")};
  options.config = {{"probe_plugins", true}};
  TestHost host(options);
  ASSERT_TRUE(host.start());

  HttpClient admin(host.port(), host.adminKey());
  HttpResponse blocks = admin.get("/v1/blocks");
  ASSERT_EQ(blocks.status, 200) << blocks.body;
  EXPECT_NE(blocks.body.find("minimal.hello"), std::string::npos) << blocks.body;
  EXPECT_NE(blocks.body.find("api_trigger"), std::string::npos) << blocks.body;

  const std::string out = host.output();
  EXPECT_NE(out.find("abort_on_load.so: loading it in a probe process crashed with signal 6"),
            std::string::npos)
      << out;
  EXPECT_EQ(httpRequest(host.port(), "GET", "/readyz").status, 200);

  std::optional<int> code = host.stop();
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0) << host.output();
}

}  // namespace
}  // namespace blueprint::testing
