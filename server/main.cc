// portsyncd: keeps SONiC's STATE_DB in sync with the kernel's port state. This file only wires
// the rooms of server/ (their CMakeLists say what each holds) to the engine.
//
// Threads (docs/ARCHITECTURE.md has the whole list, with what wakes each):
//   main        the engine's netlink loop (core/kernel_follower.h)
//   ps-startup  the SONiC startup sequence (core/startup.h; not in host mode); then the same
//   ps-writer   thread, renamed, is the engine's Redis writer (core/state_writer.h)
//   ps-keyspace the keyspace-notification subscriber (core/keyspace_watcher.h), when Redis has
//               notifications on
//   ps-kicker   starts writes on the streams when changes arrive (server/stream/event_hub.h)
//   ps-timers   gNMI SAMPLE, heartbeat and History timers (server/stream/timer_queue.h)
//   ps-health   grpc.health.v1 and systemd's READY/STATUS/WATCHDOG (server/ops/health_reporter.h)
//   ps-signals  sigwait for SIGTERM/SIGINT (stop) and SIGHUP (reload); every other thread
//               blocks them
//   ps-metrics  the /metrics HTTP server (and its two workers), only with metrics.listen
//   gRPC's own  the callback API's threads and pollers
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/engine.h"
#include "core/logging.h"
#include "core/thread_name.h"
#include "google/protobuf/stubs/logging.h"
#include "server/config/command_line.h"
#include "server/config/config_reloader.h"
#include "server/config/daemon_config.h"
#include "server/config/reload_token.h"
#include "server/gnmi/gnmi_service.h"
#include "server/grpc/grpc_server.h"
#include "server/ops/db_config_wait.h"
#include "server/ops/health_reporter.h"
#include "server/ops/metrics.h"
#include "server/ops/systemd_notifier.h"
#include "server/portsync/port_sync_service.h"
#include "server/stream/event_hub.h"
#include "server/stream/timer_queue.h"

