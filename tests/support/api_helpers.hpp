// SPDX-License-Identifier: Apache-2.0
// api_helpers.hpp: building agent JSON and driving runs and jobs over the real HTTP API, shared
// by the integration tests. Start with agent()/blueprint()/block() to write a definition,
// runSync() (or streamPost()) for a streamed run, and waitForJob() to poll a job to its end
// (bounded).
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "support/http_client.hpp"
#include "support/sse_client.hpp"

namespace blueprint::testing {

using Json = nlohmann::json;

/// One block instance; `next` maps end states to a block id or a list of ids.
inline Json block(const std::string& id, const std::string& type, Json fields = Json::object(),
                  Json next = nullptr) {
  Json b = {{"id", id}, {"type", type}, {"fields", std::move(fields)}};
  if (!next.is_null()) b["next"] = std::move(next);
  return b;
}

inline Json blueprint(const std::string& id, std::vector<Json> blocks) {
  return {{"id", id}, {"name", id}, {"blocks", std::move(blocks)}};
}

inline Json agent(const std::string& name, std::vector<Json> blueprints) {
  return {{"name", name}, {"blueprints", std::move(blueprints)}};
}

/// The trigger path of a blueprint.
inline std::string triggerPath(const std::string& agent_id, const std::string& blueprint_id) {
  return "/v1/agents/" + agent_id + "/blueprints/" + blueprint_id;
}

/// The exact status events every run starts with (DESIGN §2).
inline std::string inProgressEvent() { return R"({"status":"in progress","message":null})"; }
inline std::string executingEvent(const std::string& blueprint_id) {
  return R"({"status":"executing","message":"Executing blueprint )" + blueprint_id + R"(..."})";
}
inline std::string deltaEvent(const std::string& text) { return Json{{"delta", text}}.dump(); }

/// True for ISO 8601 UTC with milliseconds, as the API writes times.
inline bool isIsoTime(const Json& v) {
  static const std::regex kIso(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)");
  return v.is_string() && std::regex_match(v.get<std::string>(), kIso);
}

inline bool isFinalStatus(const std::string& status) {
  return status == "completed" || status == "error" || status == "cancelled";
}

/// Polls GET /v1/agents/jobs/{id} until the job is completed, error or cancelled; fails the test
/// (and returns the last view) when it does not end within `timeout`.
inline Json waitForJob(const HttpClient& client, const std::string& job_id,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  Json job;
  while (true) {
    HttpResponse r = client.get("/v1/agents/jobs/" + job_id);
    if (r.status != 200) {
      ADD_FAILURE() << "GET job " << job_id << ": " << r.status << " " << r.body;
      return job;
    }
    job = r.json();
    if (job.is_object() && isFinalStatus(job.value("status", ""))) return job;
    if (std::chrono::steady_clock::now() >= deadline) {
      ADD_FAILURE() << "job " << job_id << " did not end within " << timeout.count()
                    << " ms: " << job.dump();
      return job;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

/// Result of a streamed run.
struct SyncRun {
  int status = 0;
  std::string job_id;
  /// Event payloads, `[DONE]` last (empty when the status was not 200).
  std::vector<std::string> events;
  /// The error body when the status was not 200.
  std::string body;
};

/// POSTs `body` to `path` and reads the SSE stream to [DONE].
inline SyncRun streamPost(const HttpClient& client, const std::string& path,
                          const std::string& body) {
  SseClient sse(client.port(), client.key());
  SyncRun run;
  run.status = sse.open("POST", path, body);
  run.job_id = sse.header("X-Job-Id");
  if (run.status == 200)
    run.events = sse.readToDone();
  else
    run.body = sse.readBody();
  return run;
}

/// Runs a deployed blueprint with `{"inputs": inputs}`.
inline SyncRun runSync(const HttpClient& client, const std::string& agent_id,
                       const std::string& blueprint_id, const Json& inputs = Json::object()) {
  return streamPost(client, triggerPath(agent_id, blueprint_id), Json{{"inputs", inputs}}.dump());
}

/// The text of the last delta before [DONE] (the Return Value), or empty.
inline std::string returnedText(const std::vector<std::string>& events) {
  for (auto it = events.rbegin(); it != events.rend(); ++it) {
    Json e = Json::parse(*it, nullptr, false);
    if (!e.is_discarded() && e.is_object() && e.contains("delta") && e["delta"].is_string())
      return e["delta"].get<std::string>();
  }
  return {};
}

}  // namespace blueprint::testing
