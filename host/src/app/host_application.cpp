// SPDX-License-Identifier: Apache-2.0
#include "app/host_application.hpp"

#include <Poco/Logger.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Util/HelpFormatter.h>
#include <Poco/Util/IntValidator.h>
#include <Poco/Util/Option.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <thread>

#include "app/config_report.hpp"
#include "app/data_dir.hpp"
#include "app/host_config.hpp"
#include "app/host_services.hpp"
#include "app/systemd_notify.hpp"
#include "engine/engine_threads.hpp"
#include "http/request_router.hpp"
#include "logging/log_fields.hpp"
#include "logging/log_setup.hpp"
#include "plugins/plugin_watcher.hpp"
#include "transport/http_server.hpp"

extern char** environ;

namespace blueprint::host {

namespace fs = std::filesystem;
using Poco::Util::Option;
using Poco::Util::OptionCallback;

void HostApplication::defineOptions(Poco::Util::OptionSet& options) {
  ServerApplication::defineOptions(options);
  auto flag = [&](const char* name, const char* arg, const char* help) {
    Option o(name, "", help);
    o.required(false).repeatable(false);
    if (arg != nullptr) o.argument(arg);
    o.callback(OptionCallback<HostApplication>(this, &HostApplication::handleFlag));
    options.addOption(o);
  };
  options.addOption(
      Option("help", "h", "print this help and exit")
          .required(false)
          .repeatable(false)
          .callback(OptionCallback<HostApplication>(this, &HostApplication::handleHelp)));
  flag("config", "FILE", "JSON config file (also BLUEPRINT_CONFIG)");
  flag("listen", "HOST:PORT", "address to listen on (default 127.0.0.1:8080; port 0 picks one)");
  flag("plugins", "DIR", "directory of block plugin .so files");
  flag("agents", "DIR",
       "directory of agent .json files and Writer Framework apps (<id>/.wf) deployed at start-up");
  flag("data", "DIR", "data directory (default ./var)");
  flag("storage", "URL", "sqlite:<file> (default <data>/host.db), memory:, postgresql://…");
  flag("api-keys", "FILE", "API keys file ({\"keys\":[{name,sha256,scopes}]})");
  flag("threads", "N", "maximum request handler threads unless handler-threads is set (256)");
  flag("max-header-bytes", "N", "request head limit in bytes (431 past it; default 65536)");
  flag("max-header-fields", "N", "header fields per request (431 past it; default 100)");
  flag("max-target-bytes", "N", "request target limit in bytes (414 past it; default 8192)");
  flag("header-timeout-ms", "MS", "time for a whole request head (408 past it; default 10000)");
  flag("busy-timeout-ms", "MS",
       "while connections queue for a thread, idle or slow ones yield it after this (1000)");
  flag("drain-limit-bytes", "N",
       "unread request body drained to keep a connection open (default 1048576)");
  flag("drain-timeout-ms", "MS", "time for that drain, and before a close (default 2000)");
  flag("send-timeout-ms", "MS",
       "a send that makes no progress this long fails and closes the connection (30000)");
  flag("reactor-threads", "N",
       "event-loop threads owning the connections (default 0: one per CPU the host may run on)");
  flag("handler-threads", "N", "request handler threads at most (default 0: threads)");
  flag("max-output-buffer-bytes", "N",
       "answer bytes queued per connection; a handler past it waits (default 262144)");
  flag("watch-plugins", nullptr, "reload plugins when the plugin directory changes");
  flag("no-watch-plugins", nullptr, "do not watch the plugin directory");
  flag("json-max-depth", "N",
       "deepest nesting of objects and lists in any JSON a request or a run brings in (default "
       "128)");
  flag("console", nullptr, "serve the web console at /console/ (the default)");
  flag("no-console", nullptr, "do not serve the web console (404)");
  flag("probe-plugins", nullptr,
       "load each new plugin build in a child process first (`blueprint probe`), so a crash in "
       "its static initialisers cannot take the host down");
  flag("print-config", nullptr,
       "print the effective configuration (file, environment, flags; secrets redacted) and exit");
  flag("check-config", nullptr,
       "check the configuration, list every problem and exit non-zero if there is one");
  flag("log-format", "FORMAT",
       "text (the default) or json: one JSON object per log line (ts, level, msg, fields)");
  flag("access-log", nullptr, "log one line per API request (method, route, status, bytes, µs)");
  flag("metrics-max-agents", "N",
       "agents with their own run duration series in /metrics; the rest count as \"other\" "
       "(default 100)");
  flag("metrics-max-block-types", "N",
       "block types with their own duration series in /metrics (default 100)");
  flag("run-workers", "N",
       "threads running blocks that never block (default 0: one per CPU the host may run on)");
  flag("blocking-workers", "N", "bound of the pool running blocks that may block (default 64)");
  flag("storage-probe-ms", "MS",
       "while storage writes fail, try a write this often to turn ready again (default 1000)");
  flag("max-blocks-per-blueprint", "N", "blocks one blueprint may have (default 10000)");
  flag("sync-runs-kept-bytes", "BYTES",
       "memory the finished sync runs kept for polling may hold (default 64 MiB)");
  flag("max-lane-threads-per-run", "N", "accepted for old configs, no longer used (run-workers)");
  flag("max-lane-threads-per-host", "N",
       "accepted for old configs, no longer used (run-workers, blocking-workers)");
  flag("store-sync-runs", "auto|always|never",
       "write finished sync runs to storage so every host sharing it finds them (auto: on "
       "PostgreSQL)");
  flag("max-connections", "N",
       "open connections; past it new ones are answered 503 (default 0: 10000)");
  flag("max-concurrent-runs", "N",
       "runs in flight on this host; over it sync runs get 429 and jobs wait (default 1024, 0: "
       "no limit)");
  flag("max-concurrent-runs-per-agent", "N",
       "runs in flight of one agent; over it sync runs get 429 and jobs wait (default 0: no "
       "limit)");
}

void HostApplication::handleHelp(const std::string&, const std::string&) {
  help_requested_ = true;
  Poco::Util::HelpFormatter help(options());
  help.setCommand(commandName());
  help.setUsage("[OPTIONS]");
  help.setHeader("Blueprint Host: runs blueprints of block plugins behind an HTTP API.");
  help.format(std::cout);
  stopOptionsProcessing();
}

void HostApplication::handleFlag(const std::string& name, const std::string& value) {
  if (name == "config")
    config_file_ = value;
  else if (name == "watch-plugins")
    flags_.emplace_back("watch-plugins", "true");
  else if (name == "no-watch-plugins")
    flags_.emplace_back("watch-plugins", "false");
  else if (name == "probe-plugins")
    flags_.emplace_back("probe-plugins", "true");
  else if (name == "print-config" || name == "check-config")
    config_action_ = name == "print-config" ? "print" : "check";
  else if (name == "access-log")
    flags_.emplace_back("access-log", "true");
  else if (name == "console" || name == "no-console")
    flags_.emplace_back("console", name == "console" ? "true" : "false");
  else
    flags_.emplace_back(name, value);
}

namespace {

std::map<std::string, std::string> environmentMap() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string::npos && kv.rfind("BLUEPRINT_", 0) == 0)
      env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return env;
}

