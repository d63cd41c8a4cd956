// SPDX-License-Identifier: Apache-2.0
// GET /openapi.json (DESIGN §2) against the real blueprint-host: served without a key, an OpenAPI
// 3.0 document whose $refs all resolve, listing exactly the routes the router serves, each of
// them routed (never 404 not_found / 405) with the documented auth, and real responses matching
// the documented status codes, content types, headers and JSON schemas.
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "api/route_table.hpp"
#include "support/api_helpers.hpp"
#include "support/http_client.hpp"
#include "support/test_host.hpp"

namespace blueprint::testing {
namespace {

// The API's routes as the host's own route table (host/src/api/route_table.cpp) lists them,
// with the metrics label each counts under, the path written as OpenAPI writes it ({name} for
// :name). The web console's routes (GET / and /console/…) serve files for a browser, not the
// API, and not_found is no route. A new row in the table must be in host/openapi/openapi.json
// too; the tests below fail until both agree.
struct RouteSpec {
  std::string method;
  std::string path;
  std::string label;
};
std::vector<RouteSpec> apiRoutes() {
  std::vector<RouteSpec> routes;
  for (int i = 0; i < static_cast<int>(host::Route::kCount); ++i) {
    const auto route = static_cast<host::Route>(i);
    if (route == host::Route::NotFound || route == host::Route::ConsoleRedirect ||
        route == host::Route::ConsoleAsset)
      continue;
    const host::RouteSpec& spec = host::routeSpec(route);
    std::string path;
    for (std::size_t k = 0; spec.pattern[k] != '\0'; ++k) {
      if (spec.pattern[k] != ':') {
        path += spec.pattern[k];
        continue;
      }
      std::size_t end = k + 1;
      while (spec.pattern[end] != '\0' && spec.pattern[end] != '/') ++end;
      path += "{" + std::string(spec.pattern + k + 1, spec.pattern + end) + "}";
      k = end - 1;
    }
    routes.push_back({spec.method, path, spec.name});
  }
  return routes;
}
const std::vector<RouteSpec> kRoutes = apiRoutes();

const char* const kMethods[] = {"get",   "put",  "post",    "delete",
                                "patch", "head", "options", "trace"};

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}
std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

/// `{name}` in a path template replaced from `ids`; an unknown name fails the test.
std::string fillPath(const std::string& templ, const std::map<std::string, std::string>& ids) {
  std::string out;
  std::size_t i = 0;
  while (i < templ.size()) {
    if (templ[i] != '{') {
      out += templ[i++];
      continue;
    }
    const std::size_t close = templ.find('}', i);
    const std::string name = templ.substr(i + 1, close - i - 1);
    auto it = ids.find(name);
    EXPECT_NE(it, ids.end()) << "no example value for path parameter {" << name << "} of " << templ;
    out += it == ids.end() ? "x" : it->second;
    i = close + 1;
  }
  return out;
}

/// The document as served, parsed once per test.
Json fetchDocument(int port) {
  HttpResponse r = httpRequest(port, "GET", "/openapi.json");
  EXPECT_EQ(r.status, 200) << r.body;
  return r.json();
}

/// Follows `$ref` (local JSON pointers only) until a non-reference.
const Json& deref(const Json& doc, const Json& node) {
  const Json* n = &node;
  for (int hops = 0; n->is_object() && n->contains("$ref") && hops < 32; ++hops) {
    const std::string ref = (*n)["$ref"].get<std::string>();
    n = &doc.at(Json::json_pointer(ref.substr(1)));
  }
  return *n;
}

/// A small validator for the schema keywords the document uses. Stricter than OpenAPI on one
/// point: an object schema with `properties` and no `additionalProperties` lists every field the
/// host sends, so an undocumented field is an error. Problems are appended to `errors`.
void validate(const Json& doc, const Json& schema_node, const Json& value, const std::string& at,
              std::vector<std::string>& errors) {
  const Json& s = deref(doc, schema_node);
  if (value.is_null()) {
    if (!s.value("nullable", false) && !s.empty())
      errors.push_back(at + ": null but the schema is not nullable");
    return;
  }
  if (s.contains("oneOf")) {
    int matches = 0;
    for (const Json& alt : s["oneOf"]) {
      std::vector<std::string> sub;
      validate(doc, alt, value, at, sub);
      if (sub.empty()) ++matches;
    }
    if (matches != 1)
      errors.push_back(at + ": matches " + std::to_string(matches) + " oneOf alternatives");
    return;
  }
  if (s.contains("enum")) {
    bool found = false;
    for (const Json& e : s["enum"]) found = found || e == value;
    if (!found) errors.push_back(at + ": " + value.dump() + " is not in the enum");
  }
  const std::string type = s.value("type", "");
  auto wrongType = [&] { errors.push_back(at + ": " + value.dump() + " is not of type " + type); };
  if (type == "string" && !value.is_string()) return wrongType();
  if (type == "integer" && !value.is_number_integer()) return wrongType();
  if (type == "number" && !value.is_number()) return wrongType();
  if (type == "boolean" && !value.is_boolean()) return wrongType();
  if (type == "array") {
    if (!value.is_array()) return wrongType();
    if (s.contains("items"))
      for (std::size_t i = 0; i < value.size(); ++i)
        validate(doc, s["items"], value[i], at + "[" + std::to_string(i) + "]", errors);
  }
  if (type == "object") {
    if (!value.is_object()) return wrongType();
    for (const Json& name : s.value("required", Json::array()))
      if (!value.contains(name.get<std::string>()))
        errors.push_back(at + ": required field '" + name.get<std::string>() + "' is missing");
    const Json props = s.value("properties", Json::object());
    for (const auto& [key, v] : value.items()) {
      if (props.contains(key)) {
        validate(doc, props[key], v, at + "." + key, errors);
      } else if (s.contains("additionalProperties")) {
        if (s["additionalProperties"].is_object())
          validate(doc, s["additionalProperties"], v, at + "." + key, errors);
        else if (s["additionalProperties"] == false)
          errors.push_back(at + ": field '" + key + "' is not allowed");
      } else if (!props.empty()) {
        errors.push_back(at + ": field '" + key + "' is not documented");
      }
    }
  }
}

/// The operation object of `method` `path_template`; fails the test when undocumented.
const Json* findOperation(const Json& doc, const std::string& method,
                          const std::string& path_template) {
  const Json& paths = doc.at("paths");
  if (!paths.contains(path_template) || !paths[path_template].contains(lower(method))) {
    ADD_FAILURE() << method << " " << path_template << " is not in the document";
    return nullptr;
  }
  return &paths[path_template][lower(method)];
}

/// Checks a real answer of `method` `path_template` against the document: its status is listed,
/// its Content-Type is the listed media type, every required header is there, and a JSON body
/// matches the schema.
void expectDocumented(const Json& doc, const std::string& method, const std::string& path_template,
                      const HttpResponse& r) {
  SCOPED_TRACE(method + " " + path_template + " answered " + std::to_string(r.status) + ": " +
               r.body.substr(0, 300));
  const Json* op = findOperation(doc, method, path_template);
  if (op == nullptr) return;
  const std::string status = std::to_string(r.status);
  if (!(*op)["responses"].contains(status)) {
    ADD_FAILURE() << "status " << status << " is not documented";
    return;
  }
  const Json& resp = deref(doc, (*op)["responses"][status]);
  const Json headers = resp.value("headers", Json::object());
  for (const auto& [name, header] : headers.items()) {
    if (deref(doc, header).value("required", false)) {
      EXPECT_FALSE(r.header(name).empty()) << "required header " << name << " is missing";
    }
  }
  if (!resp.contains("content")) return;
  std::string media = r.header("Content-Type");
  media = media.substr(0, media.find(';'));
  ASSERT_TRUE(resp["content"].contains(media))
      << "Content-Type " << media << " is not documented: " << resp["content"].dump();
  if (media != "application/json") return;
  const Json body = Json::parse(r.body, nullptr, false);
  ASSERT_FALSE(body.is_discarded()) << "the body is not JSON";
  std::vector<std::string> errors;
  validate(doc, resp["content"][media]["schema"], body, "body", errors);
  for (const auto& e : errors) ADD_FAILURE() << e;
}

/// The value of blueprint_http_requests_total summed over status classes, for one route label.
std::uint64_t requestCount(int port, const std::string& label) {
  HttpResponse r = httpRequest(port, "GET", "/metrics");
  std::istringstream in(r.body);
  const std::string prefix = "blueprint_http_requests_total{route=\"" + label + "\",";
  std::uint64_t total = 0;
  for (std::string line; std::getline(in, line);)
    if (line.rfind(prefix, 0) == 0) total += std::stoull(line.substr(line.rfind(' ') + 1));
  return total;
}

Json shopAgent() {
  return agent(
      "Shop",
      {blueprint("hello",
                 {block("trigger", "api_trigger",
                        {{"default_result", R"({"inputs":{"name":"W"}})"}}, {{"trigger", "reply"}}),
                  block("reply", "return_value", {{"value", "Hello, @{result.inputs.name}!"}})}),
       blueprint("fail",
                 {block("trigger", "api_trigger", {}, {{"trigger", "reply"}}),
                  block("reply", "return_value", {{"value", "@{result.inputs.missing}"}})})});
}

class OpenApi : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(host_.start());
    doc_ = fetchDocument(host_.port());
    ASSERT_TRUE(doc_.is_object());
  }

  HttpClient admin() const { return HttpClient(host_.port(), host_.adminKey()); }
  HttpClient invoke() const { return HttpClient(host_.port(), host_.invokeKey()); }

  TestHost host_{[] {
    TestHostOptions o;
    o.agents["shop"] = shopAgent();
    return o;
  }()};
  Json doc_;
};

