// SPDX-License-Identifier: Apache-2.0
// The route table as the router reads it: every row reachable through its own pattern, the
// precedence of literal segments where patterns overlap, 405 with the methods a path answers,
// HEAD wherever GET is, and the console's rest-of-path parameter.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "api/route_table.hpp"

namespace blueprint::host {
namespace {

/// `pattern` with each `:name` replaced by "x<name>" (an id no literal segment equals).
std::string examplePath(const std::string& pattern) {
  std::string out;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != ':') {
      out += pattern[i];
      continue;
    }
    std::size_t end = pattern.find('/', i);
    if (end == std::string::npos) end = pattern.size();
    out += "x" + pattern.substr(i + 1, end - i - 1);
    i = end - 1;
  }
  return out;
}

TEST(RouteTable, EveryRowIsReachedThroughItsOwnPatternAndMethod) {
  std::set<std::string> seen;
  for (int i = 0; i < static_cast<int>(Route::kCount); ++i) {
    const auto route = static_cast<Route>(i);
    const RouteSpec& spec = routeSpec(route);
    EXPECT_EQ(spec.route, route);
    if (route == Route::NotFound) {
      EXPECT_EQ(spec.handler, nullptr);
      continue;
    }
    ASSERT_NE(spec.handler, nullptr) << spec.name;
    EXPECT_TRUE(seen.insert(spec.name).second) << "metric name " << spec.name << " twice";
    const std::string path = examplePath(spec.pattern);
    const RouteMatch m = matchRoute(spec.method, path);
    EXPECT_EQ(m.route, route) << spec.method << " " << path;
    EXPECT_TRUE(m.allowed_methods.empty());
  }
}

TEST(RouteTable, PathParametersComeInPatternOrder) {
  const RouteMatch m = matchRoute("POST", "/v1/agents/billing/blueprints/main/jobs");
  EXPECT_EQ(m.route, Route::CreateJob);
  EXPECT_EQ(m.params, (std::vector<std::string>{"billing", "main"}));
  const RouteMatch v = matchRoute("GET", "/v1/agents/billing/versions/3");
  EXPECT_EQ(v.route, Route::GetAgentVersion);
  EXPECT_EQ(v.params, (std::vector<std::string>{"billing", "3"}));
}

TEST(RouteTable, ALiteralSegmentWinsOverAParameterWherePatternsOverlap) {
  // Both /v1/agents/jobs/:job_id and /v1/agents/:agent_id/deploy fit; the literal `jobs` at the
  // third segment comes first, so this is the job named "deploy".
  RouteMatch m = matchRoute("GET", "/v1/agents/jobs/deploy");
  EXPECT_EQ(m.route, Route::GetJob);
  EXPECT_EQ(m.params, std::vector<std::string>{"deploy"});
  // …and for POST that path answers 405 (it is a job's path), not the agent's deploy.
  m = matchRoute("POST", "/v1/agents/jobs/deploy");
  EXPECT_EQ(m.route, Route::NotFound);
  EXPECT_EQ(m.allowed_methods, "GET, HEAD");
  // An agent may be called "jobs": three segments are the agent's path.
  m = matchRoute("GET", "/v1/agents/jobs");
  EXPECT_EQ(m.route, Route::GetAgent);
  EXPECT_EQ(m.params, std::vector<std::string>{"jobs"});
}

TEST(RouteTable, AKnownPathWithAnotherMethodListsTheMethodsItAnswers) {
  const RouteMatch m = matchRoute("POST", "/v1/agents/billing");
  EXPECT_EQ(m.route, Route::NotFound);
  EXPECT_EQ(m.allowed_methods, "GET, HEAD, PUT, DELETE");
  EXPECT_EQ(matchRoute("GET", "/v1/plugins/reload").allowed_methods, "POST");
}

TEST(RouteTable, HeadIsAnsweredWhereGetIsAndNowhereElse) {
  EXPECT_EQ(matchRoute("HEAD", "/healthz").route, Route::Healthz);
  EXPECT_EQ(matchRoute("HEAD", "/v1/agents/jobs/j1").route, Route::GetJob);
  EXPECT_EQ(matchRoute("HEAD", "/v1/agents/a/deploy").route, Route::NotFound);
}

TEST(RouteTable, UnknownPathsAre404WithoutAllowedMethods) {
  for (const char* path : {"/v2/agents", "/v1", "/v1/agents/a/b/c/d/e/f", "/healthz/x", "/nope"}) {
    const RouteMatch m = matchRoute("GET", path);
    EXPECT_EQ(m.route, Route::NotFound) << path;
    EXPECT_TRUE(m.allowed_methods.empty()) << path;
  }
}

TEST(RouteTable, EmptySegmentsAreSkippedAndTheRootIsTheConsoleRedirect) {
  EXPECT_EQ(matchRoute("GET", "//v1///agents/").route, Route::ListAgents);
  EXPECT_EQ(matchRoute("GET", "/").route, Route::ConsoleRedirect);
  EXPECT_EQ(matchRoute("GET", "").route, Route::ConsoleRedirect);
}

TEST(RouteTable, TheConsoleFileTakesTheRestOfThePath) {
  RouteMatch m = matchRoute("GET", "/console/assets/app.js");
  EXPECT_EQ(m.route, Route::ConsoleAsset);
  EXPECT_EQ(m.params, std::vector<std::string>{"assets/app.js"});
  m = matchRoute("GET", "/console");
  EXPECT_EQ(m.route, Route::ConsoleAsset);
  EXPECT_EQ(m.params, std::vector<std::string>{""});
}

TEST(RouteTable, ScopesAndStorageWritesFollowTheApiContract) {
  EXPECT_EQ(routeSpec(Route::Trigger).scope, Scope::Invoke);
  EXPECT_EQ(routeSpec(Route::TestRun).scope, Scope::Admin);
  EXPECT_EQ(routeSpec(Route::ListJobs).scope, Scope::Invoke);
  EXPECT_EQ(routeSpec(Route::PutAgent).scope, Scope::Admin);
  EXPECT_EQ(routeSpec(Route::Healthz).scope, Scope::None);
  EXPECT_TRUE(routeSpec(Route::CreateJob).writes_storage);
  EXPECT_FALSE(routeSpec(Route::Trigger).writes_storage);
  // Served on the transport's thread: only handlers that never wait.
  for (int i = 0; i < static_cast<int>(Route::kCount); ++i) {
    const auto route = static_cast<Route>(i);
    const bool expected =
        route == Route::Trigger || route == Route::Healthz || route == Route::Readyz;
    EXPECT_EQ(routeSpec(route).serves_inline, expected) << routeName(route);
  }
  EXPECT_STREQ(routePattern(Route::NotFound), "unmatched");
  EXPECT_STREQ(routeMethod(Route::NotFound), "any");
}

}  // namespace
}  // namespace blueprint::host