/// Answers in progress (their runs were just cancelled) get this long to finish at shutdown.
constexpr std::chrono::milliseconds kShutdownGrace{10000};

/// Raises the soft file-descriptor limit to the hard one (each connection is one descriptor)
/// and keeps `wanted` connections within it, leaving room for storage, plugins and logs.
int connectionBudget(int wanted, Poco::Logger& log) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return wanted;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
    ::getrlimit(RLIMIT_NOFILE, &limit);
  }
  constexpr rlim_t kReserved = 256;
  if (limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur >= static_cast<rlim_t>(wanted) + kReserved)
    return wanted;
  const int budget = static_cast<int>(std::max<rlim_t>(limit.rlim_cur, kReserved + 16) - kReserved);
  log.warning("max_connections %d is above what the file-descriptor limit (%lu) allows: %d", wanted,
              static_cast<unsigned long>(limit.rlim_cur), budget);
  return budget;
}

/// Binds without SO_REUSEPORT, so a second host on the same port fails loudly (DESIGN §7).
Poco::Net::ServerSocket bindListener(const std::string& listen, int backlog) {
  Poco::Net::SocketAddress address;
  try {
    address = Poco::Net::SocketAddress(listen);
  } catch (const Poco::Exception& e) {
    throw std::runtime_error("listen address '" + listen +
                             "' is not HOST:PORT: " + e.displayText());
  }
  Poco::Net::ServerSocket socket;
  try {
    socket.bind(address, true, false);
    socket.listen(backlog);
  } catch (const Poco::Net::NetException& e) {
    throw std::runtime_error("cannot listen on " + listen + ": " + e.displayText() +
                             " (is another blueprint-host or program using that port?)");
  }
  return socket;
}

}  // namespace