TEST_F(OpenApi, IsServedWithoutAKeyAsAnOpenApi30Document) {
  HttpResponse r = httpRequest(host_.port(), "GET", "/openapi.json");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("Content-Type"), "application/json");
  const Json doc = r.json();
  ASSERT_TRUE(doc.is_object());
  ASSERT_TRUE(doc.contains("openapi") && doc["openapi"].is_string());
  EXPECT_TRUE(std::regex_match(doc["openapi"].get<std::string>(), std::regex(R"(3\.0\.\d+)")))
      << doc["openapi"];
  EXPECT_TRUE(doc["info"].contains("title") && doc["info"].contains("version"));
  EXPECT_FALSE(doc["paths"].empty());
  EXPECT_EQ(doc["components"]["securitySchemes"]["bearerAuth"]["scheme"], "bearer");

  // The served bytes are the source file's: the embedded copy is rebuilt when the file changes.
  std::ifstream in(std::string(BLUEPRINT_SOURCE_DIR) + "/host/openapi/openapi.json",
                   std::ios::binary);
  ASSERT_TRUE(in);
  std::stringstream source;
  source << in.rdbuf();
  EXPECT_TRUE(r.body == source.str()) << "GET /openapi.json differs from host/openapi/openapi.json";

  // Like every route: other methods answer 405 with Allow.
  HttpResponse post = httpRequest(host_.port(), "POST", "/openapi.json", "{}");
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(post.errorCode(), "method_not_allowed");
  EXPECT_EQ(post.header("Allow"), "GET, HEAD");  // HEAD is answered wherever GET is
}

