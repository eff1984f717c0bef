// portsyncd: keeps SONiC's STATE_DB in sync with the kernel's port state.
//
// Threads: the main thread runs the engine (startup, then netlink); the engine starts its Redis
// writer thread; gRPC runs its own (callback API) threads; a signal thread waits for
// SIGTERM/SIGINT/SIGHUP with sigwait (all other threads block them), stops the engine or
// reloads; a health thread mirrors GetHealth into grpc.health.v1 (once a second).
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "core/engine.h"
#include "core/logging.h"
#include "core/thread_name.h"
#include "google/protobuf/stubs/logging.h"
#include "server/config/config_reloader.h"
#include "server/config/daemon_config.h"
#include "server/stream/event_hub.h"
#include "server/gnmi/gnmi_service.h"
#include "server/grpc/grpc_server.h"
#include "server/ops/health_reporter.h"
#include "server/ops/metrics.h"
#include "server/portsync/port_sync_service.h"
#include "server/ops/systemd_notifier.h"
#include "server/stream/timer_queue.h"

namespace portsyncd {
namespace {

constexpr char kUsage[] = R"(Usage: portsyncd [OPTIONS]

Keeps SONiC's STATE_DB PORT_TABLE in sync with the kernel's port netdevs (netlink link events),
publishes CONFIG_DB ports to APPL_DB at cold start, and signals PortConfigDone/PortInitDone.
Drop-in replacement for sonic-swss portsyncd; see docs/COMPATIBILITY.md.

Options:
  -c, --config PATH        TOML config file (default )"
                          "/etc/sonic/portsyncd.conf"
                          R"(, used when
                           it exists; an explicit PATH must exist)
  -d, --db-config PATH     SONiC database_config.json (default
                           /var/run/redis/sonic-db/database_config.json)
  -l, --log-level LEVEL    EMERG ALERT CRIT ERROR WARN NOTICE INFO DEBUG (default NOTICE);
                           CONFIG_DB LOGGER|portsyncd LOGLEVEL changes it at run time
  -r, --runtime-dir DIR    where the restart marker lives (default /run/portsyncd)
  -b, --netlink-buffer N   netlink receive buffer in bytes (default 16777216)
  -s, --socket PATH        gRPC unix socket (default RUNTIME_DIR/portsyncd.sock)
  -t, --check-config       validate the config file and database config, then exit
  -h, --help               show this help and exit
  -V, --version            show the version and exit

Command-line options override the config file. Signals: SIGTERM/SIGINT stop after flushing
queued STATE_DB writes (exit 0); SIGHUP reloads the config file (as the Reload RPC).
The gRPC API (portsyncctl, docs/API.md) listens on the unix socket, and on TCP when configured. Exit status 1: bad configuration or a fatal error; 2: bad usage.
)";

struct CommandLine {
  std::optional<std::string> config_path;
  std::optional<std::string> db_config;
  std::optional<std::string> log_level;
  std::optional<std::string> runtime_dir;
  std::optional<int64_t> netlink_buffer;
  std::optional<std::string> socket;
  bool check_only = false;
};