int HostApplication::main(const std::vector<std::string>& args) {
  if (help_requested_) return Application::EXIT_OK;
  auto& log = Poco::Logger::get("blueprint.host");
  if (!args.empty()) {
    std::cerr << "blueprint-host: unexpected argument '" << args[0] << "' (see --help)\n";
    return Application::EXIT_USAGE;
  }
  if (!config_action_.empty())
    return runConfigAction(config_action_, {config_file_, environmentMap(), flags_});
  HostConfig config;
  try {
    const auto env = environmentMap();
    std::string config_file = config_file_;
    if (config_file.empty() && env.count("BLUEPRINT_CONFIG") > 0)
      config_file = env.at("BLUEPRINT_CONFIG");
    if (!config_file.empty()) config.applyFile(config_file);
    config.applyEnvironment(env);
    for (const auto& [name, value] : flags_) config.applyFlag(name, value);
  } catch (const std::exception& e) {
    std::cerr << "blueprint-host: configuration error: " << e.what() << "\n";
    return Application::EXIT_CONFIG;
  }
  configureLogging(config.log_format);  // before any line is logged
  const bool json_log = config.log_format == kLogFormatJson;

  // SIGHUP is taken by one thread with sigwait, SIGTERM/SIGINT/SIGQUIT by the main thread in
  // waitForTerminationRequest. Both are blocked before any other thread starts: a thread that
  // did not block SIGTERM would take its default action (the process dies with 143 and no
  // orderly shutdown), and one that arrives before the main thread reaches sigwait stays pending
  // until it does instead of killing a host that has just said it is listening.
  sigset_t hup;
  sigemptyset(&hup);
  sigaddset(&hup, SIGHUP);
  sigset_t blocked = hup;
  sigaddset(&blocked, SIGTERM);
  sigaddset(&blocked, SIGINT);
  sigaddset(&blocked, SIGQUIT);
  pthread_sigmask(SIG_BLOCK, &blocked, nullptr);
  // The engine's run workers, blocking pool and timer (issue 12), started after the signals are
  // blocked so they inherit the mask.
  EngineThreads::configure({static_cast<std::size_t>(config.run_workers),
                            static_cast<std::size_t>(config.blocking_workers)});
  EngineThreads::get();

  std::unique_ptr<Storage> storage;
  std::unique_ptr<PluginManager> plugins;
  std::unique_ptr<AgentService> agents;
  ApiKeys keys;
  std::string created_key;
  try {
    preparePrivateDataDir(config.data, log);
    storage = openStorage(config.storageUrl());
    if (!config.api_keys.empty())
      keys = ApiKeys::fromFile(config.api_keys);
    else
      keys = ApiKeys::fromDataDir(config.data, created_key);
  } catch (const std::exception& e) {
    std::cerr << "blueprint-host: " << e.what() << "\n";
    return Application::EXIT_CONFIG;
  }

  Poco::Net::ServerSocket socket;
  try {
    socket = bindListener(config.listen, config.listen_backlog);
  } catch (const std::exception& e) {
    std::cerr << "blueprint-host: " << e.what() << "\n";
    return Application::EXIT_UNAVAILABLE;
  }

  setMaxBlocksPerBlueprint(config.max_blocks_per_blueprint);
  HostServices services;
  RunOptions run_options;
  run_options.limits = config.limits;
  run_options.env_allow = &config.env_allow;
  run_options.storage = storage.get();
  run_options.block_settings = &config.block_settings;
  plugins = std::make_unique<PluginManager>(config.plugins, fs::path(config.data) / "plugin-cache");
  {
    // Stale private copies of an earlier process are never in use: clear them.
    std::error_code ec;
    fs::remove_all(fs::path(config.data) / "plugin-cache", ec);
  }
  if (config.probe_plugins) {
    // The probe is the `blueprint` CLI installed next to this binary.
    std::error_code ec;
    fs::path cli = fs::read_symlink("/proc/self/exe", ec).parent_path() / "blueprint";
    if (!fs::exists(cli, ec)) {
      std::cerr
          << "blueprint-host: --probe-plugins needs the blueprint CLI next to blueprint-host ("
          << cli.string() << ")\n";
      return Application::EXIT_CONFIG;
    }
    plugins->setProbeCommand(cli);
  }
  ReloadReport report = plugins->reload();
  std::unique_ptr<PluginWatcher> watcher;
  if (config.watch_plugins) {
    watcher = std::make_unique<PluginWatcher>(*plugins,
                                              std::chrono::milliseconds(config.plugin_debounce_ms));
    log.information("watching %s for plugin changes", config.plugins);
  }
  if (plugins->current()->types().empty())
    log.warning("no block types loaded from %s; runs will fail until plugins are added",
                config.plugins);
  agents = std::make_unique<AgentService>(*storage, *plugins);
  plugins->setOnPublish(
      [&agents](ReloadReport& report) { report.affected_agents = agents->recompileAll(); });
  if (!config.agents.empty())
    for (const auto& line : agents->loadDirectory(config.agents)) log.information("agent %s", line);

  RunRegistry registry(config.sync_runs_kept, config.sync_runs_kept_bytes);
  Metrics metrics(config.metrics_max_agents, config.metrics_max_block_types);
  run_options.block_durations = &metrics.blockDurations();
  const AccessLog access_log(config.access_log);
  StorageHealth storage_health(*storage, std::chrono::milliseconds(config.storage_probe_ms));
  storage_health.start();
  StreamHeartbeat heartbeat(std::chrono::milliseconds(config.sse_keepalive_ms));
  JobWorkerConfig worker_config;
  worker_config.threads = config.job_workers;
  worker_config.lease = std::chrono::milliseconds(config.job_lease_ms);
  worker_config.poll = std::chrono::milliseconds(config.job_poll_ms);
  worker_config.max_attempts = config.job_max_attempts;
  worker_config.metrics = &metrics;
  RunAdmission admission(config.max_concurrent_runs, config.max_concurrent_runs_per_agent);
  worker_config.admission = &admission;
  worker_config.storage_health = &storage_health;
  JobWorker worker(*storage, *agents, registry, run_options, worker_config);

  services.config = &config;
  services.storage = storage.get();
  services.plugins = plugins.get();
  services.agents = agents.get();
  services.registry = &registry;
  services.worker = &worker;
  QueueDepth queue_depth(*storage, std::chrono::milliseconds(250));
  services.queue_depth = &queue_depth;
  services.keys = &keys;
  services.metrics = &metrics;
  services.heartbeat = &heartbeat;
  services.run_options = &run_options;
  services.admission = &admission;
  RunService runs(services);
  services.runs = &runs;
  // Sync runs written behind for the other hosts: by default only where there are others, i.e.
  // on shared storage (a lone SQLite host keeps them in memory, as the hot path prefers).
  std::unique_ptr<SyncRunRecorder> recorder;
  if (config.store_sync_runs == "always" ||
      (config.store_sync_runs == "auto" && storage->backendName() == "postgresql"))
    recorder = std::make_unique<SyncRunRecorder>(*storage, 100000, std::chrono::milliseconds(100));
  services.recorder = recorder.get();
  services.access_log = &access_log;
  services.storage_health = &storage_health;

  auto* params = new Poco::Net::HTTPServerParams;
  params->setKeepAlive(true);
  params->setKeepAliveTimeout(Poco::Timespan(config.keep_alive_timeout_s, 0));
  params->setMaxKeepAliveRequests(config.max_keep_alive_requests);
  params->setServerName("blueprint-host");
  Poco::Net::HTTPServerParams::Ptr server_params(params);
  TransportSettings transport;
  transport.reactor_threads = config.reactor_threads > 0
                                  ? static_cast<std::size_t>(config.reactor_threads)
                                  : EngineThreads::usableCpus();
  transport.handler_threads = static_cast<std::size_t>(
      config.handler_threads > 0 ? config.handler_threads : config.threads);
  transport.max_connections =
      connectionBudget(config.max_connections > 0 ? config.max_connections : 10000, log);
  transport.limits.framing.max_header_bytes = static_cast<std::size_t>(config.max_header_bytes);
  transport.limits.framing.max_header_fields = static_cast<std::size_t>(config.max_header_fields);
  transport.limits.framing.max_target_bytes = static_cast<std::size_t>(config.max_target_bytes);
  transport.limits.header_timeout = std::chrono::milliseconds(config.header_timeout_ms);
  transport.limits.drain_limit_bytes = static_cast<std::size_t>(config.drain_limit_bytes);
  transport.limits.drain_timeout = std::chrono::milliseconds(config.drain_timeout_ms);
  transport.limits.send_timeout = std::chrono::milliseconds(config.send_timeout_ms);
  transport.limits.max_output_buffer_bytes =
      static_cast<std::size_t>(config.max_output_buffer_bytes);
  // Sync runs start their run and return (a run that waits is detached): served on the
  // reactor's thread, they cost no hand-off to the handler pool (issue 12).
  transport.serve_inline = &RequestRouter::servesInline;
  HttpServer server(socket, new RequestRouter(services), server_params, transport);
  server.start();
  worker.start();

  std::atomic<bool> stopping{false};
  std::thread signal_thread([&] {
    while (!stopping) {
      int sig = 0;
      if (sigwait(&hup, &sig) != 0 || stopping) break;
      log.information("SIGHUP: reloading plugins");
      notifySystemd("RELOADING=1");
      try {
        plugins->reload();
      } catch (const std::exception& e) {
        // Escaping this thread would end the host; the previous catalogue keeps serving.
        log.error("plugin reload failed: %s; the previous catalogue keeps serving",
                  std::string(e.what()));
      }
      notifySystemd("READY=1");
    }
  });
  std::thread maintenance([&] {
    // Job retention: delete finished jobs past their age in small batches.
    while (!stopping) {
      for (int i = 0; i < 600 && !stopping; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (stopping) break;
      try {
        const std::int64_t cutoff = nowMs() - config.job_retention_hours * 3600 * 1000;
        while (!stopping && storage->deleteFinishedBefore(cutoff, 500) == 500) {
        }
      } catch (const std::exception& e) {
        log.error("job retention failed: %s", std::string(e.what()));
      }
    }
  });

  services.ready = true;
  const std::string address = socket.address().toString();
  const std::string listening =
      "blueprint-host listening on http://" + address + " (storage " + storage->backendName() +
      ", " + std::to_string(plugins->current()->types().size()) + " block types)";
  if (json_log) {
    // One JSON object per line on every stream a collector may read: the banner is a log line
    // too, and the created key (printed once, as in text mode) is one as well.
    logEvent(log, Poco::Message::PRIO_INFORMATION, listening,
             {{"address", address},
              {"storage", storage->backendName()},
              {"block_types", std::to_string(plugins->current()->types().size())},
              {"generation", std::to_string(plugins->current()->generation())}});
    if (!created_key.empty())
      logEvent(log, Poco::Message::PRIO_NOTICE,
               "created an admin API key (shown once; only its hash is stored in " +
                   (fs::path(config.data) / "api-keys.json").string() +
                   "): export BLUEPRINT_KEY=" + created_key,
               {});
  } else {
    std::cout << listening << std::endl;
  }
  if (!created_key.empty() && !json_log) {
    std::cout << "\nCreated an admin API key (shown once; only its hash is stored in "
              << (fs::path(config.data) / "api-keys.json").string()
              << "):\n\n  export BLUEPRINT_KEY=" << created_key << "\n\n";
  }
  for (const Json& agent : json_log ? Json::array() : agents->listDeployed()) {
    for (const Json& bp : agent["blueprints"]) {
      std::cout << "Try it:\n  curl -N -H \"Authorization: Bearer $BLUEPRINT_KEY\" -d "
                   "'{\"inputs\":{\"name\":\"Ada\"}}' http://"
                << address << "/v1/agents/" << agent["id"].get<std::string>() << "/blueprints/"
                << bp["id"].get<std::string>() << "\n";
      break;
    }
    break;
  }
  std::cout.flush();
  notifySystemd("READY=1");  // Type=notify: systemd starts dependants only now (DESIGN §7)

  waitForTerminationRequest();
  notifySystemd("STOPPING=1");
  log.information("shutting down: no new connections; running jobs go back to the queue");
  services.ready = false;
  server.stopAccepting();  // idle keep-alive connections close now
  worker.stop();
  registry.cancelAll();
  server.stop(kShutdownGrace);     // answers in progress finish first
  if (recorder) recorder->stop();  // the last runs' records, before storage closes
  EngineThreads::stop();           // the cancelled runs' last completions ran
  stopping = true;
  pthread_kill(signal_thread.native_handle(), SIGHUP);
  signal_thread.join();
  maintenance.join();
  heartbeat.stop();
  watcher.reset();
  log.information("stopped");
  return Application::EXIT_OK;
}

}  // namespace blueprint::host
