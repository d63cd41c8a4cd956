// SPDX-License-Identifier: Apache-2.0
// host_config.hpp: every setting of blueprint-host (DESIGN §7). Sources, weakest first: built-in
// defaults, the config file (--config / BLUEPRINT_CONFIG), BLUEPRINT_* environment variables,
// command-line flags. Unknown config keys are errors, so typos never pass silently.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "engine/run_limits.hpp"

namespace blueprint::host {

struct HostConfig {
  std::string listen = "127.0.0.1:8080";
  std::string plugins = "plugins";
  std::string agents;  ///< empty: no agents directory
  std::string data = "var";
  std::string storage;   ///< empty: sqlite:<data>/host.db
  std::string api_keys;  ///< empty: generated key in the data dir
  bool watch_plugins = false;
  int plugin_debounce_ms = 300;  ///< quiet time before a directory change triggers a reload
  bool probe_plugins = false;    ///< first load of each build in a child process
  bool console = true;           ///< serve the web console at /console/ (false: 404)

  // HTTP server: connections live on event-loop threads, requests run on handler threads
  // (docs/decisions/016-event-loop-connections.md).
  int threads = 256;             ///< max handler threads unless handler_threads is set
  int min_threads = 8;           ///< unused since decision 016 (handler threads start lazily)
  int max_queued = 1024;         ///< unused since decision 016 (no connection waits for a thread)
  int max_connections = 0;       ///< open connections; past it 503 (0: 10000)
  int keep_alive_timeout_s = 5;  ///< idle keep-alive connections are closed after this
  int max_keep_alive_requests = 0;  ///< 0 = unlimited
  int listen_backlog = 1024;
  std::int64_t body_limit_bytes = 10 << 20;
  int sse_keepalive_ms = 15000;

  // Request framing and connection time limits (docs/decisions/011, docs/security.md).
  std::int64_t max_header_bytes = 64 * 1024;  ///< request line + fields; past it 431
  int max_header_fields = 100;                ///< past it 431
  std::int64_t max_target_bytes = 8 * 1024;   ///< request target; past it 414 (<= 16384)
  int header_timeout_ms = 10000;              ///< a whole request head; past it 408
  int busy_timeout_ms = 1000;  ///< idle/slow connections yield their thread when others queue
  std::int64_t drain_limit_bytes = 1 << 20;  ///< unread body drained to keep a connection
  int drain_timeout_ms = 2000;               ///< time for that drain, and before a close
  int send_timeout_ms = 30000;               ///< a send making no progress fails the answer

  // Event-loop transport (docs/decisions/016-event-loop-connections.md).
  int reactor_threads = 0;  ///< event-loop threads owning the connections (0: one per usable CPU)
  int handler_threads = 0;  ///< request handler threads at most (0: `threads`)
  std::int64_t max_output_buffer_bytes = 256 * 1024;  ///< queued answer bytes per connection

  // Jobs.
  /// Jobs run at once. Workers mostly wait (on blocks doing I/O, on their job's commit), and
  /// their finishes share SQLite's group commit: more of them drain a queue faster for a few
  /// idle threads (~0.2 MiB for 16 instead of 4).
  int job_workers = 16;
  std::int64_t job_queue_limit = 100000;
  /// Top-level runs (sync and jobs) in flight on this host / of one agent; 0: no limit. Over
  /// it a sync run is answered 429 + Retry-After and a job waits for a slot.
  int max_concurrent_runs = 1024;
  int max_concurrent_runs_per_agent = 0;
  /// Finished sync runs written to storage behind their runs (so every host sharing it finds
  /// them): "auto" (shared storage, i.e. PostgreSQL), "always", "never".
  std::string store_sync_runs = "auto";
  std::int64_t job_lease_ms = 15000;  ///< renewed every third of it while the run lasts
  std::int64_t job_poll_ms = 500;     ///< idle workers' fallback poll (PostgreSQL also NOTIFYs)
  int job_max_attempts = 5;           ///< claims of one job before it ends in `error`
  std::int64_t job_retention_hours = 24 * 7;
  std::size_t sync_runs_kept = 1000;
  /// Bytes (events, artifact, error, trace) the finished sync runs kept for polling may hold
  /// together; the oldest are evicted past it (the newest one always stays).
  std::size_t sync_runs_kept_bytes = 64u << 20;
  /// Blocks one blueprint may have (validated when an agent is saved or deployed).
  std::size_t max_blocks_per_blueprint = 10000;

  // Logs and metrics (issue 15; docs/metrics.md).
  std::string log_format = "text";            ///< "text" or "json" (one JSON object per line)
  bool access_log = false;                    ///< one log line per answered API request
  std::size_t metrics_max_agents = 100;       ///< agents with their own run duration series
  std::size_t metrics_max_block_types = 100;  ///< block types with their own duration series
  int storage_probe_ms = 1000;  ///< while storage writes fail, a write probe this often

  // The engine's threads (issue 12, docs/decisions/015).
  int run_workers = 0;        ///< threads running blocks that never block; 0: one per usable CPU
  int blocking_workers = 64;  ///< bound of the pool running blocks that may block

  RunLimits limits;
  std::set<std::string> env_allow;
  /// Operator settings per block type, read by blocks through setting_get
  /// (e.g. {"http_request": {"allow_private_networks": true}}).
  nlohmann::json block_settings = nlohmann::json::object();

  /// `storage`, or the SQLite default under `data`.
  std::string storageUrl() const;

  /// Applies a JSON config object; throws std::runtime_error naming the bad key.
  void applyJson(const nlohmann::json& j, const std::string& source);
  /// Reads and applies a config file.
  void applyFile(const std::string& path);
  /// Applies BLUEPRINT_* variables from `env` (name → value).
  void applyEnvironment(const std::map<std::string, std::string>& env);
  /// Applies one setting by its flag name (`listen`, `plugins`, …) from text.
  void applyFlag(const std::string& name, const std::string& value);
  /// The effective configuration (secrets omitted), for logs and `--print-config`.
  nlohmann::json toJson() const;
};

}  // namespace blueprint::host