TEST_F(OpenApi, EveryRefResolvesAndEveryPathParameterIsDeclared) {
  std::size_t refs = 0;
  std::function<void(const Json&, const std::string&)> walk = [&](const Json& n,
                                                                  const std::string& at) {
    if (n.is_object()) {
      for (const auto& [k, v] : n.items()) {
        if (k == "$ref" && v.is_string()) {
          ++refs;
          const std::string ref = v.get<std::string>();
          ASSERT_EQ(ref.rfind("#/", 0), 0u) << at << ": $ref " << ref << " is not local";
          EXPECT_TRUE(doc_.contains(Json::json_pointer(ref.substr(1))))
              << at << ": $ref " << ref << " does not resolve";
        } else {
          walk(v, at + "/" + k);
        }
      }
    } else if (n.is_array()) {
      for (std::size_t i = 0; i < n.size(); ++i) walk(n[i], at + "/" + std::to_string(i));
    }
  };
  walk(doc_, "#");
  EXPECT_GT(refs, 50u);

  std::set<std::string> operation_ids;
  for (const auto& [path, item] : doc_["paths"].items()) {
    std::set<std::string> templated;
    static const std::regex kParam(R"(\{(\w+)\})");
    for (auto it = std::sregex_iterator(path.begin(), path.end(), kParam);
         it != std::sregex_iterator(); ++it)
      templated.insert((*it)[1]);
    for (const char* method : kMethods) {
      if (!item.contains(method)) continue;
      const Json& op = item[method];
      EXPECT_TRUE(operation_ids.insert(op.value("operationId", "")).second)
          << path << " " << method << ": operationId missing or used twice";
      EXPECT_FALSE(op.value("responses", Json::object()).empty()) << path << " " << method;
      std::set<std::string> declared;
      for (const Json* params : std::initializer_list<const Json*>{&item, &op})
        for (const Json& p : params->value("parameters", Json::array())) {
          const Json& param = deref(doc_, p);
          if (param.value("in", "") == "path") {
            EXPECT_TRUE(param.value("required", false)) << path << ": path parameter optional";
            declared.insert(param.value("name", ""));
          }
        }
      EXPECT_EQ(declared, templated) << path << " " << method;
    }
  }
}