// Returns the exit status to leave with, or nullopt to go on.
std::optional<int> ParseCommandLine(int argc, char** argv, CommandLine& cl) {
  static const option kOptions[] = {
      {"config", required_argument, nullptr, 'c'},
      {"db-config", required_argument, nullptr, 'd'},
      {"log-level", required_argument, nullptr, 'l'},
      {"runtime-dir", required_argument, nullptr, 'r'},
      {"netlink-buffer", required_argument, nullptr, 'b'},
      {"socket", required_argument, nullptr, 's'},
      {"check-config", no_argument, nullptr, 't'},
      {"help", no_argument, nullptr, 'h'},
      {"version", no_argument, nullptr, 'V'},
      {nullptr, 0, nullptr, 0},
  };
  int opt;
  while ((opt = getopt_long(argc, argv, "c:d:l:r:b:s:thV", kOptions, nullptr)) != -1) {
    switch (opt) {
      case 'c':
        cl.config_path = optarg;
        break;
      case 'd':
        cl.db_config = optarg;
        break;
      case 'l':
        if (!ParseLogLevel(optarg)) {
          std::cerr << "portsyncd: --log-level '" << optarg
                    << "' is not one of EMERG ALERT CRIT ERROR WARN NOTICE INFO DEBUG\n";
          return 2;
        }
        cl.log_level = optarg;
        break;
      case 'r':
        cl.runtime_dir = optarg;
        break;
      case 's':
        cl.socket = optarg;
        break;
      case 'b': {
        int64_t n = 0;
        if (!absl::SimpleAtoi(optarg, &n) || n < 64 * 1024 || n > (1 << 30)) {
          std::cerr << "portsyncd: --netlink-buffer '" << optarg
                    << "' must be a byte count between 65536 and 1073741824\n";
          return 2;
        }
        cl.netlink_buffer = n;
        break;
      }
      case 't':
        cl.check_only = true;
        break;
      case 'h':
        std::cout << kUsage;
        return 0;
      case 'V':
        std::cout << "portsyncd " << PORTSYNCD_VERSION << "\n";
        return 0;
      default:
        std::cerr << "Try 'portsyncd --help'.\n";
        return 2;
    }
  }
  if (optind < argc) {
    std::cerr << "portsyncd: unexpected argument '" << argv[optind]
              << "'\nTry 'portsyncd --help'.\n";
    return 2;
  }
  return std::nullopt;
}

// Command-line options override the file, at start and at every reload.
void ApplyCommandLine(const CommandLine& cl, DaemonConfig& config) {
  if (cl.db_config) config.engine.db_config_path = *cl.db_config;
  if (cl.log_level) {
    config.log_level = *cl.log_level;
    config.engine.apply_db_log_level_at_start = false;
  }
  if (cl.runtime_dir) config.engine.runtime_dir = *cl.runtime_dir;
  if (cl.netlink_buffer) {
    config.engine.netlink_receive_buffer_bytes = static_cast<int>(*cl.netlink_buffer);
  }
  if (cl.socket) config.grpc.unix_socket = *cl.socket;
  if (config.grpc.unix_socket.empty()) {
    config.grpc.unix_socket = config.engine.runtime_dir + "/portsyncd.sock";
  }
}

// From the kernel's CSPRNG (getrandom(2)): the reload token is a credential.
std::string RandomHex(size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  size_t filled = 0;
  while (filled < bytes) {
    const ssize_t n = getrandom(raw.data() + filled, bytes - filled, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      LOG_ERROR("getrandom failed: ", std::strerror(errno));
      std::abort();  // no safe fallback for a credential
    }
    filled += static_cast<size_t>(n);
  }
  std::string out;
  for (unsigned char c : raw) absl::StrAppendFormat(&out, "%02x", c);
  return out;
}

// The Reload token: read from grpc.reload_token_file, or generated into the runtime directory
// (mode 0600: only the daemon's user, and root, can read it).
absl::StatusOr<std::string> ReloadToken(const DaemonConfig& config) {
  const std::string& file = config.grpc.reload_token_file;
  if (!file.empty()) {
    std::ifstream in(file);
    std::string token;
    if (!in || !std::getline(in, token) || absl::StripAsciiWhitespace(token).empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("grpc.reload_token_file ", file, ": cannot read a token from it"));
    }
    return std::string(absl::StripAsciiWhitespace(token));
  }
  const std::string path = config.engine.runtime_dir + "/reload.token";
  const std::string token = RandomHex(32);
  // O_NOFOLLOW: never write a credential through a symlink someone planted.
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0 || fchmod(fd, 0600) != 0 ||
      write(fd, (token + "\n").data(), token.size() + 1) !=
          static_cast<ssize_t>(token.size() + 1)) {
    if (fd >= 0) close(fd);
    return absl::FailedPreconditionError(
        absl::StrCat("cannot write the reload token ", path, ": ", std::strerror(errno)));
  }
  close(fd);
  return token;
}

// protobuf reports requests it cannot parse (e.g. a name that is not UTF-8: gRPC then answers
// UNIMPLEMENTED before our handlers run) on stderr, one line per request; route them to our log,
// rate-limited, so a client cannot flood it.
void ProtobufLogHandler(google::protobuf::LogLevel level, const char* /*file*/, int /*line*/,
                        const std::string& message) {
  if (level < google::protobuf::LOGLEVEL_WARNING) return;
  PSLOG_RATE_LIMITED(LogLevel::kWarn, "protobuf: ", message);
}

