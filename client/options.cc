#include "client/options.h"

#include <getopt.h>

#include <algorithm>
#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"

namespace portsyncd::ctl {

const char kHelp[] = R"(Usage: portsyncctl [OPTIONS] COMMAND [ARGS]

Shows and controls portsyncd, the SONiC port state daemon, over its gRPC API.

Commands:
  ports [NAME...]   every port (or the named ones, or those matching 'Ethernet1*'):
                    admin/oper status, MTU, ifindex, whether STATE_DB holds exactly the
                    kernel's state, last change, carrier flaps
  watch [NAME...]   live link events, one line each; survives daemon restarts
  health            overall and per-component health, with counters
  reload            make the daemon re-read its config file (needs the reload token)

Options:
  -t, --target T       unix:/path, /path (a unix socket) or host:port
                       (default unix:/run/portsyncd/portsyncd.sock, or on a SONiC switch
                       where that does not exist, unix:/var/run/redis/portsyncd.sock)
  -n, --namespace NS   the instance of ASIC namespace NS on a multi-ASIC system, as SONiC's
                       CLIs select one: asic0, asic1, ...; "all": every instance found
                       (ports, health), with a NAMESPACE column
      --namespace-socket TEMPLATE
                       where instance asicN listens, {N} for the number (default
                       /var/run/redis{N}/portsyncd.sock; or $PORTSYNCCTL_NAMESPACE_SOCKET)
  -j, --json           JSON output: one object (watch: one object per line)
  -T, --timeout S      seconds to wait for the daemon (default 5)
      --tls            use TLS (host:port targets)
      --ca FILE        CA certificate to verify the server with (implies --tls)
      --cert FILE      client certificate for mTLS (with --key; implies --tls)
      --key FILE       client key for mTLS
      --server-name N  name to verify in the server certificate (default: the host)
      --token-file F   reload token (default /run/portsyncd/reload.token)
  -h, --help           this help; COMMAND --help for a command's

Exit status: 0 success; 1 the daemon is unreachable, refused or failed the request;
2 bad usage.
)";

const std::map<std::string, std::string>& CommandHelp() {
  static const auto* help = new std::map<std::string, std::string>{
      {"ports", R"(Usage: portsyncctl [OPTIONS] ports [NAME|PATTERN...]

One line per port, in natural order (Ethernet0, Ethernet4, ... Ethernet100), like SONiC's
`show interfaces status`:
  PORT  ADMIN  OPER  MTU  IFINDEX  STATE_DB  LAST CHANGE  FLAPS
STATE_DB is "in sync" when it holds exactly the kernel's state, "pending" while a write is on
its way, and "-" for a port without a netdev. FLAPS is the kernel's count of carrier losses
of the netdev (IFLA_CARRIER_DOWN_COUNT): it survives portsyncd restarts, restarts from 0 when
the netdev is re-created, and a veth created without carrier already shows 1. With --json: the
GetPortState response, with every counter.
A NAME with *, ? or [...] is a shell pattern: `portsyncctl ports 'Ethernet1*'` lists Ethernet1,
Ethernet12, Ethernet100... (quote it, or the shell expands it). Large switches are read in pages
of 10,000 ports (GetPortState page_token), all printed as one table.
)"},
      {"watch", R"(Usage: portsyncctl [OPTIONS] watch [NAME...]

Prints every link event as it happens: time, port, event, and what changed
(e.g. "oper up -> down"). Starts with a one-line summary of the current state. When the
connection drops or the daemon restarts, it reconnects and resumes where it stopped; when
events were lost in between, it says so and re-reads the state. With --json: every event,
snapshot included, as one JSON object per line. Stop with Ctrl-C.
)"},
      {"health", R"(Usage: portsyncctl [OPTIONS] health

Overall status (SERVING, DEGRADED, NOT_SERVING), each component with its status, message and
since-when, and the counters. Exit status 0 even when DEGRADED; 1 only when the daemon cannot be
reached. With --json: the GetHealth response.
)"},
      {"reload", R"(Usage: portsyncctl [OPTIONS] reload

Asks portsyncd to re-read and validate its config file and apply it atomically. Prints the new
config version, the keys that changed and those that need a restart. Needs the reload token
(--token-file, default /run/portsyncd/reload.token, readable by root only). With --json: the
Reload response.
)"},
  };
  return *help;
}