TEST_F(OpenApi, ListsExactlyTheRoutesTheRouterServes) {
  std::set<std::string> documented, listed, labels;
  for (const auto& [path, item] : doc_["paths"].items())
    for (const char* method : kMethods)
      if (item.contains(method)) documented.insert(upper(method) + " " + path);
  for (const RouteSpec& r : kRoutes) {
    listed.insert(r.method + " " + r.path);
    EXPECT_TRUE(labels.insert(r.label).second) << "label " << r.label << " listed twice";
  }
  EXPECT_EQ(documented, listed);
}

// Each documented operation, probed with ids that do not exist (so nothing changes): the
// router routes it (its own metrics label counts it; never 404 not_found or 405), the status is
// one the document lists, and its auth matches the document's security and required scope.
TEST_F(OpenApi, EveryDocumentedOperationIsRoutedWithTheDocumentedAuth) {
  const std::map<std::string, std::string> ids = {{"agent_id", "no_such_agent"},
                                                  {"blueprint_id", "no_such_blueprint"},
                                                  {"job_id", "no-such-job"},
                                                  {"version", "1"}};
  std::map<std::string, std::string> label_of;
  for (const RouteSpec& r : kRoutes) label_of[r.method + " " + r.path] = r.label;
  const HttpClient nobody(host_.port(), "");
  for (const auto& [path, item] : doc_["paths"].items()) {
    for (const char* m : kMethods) {
      if (!item.contains(m)) continue;
      const std::string method = upper(m);
      const std::string url = fillPath(path, ids);
      const std::string body = method == "POST" || method == "PUT" ? R"({"inputs":{}})" : "";
      SCOPED_TRACE(method + " " + url);
      const std::string label = label_of[method + " " + path];
      ASSERT_FALSE(label.empty()) << "not in kRoutes";
      const std::uint64_t before = requestCount(host_.port(), label);

      HttpResponse r = admin().request(method, url, body);
      EXPECT_NE(r.status, 405) << r.body;
      EXPECT_FALSE(r.status == 404 && r.errorCode() == "not_found") << r.body;
      expectDocumented(doc_, method, path, r);
      // The host counts a request after its answer is sent: wait (bounded) for the count.
      std::uint64_t after = before;
      for (int i = 0; i < 100 && after <= before; ++i) {
        if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
        after = requestCount(host_.port(), label);
      }
      EXPECT_GT(after, before) << "the request was not counted as route " << label;

      const Json& op = item[m];
      const bool needs_key = !op.contains("security") || !op["security"].empty();
      HttpResponse anonymous = nobody.request(method, url, body);
      if (needs_key) {
        EXPECT_EQ(anonymous.status, 401) << anonymous.body;
        expectDocumented(doc_, method, path, anonymous);
      } else {
        EXPECT_NE(anonymous.status, 401) << anonymous.body;
      }
      HttpResponse invoke_only = invoke().request(method, url, body);
      if (op.value("x-required-scope", "") == "admin") {
        EXPECT_EQ(invoke_only.status, 403) << invoke_only.body;
        expectDocumented(doc_, method, path, invoke_only);
      } else {
        EXPECT_NE(invoke_only.status, 403) << invoke_only.body;
        EXPECT_TRUE(!needs_key || op.value("x-required-scope", "") == "invoke")
            << "x-required-scope is missing";
      }
    }
  }
}