// SONiC's database service writes database_config.json once Redis is up, and SONiC's daemons
// wait for it; so do we, rather than exit and be restarted in a loop by the supervisor. Only a
// file that does not exist (yet) is waited for: one that cannot be read or parsed is an error.
// READY=1 is sent after 10 s of waiting (as while waiting for Redis: see HealthReporter; the API
// is not served yet), and the watchdog is kept fed.
enum class DbConfigWait { kThere, kAppeared, kStopped };
DbConfigWait WaitForDbConfig(const std::string& path, const SystemdNotifier& notifier,
                             const sigset_t& signals) {
  if (access(path.c_str(), F_OK) == 0 || errno != ENOENT) return DbConfigWait::kThere;
  const absl::Time began = absl::Now();
  absl::Time next_log = began;
  const std::string status = absl::StrCat("STATUS=waiting for the SONiC database config ", path,
                                          " (SONiC's database service writes it once Redis is up)");
  notifier.Notify(status);
  while (access(path.c_str(), F_OK) != 0 && errno == ENOENT) {
    const absl::Time now = absl::Now();
    if (now >= next_log) {
      LOG_WARN("waiting for the SONiC database config ", path, " (",
               absl::FormatDuration(absl::Trunc(now - began, absl::Seconds(1))),
               " so far): it does not exist yet; SONiC's database service writes it once Redis "
               "is up (or give another path with --db-config)");
      next_log = now + absl::Seconds(30);
    }
    if (now - began >= absl::Seconds(10)) notifier.NotifyReady(status);
    if (notifier.watchdog_period()) notifier.Notify("WATCHDOG=1");
    // Poll the file twice a second; a stop signal ends the wait at once.
    const timespec half_second{0, 500'000'000};
    const int sig = sigtimedwait(&signals, nullptr, &half_second);
    if (sig == SIGTERM || sig == SIGINT) return DbConfigWait::kStopped;
  }
  LOG_NOTICE("the SONiC database config ", path, " appeared after ",
             absl::FormatDuration(absl::Trunc(absl::Now() - began, absl::Milliseconds(1))));
  return DbConfigWait::kAppeared;
}

int Main(int argc, char** argv) {
  google::protobuf::SetLogHandler(ProtobufLogHandler);
  CommandLine cl;
  if (std::optional<int> exit_status = ParseCommandLine(argc, argv, cl)) return *exit_status;

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
  const DbConfigWait waited =
      cl.check_only ? DbConfigWait::kThere
                    : WaitForDbConfig(config.engine.db_config_path, notifier, signals);
  if (waited == DbConfigWait::kStopped) {
    LOG_NOTICE("stopped while waiting for ", config.engine.db_config_path);
    return 0;
  }
  absl::StatusOr<std::unique_ptr<Engine>> created = Engine::Create(config.engine);
  // A file that has just appeared may still be being written: give its writer 2 s to finish
  // (a stop signal still ends the wait at once).
  for (int retry = 0; waited == DbConfigWait::kAppeared && !created.ok() && retry < 20; ++retry) {
    const timespec tenth{0, 100'000'000};
    const int sig = sigtimedwait(&signals, nullptr, &tenth);
    if (sig == SIGTERM || sig == SIGINT) return 0;
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
      [&cl](DaemonConfig& c) { ApplyCommandLine(cl, c); }, &hub, &notifier, &server_counters);

  // Read before the signal thread and gRPC can reload `config` concurrently.
  const GrpcOptions grpc_options = config.grpc;
  const std::string start_message = absl::StrCat(
      "portsyncd ", PORTSYNCD_VERSION, " starting: db config ", config.engine.db_config_path,
      ", runtime dir ", config.engine.runtime_dir, ", instance ", hub.instance_id());
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

  HealthReporter health_reporter((*server).get(), [&service] { return service.Health(); }, &engine, &notifier,
                                 [&reloader] { reloader.MarkStarted(); });
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
