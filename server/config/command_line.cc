#include "server/config/command_line.h"

#include <getopt.h>

#include "absl/strings/numbers.h"
#include "core/logging.h"

namespace portsyncd {

const char kUsage[] = R"(Usage: portsyncd [OPTIONS]

Keeps SONiC's STATE_DB PORT_TABLE in sync with the kernel's port netdevs (netlink link events),
publishes CONFIG_DB ports to APPL_DB at cold start, and signals PortConfigDone/PortInitDone.
Drop-in replacement for sonic-swss portsyncd; see docs/COMPATIBILITY.md. With --no-redis (host
mode) it needs no SONiC database: it follows the host's links for its API, gNMI and /metrics.
Which interfaces it follows: [ports] include/exclude in the config file (docs/CONFIG.md).

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
  -n, --no-redis           host mode: no SONiC database (redis.enabled = false); follows
                           every interface but lo unless [ports] says otherwise
  -t, --check-config       validate the config file and database config, then exit
  -h, --help               show this help and exit
  -V, --version            show the version and exit

Command-line options override the config file. Signals: SIGTERM/SIGINT stop after flushing
queued STATE_DB writes (exit 0); SIGHUP reloads the config file (as the Reload RPC).
The gRPC API (portsyncctl, docs/API.md) listens on the unix socket, and on TCP when configured. Exit status 1: bad configuration or a fatal error; 2: bad usage.
)";

std::optional<int> ParseCommandLine(int argc, char** argv, CommandLine& cl, std::ostream& out,
                                    std::ostream& err) {
  static const option kOptions[] = {
      {"config", required_argument, nullptr, 'c'},
      {"db-config", required_argument, nullptr, 'd'},
      {"log-level", required_argument, nullptr, 'l'},
      {"runtime-dir", required_argument, nullptr, 'r'},
      {"netlink-buffer", required_argument, nullptr, 'b'},
      {"socket", required_argument, nullptr, 's'},
      {"check-config", no_argument, nullptr, 't'},
      {"no-redis", no_argument, nullptr, 'n'},
      {"help", no_argument, nullptr, 'h'},
      {"version", no_argument, nullptr, 'V'},
      {nullptr, 0, nullptr, 0},
  };
  int opt;
  while ((opt = getopt_long(argc, argv, "c:d:l:r:b:s:tnhV", kOptions, nullptr)) != -1) {
    switch (opt) {
      case 'c':
        cl.config_path = optarg;
        break;
      case 'd':
        cl.db_config = optarg;
        break;
      case 'l':
        if (!ParseLogLevel(optarg)) {
          err << "portsyncd: --log-level '" << optarg
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
          err << "portsyncd: --netlink-buffer '" << optarg
              << "' must be a byte count between 65536 and 1073741824\n";
          return 2;
        }
        cl.netlink_buffer = n;
        break;
      }
      case 't':
        cl.check_only = true;
        break;
      case 'n':
        cl.no_redis = true;
        break;
      case 'h':
        out << kUsage;
        return 0;
      case 'V':
        out << "portsyncd " << PORTSYNCD_VERSION << "\n";
        return 0;
      default:
        err << "Try 'portsyncd --help'.\n";
        return 2;
    }
  }
  if (optind < argc) {
    err << "portsyncd: unexpected argument '" << argv[optind] << "'\nTry 'portsyncd --help'.\n";
    return 2;
  }
  if (cl.no_redis && cl.db_config) {
    err << "portsyncd: --db-config and --no-redis contradict each other: host mode reads no "
           "database config; drop one\n";
    return 2;
  }
  return std::nullopt;
}

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
  if (cl.no_redis && config.engine.redis_enabled) {
    config.engine.redis_enabled = false;
    // The file was checked in its own mode; in host mode its lists only lose the SONiC default
    // include, which cannot contradict anything the file's mode accepted.
    if (absl::Status s = ResolvePortSelection(config); !s.ok()) {
      LOG_ERROR("--no-redis: ", s.message(), "; following ", config.engine.selection.Describe());
    }
  }
  if (config.grpc.unix_socket.empty()) {
    config.grpc.unix_socket = config.engine.runtime_dir + "/portsyncd.sock";
  }
}

}  // namespace portsyncd
