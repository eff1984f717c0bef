// portsyncd: keeps SONiC's STATE_DB in sync with the kernel's port state.
//
// Threads: the main thread runs the engine (startup, then netlink); the engine starts its Redis
// writer thread; a signal thread waits for SIGTERM/SIGINT/SIGHUP with sigwait (all other threads
// block them) and asks the engine to stop.
#include <getopt.h>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/engine.h"
#include "core/logging.h"
#include "server/daemon_config.h"

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
  -t, --check-config       validate the config file and database config, then exit
  -h, --help               show this help and exit
  -V, --version            show the version and exit

Command-line options override the config file. Signals: SIGTERM/SIGINT stop after flushing
queued STATE_DB writes (exit 0). Exit status 1: bad configuration or a fatal error; 2: bad usage.
)";

struct CommandLine {
  std::optional<std::string> config_path;
  std::optional<std::string> db_config;
  std::optional<std::string> log_level;
  std::optional<std::string> runtime_dir;
  std::optional<int64_t> netlink_buffer;
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
      {"check-config", no_argument, nullptr, 't'},
      {"help", no_argument, nullptr, 'h'},
      {"version", no_argument, nullptr, 'V'},
      {nullptr, 0, nullptr, 0},
  };
  int opt;
  while ((opt = getopt_long(argc, argv, "c:d:l:r:b:thV", kOptions, nullptr)) != -1) {
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

int Main(int argc, char** argv) {
  CommandLine cl;
  if (std::optional<int> exit_status = ParseCommandLine(argc, argv, cl)) return *exit_status;

  DaemonConfig config;
  const std::string config_path = cl.config_path.value_or(kDefaultConfigPath);
  if (cl.config_path || access(config_path.c_str(), F_OK) == 0) {
    absl::StatusOr<DaemonConfig> loaded = LoadDaemonConfig(config_path);
    if (!loaded.ok()) {
      std::cerr << "portsyncd: " << loaded.status().message() << "\n";
      return 1;
    }
    config = *std::move(loaded);
  }
  if (cl.db_config) config.engine.db_config_path = *cl.db_config;
  if (cl.log_level) {
    config.log_level = *cl.log_level;
    config.engine.apply_db_log_level_at_start = false;
  }
  if (cl.runtime_dir) config.engine.runtime_dir = *cl.runtime_dir;
  if (cl.netlink_buffer)
    config.engine.netlink_receive_buffer_bytes = static_cast<int>(*cl.netlink_buffer);
  SetLogLevel(*ParseLogLevel(config.log_level));

  // Block the signals before any thread starts, so only the signal thread receives them.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGTERM, SIGINT, SIGHUP, SIGUSR1}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  absl::StatusOr<std::unique_ptr<Engine>> engine = Engine::Create(config.engine);
  if (!engine.ok()) {
    std::cerr << "portsyncd: " << engine.status().message() << "\n";
    return 1;
  }
  if (cl.check_only) {
    std::cout << "portsyncd: configuration OK\n";
    return 0;
  }

  std::atomic<bool> main_done{false};
  std::thread signal_thread([&signals, &main_done, e = engine->get()] {
    while (true) {
      int sig = 0;
      if (sigwait(&signals, &sig) != 0) continue;
      if (sig == SIGHUP) {
        LOG_NOTICE("SIGHUP: configuration reload is not implemented yet; ignoring");
        continue;
      }
      if (sig == SIGUSR1) {
        if (main_done.load()) return;
        continue;  // someone else's SIGUSR1: not ours to act on
      }
      LOG_NOTICE("received ", strsignal(sig), "; stopping");
      e->Stop();
      return;
    }
  });

  LOG_NOTICE("portsyncd ", PORTSYNCD_VERSION, " starting: db config ", config.engine.db_config_path,
             ", runtime dir ", config.engine.runtime_dir);
  absl::Status status = (*engine)->Run();
  main_done.store(true);
  pthread_kill(signal_thread.native_handle(), SIGUSR1);
  signal_thread.join();
  if (!status.ok()) {
    LOG_ERROR("fatal: ", status.message(), "; counters: ", (*engine)->counters().Summary());
    return 1;
  }
  LOG_NOTICE("portsyncd stopped; counters: ", (*engine)->counters().Summary());
  return 0;
}

}  // namespace
}  // namespace portsyncd

int main(int argc, char** argv) { return portsyncd::Main(argc, argv); }