// Real answers with real ids, each checked against the document (status, media type, required
// headers, JSON schema with no undocumented fields).
TEST_F(OpenApi, RealResponsesMatchTheDocumentedSchemas) {
  const int port = host_.port();
  const std::string agent_path = "/v1/agents/{agent_id}";
  auto check = [&](const std::string& method, const std::string& templ, const HttpResponse& r,
                   int want) {
    EXPECT_EQ(r.status, want) << method << " " << templ << ": " << r.body;
    expectDocumented(doc_, method, templ, r);
  };
  check("GET", "/healthz", httpRequest(port, "GET", "/healthz"), 200);
  check("GET", "/readyz", httpRequest(port, "GET", "/readyz"), 200);
  check("GET", "/metrics", httpRequest(port, "GET", "/metrics"), 200);
  check("GET", "/v1/blocks", admin().get("/v1/blocks"), 200);
  check("POST", "/v1/plugins/reload", admin().post("/v1/plugins/reload"), 200);
  check("GET", "/v1/agents", admin().get("/v1/agents"), 200);
  check("GET", agent_path, admin().get("/v1/agents/shop"), 200);

  // A draft, its validation error, deploy, rollback, undeploy, delete.
  check("PUT", agent_path, admin().put("/v1/agents/draft1", shopAgent()), 200);
  Json broken = shopAgent();
  broken["blueprints"][0]["blocks"][0]["type"] = "no_such_type";
  HttpResponse invalid = admin().put("/v1/agents/draft1", broken);
  check("PUT", agent_path, invalid, 400);
  EXPECT_FALSE(invalid.json()["error"]["details"].empty());
  check("POST", agent_path + "/deploy", admin().post("/v1/agents/draft1/deploy"), 200);
  check("POST", agent_path + "/deploy",
        admin().post("/v1/agents/draft1/deploy", R"({"version":1})"), 200);
  check("POST", agent_path + "/deploy",
        admin().post("/v1/agents/draft1/deploy", R"({"version":9})"), 404);
  check("POST", agent_path + "/undeploy", admin().post("/v1/agents/draft1/undeploy"), 200);
  check("GET", agent_path + "/versions/{version}", admin().get("/v1/agents/draft1/versions/1"),
        200);
  check("GET", agent_path + "/versions/{version}", admin().get("/v1/agents/draft1/versions/7"),
        404);
  check("GET", agent_path + "/versions/{version}", admin().get("/v1/agents/draft1/versions/x"),
        400);
  check("POST", agent_path + "/blueprints/{blueprint_id}",
        invoke().post(triggerPath("draft1", "hello"), R"({"inputs":{}})"), 409);
  check("POST", agent_path + "/blueprints/{blueprint_id}/test",
        admin().post(triggerPath("draft1", "hello") + "/test"), 200);
  check("POST", agent_path + "/blueprints/{blueprint_id}/test",
        admin().post(triggerPath("draft1", "hello") + "/test", R"({"inputs":{"name":"Ada"}})"),
        200);
  check("POST", agent_path + "/blueprints/{blueprint_id}/test",
        admin().post(triggerPath("draft1", "hello") + "/test", R"({"inputs":1})"), 400);
  check("DELETE", agent_path, admin().del("/v1/agents/draft1"), 200);

  // Runs and jobs.
  const std::string bp_path = agent_path + "/blueprints/{blueprint_id}";
  HttpResponse sync = invoke().post(triggerPath("shop", "hello"), R"({"inputs":{"name":"Ada"}})");
  check("POST", bp_path, sync, 200);
  const std::string sync_job = sync.header("X-Job-Id");
  check("POST", bp_path, invoke().post(triggerPath("shop", "hello"), R"({"inputs":[]})"), 400);
  check("POST", bp_path, invoke().post(triggerPath("shop", "nope"), R"({"inputs":{}})"), 404);
  check("GET", "/v1/agents/jobs/{job_id}", invoke().get("/v1/agents/jobs/" + sync_job), 200);
  check("GET", "/v1/agents/jobs/{job_id}/events",
        invoke().get("/v1/agents/jobs/" + sync_job + "/events"), 200);
  check("POST", "/v1/agents/jobs/{job_id}/cancel",
        invoke().post("/v1/agents/jobs/" + sync_job + "/cancel"), 409);
  check("POST", "/v1/agents/jobs/{job_id}/retry",
        invoke().post("/v1/agents/jobs/" + sync_job + "/retry"), 409);

  HttpResponse failed = invoke().post(triggerPath("shop", "fail"), R"({"inputs":{}})");
  check("POST", bp_path, failed, 200);
  HttpResponse retried = invoke().post("/v1/agents/jobs/" + failed.header("X-Job-Id") + "/retry");
  check("POST", "/v1/agents/jobs/{job_id}/retry", retried, 202);

  const Headers idem = {{"Idempotency-Key", "openapi-test-1"}};
  HttpResponse created =
      invoke().post(triggerPath("shop", "hello") + "/jobs", R"({"inputs":{"name":"Bo"}})", idem);
  check("POST", bp_path + "/jobs", created, 202);
  HttpResponse replayed =
      invoke().post(triggerPath("shop", "hello") + "/jobs", R"({"inputs":{"name":"Bo"}})", idem);
  check("POST", bp_path + "/jobs", replayed, 202);
  EXPECT_EQ(replayed.json()["job_id"], created.json()["job_id"]);
  EXPECT_EQ(replayed.header("Idempotent-Replayed"), "true");
  const Json done = waitForJob(invoke(), created.json()["job_id"].get<std::string>());
  EXPECT_EQ(done.value("status", ""), "completed") << done.dump();
  check("GET", "/v1/agents/jobs/{job_id}",
        invoke().get("/v1/agents/jobs/" + created.json()["job_id"].get<std::string>()), 200);
  check("GET", agent_path + "/jobs", invoke().get("/v1/agents/shop/jobs?limit=5&offset=0"), 200);
  check("GET", agent_path + "/jobs", invoke().get("/v1/agents/shop/jobs?status=done"), 400);
}

TEST(OpenApiQueueFull, JobCreationAnswersTheDocumented429) {
  TestHostOptions o;
  o.agents["shop"] = shopAgent();
  o.config["job_queue_limit"] = 0;
  TestHost host(o);
  ASSERT_TRUE(host.start());
  const Json doc = fetchDocument(host.port());
  HttpResponse r = HttpClient(host.port(), host.invokeKey())
                       .post(triggerPath("shop", "hello") + "/jobs", R"({"inputs":{}})");
  EXPECT_EQ(r.status, 429) << r.body;
  EXPECT_EQ(r.errorCode(), "queue_full");
  expectDocumented(doc, "POST", "/v1/agents/{agent_id}/blueprints/{blueprint_id}/jobs", r);
}

}  // namespace
}  // namespace blueprint::testing
