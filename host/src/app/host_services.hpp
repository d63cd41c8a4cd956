// SPDX-License-Identifier: Apache-2.0
// host_services.hpp: the host's components, wired once by HostApplication and handed to the
// HTTP handlers. Nothing here owns anything; HostApplication does.
#pragma once

#include <atomic>

#include "agents/agent_service.hpp"
#include "app/host_config.hpp"
#include "auth/api_keys.hpp"
#include "engine/runner.hpp"
#include "http/sse_stream.hpp"
#include "logging/access_log.hpp"
#include "metrics/metrics.hpp"
#include "plugins/plugin_manager.hpp"
#include "runs/job_worker.hpp"
#include "runs/queue_depth.hpp"
#include "runs/run_admission.hpp"
#include "runs/run_registry.hpp"
#include "runs/run_service.hpp"
#include "runs/sync_run_recorder.hpp"
#include "storage/storage.hpp"
#include "storage/storage_health.hpp"

namespace blueprint::host {

struct HostServices {
  const HostConfig* config = nullptr;
  Storage* storage = nullptr;
  PluginManager* plugins = nullptr;
  AgentService* agents = nullptr;
  RunRegistry* registry = nullptr;
  JobWorker* worker = nullptr;
  QueueDepth* queue_depth = nullptr;
  ApiKeys* keys = nullptr;
  Metrics* metrics = nullptr;
  StreamHeartbeat* heartbeat = nullptr;
  const RunOptions* run_options = nullptr;
  RunAdmission* admission = nullptr;
  RunService* runs = nullptr;
  SyncRunRecorder* recorder = nullptr;  ///< null: sync runs stay in this host's memory
  const AccessLog* access_log = nullptr;
  StorageHealth* storage_health = nullptr;
  std::atomic<bool> ready{false};
};

}  // namespace blueprint::host