std::optional<int> ParseArgs(int argc, char** argv, ParsedArgs* parsed, std::ostream& out,
                             std::ostream& err) {
  Options& o = parsed->options;
  enum { kTls = 1000, kCa, kCert, kKey, kServerName, kTokenFile, kNamespaceSocket };
  static const option kOptions[] = {
      {"target", required_argument, nullptr, 't'},
      {"namespace", required_argument, nullptr, 'n'},
      {"namespace-socket", required_argument, nullptr, kNamespaceSocket},
      {"json", no_argument, nullptr, 'j'},
      {"timeout", required_argument, nullptr, 'T'},
      {"tls", no_argument, nullptr, kTls},
      {"ca", required_argument, nullptr, kCa},
      {"cert", required_argument, nullptr, kCert},
      {"key", required_argument, nullptr, kKey},
      {"server-name", required_argument, nullptr, kServerName},
      {"token-file", required_argument, nullptr, kTokenFile},
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0},
  };
  if (const char* ns_socket = std::getenv("PORTSYNCCTL_NAMESPACE_SOCKET")) {
    if (*ns_socket != '\0') o.namespace_socket = ns_socket;
  }
  bool& target_given = parsed->target_given;
  int opt;
  // '+': stop at the command, whose own arguments (and --help) follow it.
  while ((opt = getopt_long(argc, argv, "+t:n:jT:h", kOptions, nullptr)) != -1) {
    switch (opt) {
      case 't':
        o.target = optarg;
        target_given = true;
        break;
      case 'n':
        o.ns = optarg;
        if (o.ns != "all" && !AsicNumber(o.ns)) {
          err << "portsyncctl: -n '" << optarg
              << "': expected an ASIC namespace (asic0, asic1, ...) or all\n";
          return kUsage;
        }
        break;
      case kNamespaceSocket:
        o.namespace_socket = optarg;
        break;
      case 'j':
        o.json = true;
        break;
      case 'T':
        if (!absl::SimpleAtod(optarg, &o.timeout_s) || o.timeout_s <= 0) {
          err << "portsyncctl: --timeout '" << optarg << "' must be a positive number\n";
          return kUsage;
        }
        break;
      case kTls:
        o.tls = true;
        break;
      case kCa:
        o.ca_file = optarg;
        o.tls = true;
        break;
      case kCert:
        o.cert_file = optarg;
        o.tls = true;
        break;
      case kKey:
        o.key_file = optarg;
        break;
      case kServerName:
        o.server_name = optarg;
        break;
      case kTokenFile:
        o.token_file = optarg;
        break;
      case 'h':
        out << kHelp;
        return kOk;
      default:
        err << "Try 'portsyncctl --help'.\n";
        return kUsage;
    }
  }
  if (optind >= argc) {
    err << "portsyncctl: missing command (ports, watch, health, reload)\n"
           "Try 'portsyncctl --help'.\n";
    return kUsage;
  }
  parsed->command = argv[optind];
  parsed->args.assign(argv + optind + 1, argv + argc);
  const std::string& command = parsed->command;
  const std::vector<std::string>& args = parsed->args;
  auto help = CommandHelp().find(command);
  if (help == CommandHelp().end()) {
    err << "portsyncctl: unknown command '" << command
        << "' (ports, watch, health, reload)\nTry 'portsyncctl --help'.\n";
    return kUsage;
  }
  for (const std::string& arg : args) {
    if (arg == "-h" || arg == "--help") {
      out << help->second;
      return kOk;
    }
    if (absl::StartsWith(arg, "-")) {
      err << "portsyncctl: " << command << ": unknown option '" << arg
          << "' (global options go before the command)\n";
      return kUsage;
    }
  }
  if ((command == "health" || command == "reload") && !args.empty()) {
    err << "portsyncctl: " << command << " takes no arguments\n";
    return kUsage;
  }
  if (!o.cert_file.empty() && o.key_file.empty()) {
    err << "portsyncctl: --cert needs --key\n";
    return kUsage;
  }
  if (!o.ns.empty() && target_given) {
    err << "portsyncctl: -n and --target both name the instance: give one\n";
    return kUsage;
  }
  if (!o.ns.empty() && !absl::StrContains(o.namespace_socket, "{N}")) {
    err << "portsyncctl: --namespace-socket '" << o.namespace_socket
        << "' must contain {N}, the ASIC number\n";
    return kUsage;
  }
  if (o.ns == "all" && command != "ports" && command != "health") {
    err << "portsyncctl: -n all works with ports and health; " << command
        << " needs one instance (-n asicN)\n";
    return kUsage;
  }
  return std::nullopt;
}

std::optional<int> AsicNumber(absl::string_view ns) {
  int n = 0;
  if (!absl::ConsumePrefix(&ns, "asic") || ns.empty() || ns.size() > 4 ||
      !std::all_of(ns.begin(), ns.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      !absl::SimpleAtoi(ns, &n)) {
    return std::nullopt;
  }
  return n;
}

std::string NamespaceTarget(const Options& o, int asic) {
  return absl::StrCat("unix:",
                      absl::StrReplaceAll(o.namespace_socket, {{"{N}", absl::StrCat(asic)}}));
}

}  // namespace portsyncd::ctl