namespace portsyncd {
namespace {

// protobuf reports requests it cannot parse (e.g. a name that is not UTF-8: gRPC then answers
// UNIMPLEMENTED before our handlers run) on stderr, one line per request; route them to our log,
// rate-limited, so a client cannot flood it.
void ProtobufLogHandler(google::protobuf::LogLevel level, const char* /*file*/, int /*line*/,
                        const std::string& message) {
  if (level < google::protobuf::LOGLEVEL_WARNING) return;
  PSLOG_RATE_LIMITED(LogLevel::kWarn, "protobuf: ", message);
}

int Main(int argc, char** argv) {
  google::protobuf::SetLogHandler(ProtobufLogHandler);
  CommandLine cl;
  if (std::optional<int> exit_status = ParseCommandLine(argc, argv, cl, std::cout, std::cerr)) {
    return *exit_status;
  }

  DaemonConfig config;
  std::optional<std::string> config_file;
  const std::string config_path = cl.config_path.value_or(kDefaultConfigPath);
  if (cl.config_path || access(config_path.c_str(), F_OK) == 0) {
    absl::StatusOr<DaemonConfig> loaded = LoadDaemonConfig(config_path);
    if (!loaded.ok()) {
      std::cerr << "portsyncd: " << loaded.status().message() << "\n";
      return 1;
    }
    config = *std::move(loaded);
    config_file = config_path;
  }
  ApplyCommandLine(cl, config);
  SetLogLevel(*ParseLogLevel(config.log_level));
  if (const char* stall = std::getenv("PORTSYNCD_TEST_STALL_FILE")) {
    config.engine.test_stall_file = stall;
  }

  // Block the signals before any thread starts, so only the signal thread receives them.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGTERM, SIGINT, SIGHUP, SIGUSR1}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  const SystemdNotifier notifier;
  // A stop signal ends the waits below at once.
  auto stop_asked_within = [&signals](absl::Duration d) {
    const timespec wait = absl::ToTimespec(d);
    const int sig = sigtimedwait(&signals, nullptr, &wait);
    return sig == SIGTERM || sig == SIGINT;
  };
  // Host mode reads no database config: nothing to wait for.
  const DbConfigWait waited =
      cl.check_only || !config.engine.redis_enabled
          ? DbConfigWait::kThere
          : WaitForDbConfig(config.engine.db_config_path, notifier, RealClock(), stop_asked_within);
  if (waited == DbConfigWait::kStopped) {
    LOG_NOTICE("stopped while waiting for ", config.engine.db_config_path);
    return 0;
  }
  absl::StatusOr<std::unique_ptr<Engine>> created = Engine::Create(config.engine);
  // A file that has just appeared may still be being written: give its writer 2 s to finish
  // (a stop signal still ends the wait at once).
  for (int retry = 0; waited == DbConfigWait::kAppeared && !created.ok() && retry < 20; ++retry) {
    if (stop_asked_within(absl::Milliseconds(100))) return 0;
    created = Engine::Create(config.engine);
  }
  if (!created.ok()) {
    std::cerr << "portsyncd: " << created.status().message() << "\n";
    return 1;
  }
  if (cl.check_only) {
    std::cout << "portsyncd: configuration OK\n";
    return 0;
  }
  Engine& engine = **created;

  if (mkdir(config.engine.runtime_dir.c_str(), 0755) != 0 && errno != EEXIST) {
    std::cerr << "portsyncd: cannot create runtime directory " << config.engine.runtime_dir << ": "
              << std::strerror(errno) << "\n";
    return 1;
  }
  // Before touching anything in the runtime directory (the reload token): a second daemon must
  // not disturb the first.
  if (SocketIsLive(config.grpc.unix_socket)) {
    std::cerr << "portsyncd: another process is serving on " << config.grpc.unix_socket
              << "; is portsyncd already running? Stop it, or give this one another "
                 "--runtime-dir\n";
    return 1;
  }
  absl::StatusOr<std::string> token = ReloadToken(config);
  if (!token.ok()) {
    std::cerr << "portsyncd: " << token.status().message() << "\n";
    return 1;
  }

  const absl::Time start_time = absl::Now();
  EventHubOptions hub_options;
  hub_options.max_streams = static_cast<size_t>(config.grpc.max_streams);
  hub_options.stream_queue_limit = static_cast<size_t>(config.grpc.stream_queue_limit);
  hub_options.replay_buffer = static_cast<size_t>(config.grpc.replay_buffer);
  EventHub hub(&engine, RandomHex(8), hub_options);
  engine.SetListener(&hub);

  ServerCounters server_counters;
  // Reload (RPC and SIGHUP): validate the whole file, then apply what can change live.
  ConfigReloader reloader(
      config_path, config_file.has_value(), config,
      [&cl](DaemonConfig& c) { ApplyCommandLine(cl, c); }, &hub, &notifier, &server_counters,
      [&engine](const PortSelection& selection) { engine.SetPortSelection(selection); });

  // Read before the signal thread and gRPC can reload `config` concurrently.
  const GrpcOptions grpc_options = config.grpc;
  const std::string start_message = absl::StrCat(
      "portsyncd ", PORTSYNCD_VERSION, " starting: ",
      config.engine.redis_enabled ? absl::StrCat("db config ", config.engine.db_config_path)
                                  : std::string("host mode (no SONiC database)"),
      ", following ", config.engine.selection.Describe(), ", runtime dir ",
      config.engine.runtime_dir, ", instance ", hub.instance_id());
  PortSyncService service(
      &engine, &hub,
      ServiceInfo{PORTSYNCD_VERSION, start_time, [&reloader] { return reloader.Description(); }},
      [&reloader] { return reloader.Reload(); }, *token);
  TimerQueue timers(RealClock());
  timers.Start();
  GnmiService gnmi(&hub, &timers, RealClock());
  absl::StatusOr<std::unique_ptr<grpc::Server>> server =
      StartGrpcServer(grpc_options, grpc_options.unix_socket, {&service, &gnmi});
  if (!server.ok()) {
    std::cerr << "portsyncd: " << server.status().message() << "\n";
    return 1;
  }
  LOG_NOTICE("gRPC: listening on unix:", grpc_options.unix_socket,
             grpc_options.tcp_address.empty()
                 ? ""
                 : absl::StrCat(" and ", grpc_options.tcp_address,
                                grpc_options.tcp_insecure                 ? " (insecure, loopback)"
                                : grpc_options.tls_client_ca_file.empty() ? " (TLS)"
                                                                          : " (mTLS)"));

  std::unique_ptr<MetricsServer> metrics;
  if (!config.metrics_listen.empty()) {
    absl::StatusOr<std::unique_ptr<MetricsServer>> started = MetricsServer::Start(
        config.metrics_listen, [&] { return RenderMetrics(engine, hub, server_counters); });
    if (!started.ok()) {
      std::cerr << "portsyncd: " << started.status().message() << "\n";
      return 1;
    }
    metrics = *std::move(started);
    LOG_NOTICE("metrics: http://", config.metrics_listen, "/metrics");
  }

  HealthReporter health_reporter((*server).get(), [&service] { return service.Health(); }, &engine,
                                 &notifier, [&reloader] { reloader.MarkStarted(); });
  std::atomic<bool> main_done{false};

  std::thread signal_thread([&] {
    SetThreadName("ps-signals");
    while (true) {
      int sig = 0;
      if (sigwait(&signals, &sig) != 0) continue;
      if (sig == SIGHUP) {
        absl::StatusOr<ReloadResult> result = reloader.Reload();
        if (!result.ok()) LOG_ERROR("SIGHUP reload refused: ", result.status().message());
        continue;
      }
      if (sig == SIGUSR1) {
        if (main_done.load()) return;
        continue;  // someone else's SIGUSR1: not ours to act on
      }
      LOG_NOTICE("received ", strsignal(sig), "; stopping");
      notifier.Notify("STOPPING=1");
      engine.Stop();
      return;
    }
  });

  LOG_NOTICE(start_message);
  absl::Status status = engine.Run();
  main_done.store(true);
  health_reporter.Stop();
  hub.Shutdown();
  metrics.reset();
  (*server)->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  pthread_kill(signal_thread.native_handle(), SIGUSR1);
  signal_thread.join();
  if (!status.ok()) {
    LOG_ERROR("fatal: ", status.message(), "; counters: ", engine.counters().Summary());
    return 1;
  }
  LOG_NOTICE("portsyncd stopped; counters: ", engine.counters().Summary());
  return 0;
}

}  // namespace
}  // namespace portsyncd

int main(int argc, char** argv) { return portsyncd::Main(argc, argv); }
