// portsyncctl: the command-line client of portsyncd's gRPC API.
//
//   portsyncctl [--target T | -n asicN | -n all] [--json] [--timeout S] [TLS options] COMMAND
//   [ARGS] COMMAND: ports [NAME...] | watch [NAME...] | health | reload
//
// Exit status: 0 success, 1 RPC or server error (including "not running" and "not authorized"),
// 2 usage error.
#include <getopt.h>
#include <glob.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "portsyncd/v1/portsyncd.grpc.pb.h"

namespace portsyncd {
namespace {

namespace v1 = ::portsyncd::v1;

constexpr int kOk = 0;
constexpr int kRpcError = 1;
constexpr int kUsage = 2;

constexpr char kDefaultTarget[] = "unix:/run/portsyncd/portsyncd.sock";
// Where the instance of ASIC namespace asicN listens: SONiC bind-mounts /var/run/redis<N> from
// the host into that ASIC's swss container, and the shipped supervisord section
// (deploy/sonic/portsyncd.supervisord.conf) puts the socket there. {N} is the ASIC number.
// Single-ASIC SONiC: the same, without a number; used when kDefaultTarget does not exist.
constexpr char kSonicTarget[] = "unix:/var/run/redis/portsyncd.sock";
constexpr char kDefaultNamespaceSocket[] = "/var/run/redis{N}/portsyncd.sock";
constexpr char kDefaultTokenFile[] = "/run/portsyncd/reload.token";

constexpr char kHelp[] = R"(Usage: portsyncctl [OPTIONS] COMMAND [ARGS]

Shows and controls portsyncd, the SONiC port state daemon, over its gRPC API.

Commands:
  ports [NAME...]   every port (or the named ones): admin/oper status, MTU, ifindex, whether
                    STATE_DB holds exactly the kernel's state, last change, carrier flaps
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
      {"ports", R"(Usage: portsyncctl [OPTIONS] ports [NAME...]

One line per port, in natural order (Ethernet0, Ethernet4, ... Ethernet100), like SONiC's
`show interfaces status`:
  PORT  ADMIN  OPER  MTU  IFINDEX  STATE_DB  LAST CHANGE  FLAPS
STATE_DB is "in sync" when it holds exactly the kernel's state, "pending" while a write is on
its way, and "-" for a port without a netdev. FLAPS is the kernel's count of carrier losses
of the netdev (IFLA_CARRIER_DOWN_COUNT): it survives portsyncd restarts, restarts from 0 when
the netdev is re-created, and a veth created without carrier already shows 1. With --json: the
GetPortState response, with every counter.
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

struct Options {
  std::string target = kDefaultTarget;
  std::string ns;  // -n: "asicN" or "all"; empty: --target
  std::string namespace_socket = kDefaultNamespaceSocket;
  bool json = false;
  double timeout_s = 5;
  bool tls = false;
  std::string ca_file, cert_file, key_file, server_name;
  std::string token_file = kDefaultTokenFile;
};

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

int Fail(const std::string& message) {
  std::cerr << "portsyncctl: " << message << "\n";
  return kRpcError;
}

// "unix:/path" and "/path" are unix sockets; anything else is host:port.
std::string GrpcTarget(const std::string& target) {
  if (absl::StartsWith(target, "/")) return absl::StrCat("unix:", target);
  return target;
}

// For a unix: target, tries a plain connect(); returns why it failed, or nothing (not a unix
// socket, or it accepted: gRPC takes over from there).
std::optional<std::string> ProbeUnixSocket(const std::string& target) {
  if (!absl::StartsWith(target, "unix:")) return std::nullopt;
  std::string path(absl::StripPrefix(target, "unix:"));
  if (absl::StartsWith(path, "//")) path = path.substr(2);
  sockaddr_un addr{};
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) return std::nullopt;
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  const int rc = connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  const int err = errno;
  close(fd);
  if (rc == 0) return std::nullopt;
  switch (err) {
    case EACCES:
    case EPERM:
      return absl::StrCat(std::strerror(err), " (", path,
                          ": API access needs write permission on the socket, usually membership "
                          "in its group)");
    case ENOENT:
      return absl::StrCat("no socket at ", path, ": is it running?");
    case ECONNREFUSED:
      return absl::StrCat("nobody listens on ", path, ": is it running?");
    default:
      return absl::StrCat(std::strerror(err), " (", path, ")");
  }
}

std::shared_ptr<grpc::Channel> MakeChannel(const Options& o, std::string& error) {
  grpc::ChannelArguments args;
  // Detects a daemon that vanished while `watch` waits for events on an idle stream.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 20'000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // An idle watch sends no data; keep pinging anyway (the default stops after two pings).
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  // After a daemon restart, `watch` should be back within a second or two, not gRPC's default
  // reconnect backoff of up to two minutes.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  if (!o.server_name.empty()) args.SetSslTargetNameOverride(o.server_name);
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (o.tls) {
    grpc::SslCredentialsOptions ssl;
    if (!o.ca_file.empty()) {
      std::optional<std::string> ca = ReadFile(o.ca_file);
      if (!ca) {
        error = absl::StrCat("cannot read --ca ", o.ca_file);
        return nullptr;
      }
      ssl.pem_root_certs = *ca;
    }
    if (!o.cert_file.empty()) {
      std::optional<std::string> cert = ReadFile(o.cert_file);
      std::optional<std::string> key = ReadFile(o.key_file);
      if (!cert || !key) {
        error = absl::StrCat("cannot read --cert ", o.cert_file, " or --key ", o.key_file);
        return nullptr;
      }
      ssl.pem_cert_chain = *cert;
      ssl.pem_private_key = *key;
    }
    credentials = grpc::SslCredentials(ssl);
  }
  return grpc::CreateCustomChannel(GrpcTarget(o.target), credentials, args);
}

std::chrono::system_clock::time_point Deadline(const Options& o) {
  return std::chrono::system_clock::now() +
         std::chrono::milliseconds(static_cast<int64_t>(o.timeout_s * 1000));
}

std::string RpcFailure(const Options& o, const grpc::Status& status) {
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return absl::StrCat("cannot reach portsyncd at ", o.target, ": is it running? (",
                          status.error_message(), ")");
    case grpc::StatusCode::PERMISSION_DENIED:
      return absl::StrCat("not authorized: ", status.error_message());
    case grpc::StatusCode::NOT_FOUND:
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return status.error_message();
    default:
      return absl::StrCat(status.error_message(), " (gRPC status ", status.error_code(), ")");
  }
}

std::string ToJson(const google::protobuf::Message& message, bool multiline) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = multiline;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  if (!multiline) absl::StripTrailingAsciiWhitespace(&out);
  return out;
}

std::string Status(v1::LinkStatus s) {
  return s == v1::LINK_STATUS_UP ? "up" : s == v1::LINK_STATUS_DOWN ? "down" : "-";
}

absl::Time FromProto(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

std::string Ago(const google::protobuf::Timestamp& t, absl::Time now) {
  if (t.seconds() == 0 && t.nanos() == 0) return "never";
  const absl::Duration d = now - FromProto(t);
  if (d < absl::Seconds(1)) return "just now";
  if (d < absl::Minutes(1)) return absl::StrCat(absl::ToInt64Seconds(d), "s ago");
  if (d < absl::Hours(1)) return absl::StrCat(absl::ToInt64Minutes(d), "m ago");
  if (d < absl::Hours(48)) return absl::StrCat(absl::ToInt64Hours(d), "h ago");
  return absl::StrCat(absl::ToInt64Hours(d) / 24, "d ago");
}

std::string SyncText(const v1::PortState& p) {
  if (!p.in_kernel()) return "-";
  if (!p.in_appl_db()) return "no APPL_DB";
  return p.state_db_in_sync() ? "in sync" : "pending";
}

// Prints rows as columns two spaces apart, the first row being the header.
void PrintTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths(rows[0].size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      absl::StrAppend(&line, row[i], std::string(widths[i] - row[i].size() + 2, ' '));
    }
    std::cout << std::string(absl::StripTrailingAsciiWhitespace(line)) << "\n";
  }
}

const std::vector<std::string>& PortHeader() {
  static const auto* header = new std::vector<std::string>{
      "PORT", "ADMIN", "OPER", "MTU", "IFINDEX", "STATE_DB", "LAST CHANGE", "FLAPS"};
  return *header;
}

std::vector<std::string> PortRow(const v1::PortState& p, absl::Time now) {
  return {p.name(),
          Status(p.admin_status()),
          Status(p.oper_status()),
          p.in_kernel() ? absl::StrCat(p.mtu()) : "-",
          p.in_kernel() ? absl::StrCat(p.ifindex()) : "-",
          SyncText(p),
          Ago(p.last_change(), now),
          p.in_kernel() ? absl::StrCat(p.counters().carrier_down()) : "-"};
}

// A daemon that is starting answers UNAVAILABLE until it has applied its first link dump
// (before it, it does not know the kernel): ask again until --timeout, as an operator running
// `portsyncctl ports` right after a restart would want.
grpc::Status GetPorts(const Options& o, v1::PortSync::Stub& stub,
                      const std::vector<std::string>& names, v1::GetPortStateResponse& response) {
  const auto deadline = Deadline(o);
  v1::GetPortStateRequest request;
  for (const std::string& name : names) request.add_names(name);
  for (;;) {
    grpc::ClientContext context;
    context.set_deadline(deadline);
    grpc::Status status = stub.GetPortState(&context, request, &response);
    if (status.error_code() != grpc::StatusCode::UNAVAILABLE ||
        !absl::StrContains(status.error_message(), "first link dump") ||
        std::chrono::system_clock::now() + std::chrono::milliseconds(100) >= deadline) {
      return status;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
}

int Ports(const Options& o, v1::PortSync::Stub& stub, const std::vector<std::string>& names) {
  v1::GetPortStateResponse response;
  grpc::Status status = GetPorts(o, stub, names, response);
  if (!status.ok()) return Fail(RpcFailure(o, status));
  if (o.json) {
    std::cout << ToJson(response, true);
    return kOk;
  }
  const absl::Time now = absl::Now();
  std::vector<std::vector<std::string>> rows = {PortHeader()};
  for (const v1::PortState& p : response.ports()) rows.push_back(PortRow(p, now));
  PrintTable(rows);
  return kOk;
}

grpc::Status GetHealth(const Options& o, v1::PortSync::Stub& stub, v1::GetHealthResponse& h) {
  grpc::ClientContext context;
  context.set_deadline(Deadline(o));
  return stub.GetHealth(&context, v1::GetHealthRequest(), &h);
}

int Health(const Options& o, v1::PortSync::Stub& stub) {
  v1::GetHealthResponse h;
  grpc::Status status = GetHealth(o, stub, h);
  if (!status.ok()) return Fail(RpcFailure(o, status));
  if (o.json) {
    std::cout << ToJson(h, true);
    return kOk;
  }
  auto name = [](v1::ServingStatus s) {
    std::string n = v1::ServingStatus_Name(s);
    return std::string(absl::StripPrefix(n, "SERVING_STATUS_"));
  };
  const absl::Time now = absl::Now();
  std::cout << "portsyncd " << h.version() << ": " << name(h.status()) << " (" << h.start_mode()
            << " start, up "
            << (h.uptime().seconds() == 0
                    ? "<1s"
                    : absl::FormatDuration(absl::Seconds(h.uptime().seconds())))
            << ", instance " << h.instance_id() << ")\n";
  std::cout << "ports: " << h.ports_tracked() << " tracked, " << h.ports_in_sync()
            << " in sync with STATE_DB\n\n";
  size_t width = 0;
  for (const auto& c : h.components()) width = std::max(width, c.name().size());
  for (const auto& c : h.components()) {
    std::cout << absl::StrFormat("%-*s  %-11s  %s (since %s)\n", width, c.name(), name(c.status()),
                                 c.message(), Ago(c.since(), now));
  }
  const v1::HealthCounters& c = h.counters();
  std::cout << "\ncounters:\n"
            << "  netlink messages      " << c.netlink_messages() << "\n"
            << "  netlink parse errors  " << c.netlink_parse_errors() << "\n"
            << "  netlink overruns      " << c.netlink_overruns() << " (resyncs "
            << c.netlink_resyncs() << ")\n"
            << "  STATE_DB writes       " << c.ports_written() << " in " << c.state_db_batches()
            << " batches, " << c.ports_deleted() << " deletes, " << c.writes_merged() << " merged\n"
            << "  Redis connects        " << c.redis_reconnects() << "\n"
            << "  drift repairs         " << c.drift_repairs() << "\n"
            << "  netdev renames        " << c.netdev_renames() << "\n"
            << "  keyspace events       " << c.keyspace_events() << " (" << c.keyspace_checks()
            << " checked)\n"
            << "  stream subscribers    " << c.stream_subscribers() << " (gNMI "
            << c.gnmi_subscribers() << ")\n";
  return kOk;
}

int Reload(const Options& o, v1::PortSync::Stub& stub) {
  std::optional<std::string> token = ReadFile(o.token_file);
  if (!token) {
    return Fail(absl::StrCat("cannot read the reload token ", o.token_file, " (",
                             std::strerror(errno), "); reload needs root or --token-file"));
  }
  grpc::ClientContext context;
  context.set_deadline(Deadline(o));
  context.AddMetadata("authorization", absl::StrCat("Bearer ", absl::StripAsciiWhitespace(*token)));
  v1::ReloadResponse response;
  grpc::Status status = stub.Reload(&context, v1::ReloadRequest(), &response);
  if (!status.ok()) return Fail(RpcFailure(o, status));
  if (o.json) {
    std::cout << ToJson(response, true);
    return kOk;
  }
  std::cout << "reloaded: config version " << response.config_version() << "\n";
  std::cout << "changed: "
            << (response.changed_keys().empty() ? "nothing"
                                                : absl::StrJoin(response.changed_keys(), " "))
            << "\n";
  if (!response.restart_required_keys().empty()) {
    std::cout << "needs a restart to take effect: "
              << absl::StrJoin(response.restart_required_keys(), " ") << "\n";
  }
  return kOk;
}

// What changed between two states of a port, for people: "oper up -> down, mtu 1500 -> 9100".
std::string Describe(const v1::PortState* before, const v1::PortState& after) {
  std::vector<std::string> parts;
  auto diff = [&](absl::string_view what, const std::string& a, const std::string& b) {
    if (a != b) parts.push_back(absl::StrCat(what, " ", a, " -> ", b));
  };
  if (before != nullptr && !before->in_kernel() && !after.in_kernel()) {
    return before->in_appl_db() == after.in_appl_db() ? "no visible change"
           : after.in_appl_db()                       ? "now in APPL_DB, no netdev"
                                                      : "gone from APPL_DB, no netdev";
  }
  if (before == nullptr || !before->in_kernel()) {
    if (!after.in_kernel()) return after.in_appl_db() ? "in APPL_DB, no netdev" : "no netdev";
    return absl::StrCat("admin ", Status(after.admin_status()), ", oper ",
                        Status(after.oper_status()), ", mtu ", after.mtu(), ", ifindex ",
                        after.ifindex());
  }
  if (!after.in_kernel()) return "netdev deleted";
  diff("admin", Status(before->admin_status()), Status(after.admin_status()));
  diff("oper", Status(before->oper_status()), Status(after.oper_status()));
  diff("mtu", absl::StrCat(before->mtu()), absl::StrCat(after.mtu()));
  diff("ifindex", absl::StrCat(before->ifindex()), absl::StrCat(after.ifindex()));
  diff("master", absl::StrCat(before->master_ifindex()), absl::StrCat(after.master_ifindex()));
  diff("mac", before->mac_address(), after.mac_address());
  if (before->in_appl_db() != after.in_appl_db()) {
    parts.push_back(after.in_appl_db() ? "now in APPL_DB" : "gone from APPL_DB");
  }
  return parts.empty() ? "no visible change" : absl::StrJoin(parts, ", ");
}

std::atomic<bool> g_interrupted{false};

int Watch(const Options& o, const std::shared_ptr<grpc::Channel>& channel,
          const std::vector<std::string>& names) {
  // The first Ctrl-C stops cleanly; a second one (e.g. output blocked on a paused pipe) kills.
  auto on_signal = [](int sig) {
    if (g_interrupted.exchange(true)) {
      signal(sig, SIG_DFL);
      raise(sig);
    }
  };
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  auto stub = v1::PortSync::NewStub(channel);
  std::map<std::string, v1::PortState> ports;
  uint64_t last_sequence = 0;
  std::string instance;
  absl::Duration backoff = absl::Milliseconds(200);
  bool connected_once = false;
  bool reconnecting = false;
  std::vector<v1::PortState> snapshot;
  // WatchLinkEvents (every pending event in one message); StreamLinkEvents for a daemon older
  // than it (UNIMPLEMENTED).
  bool batched = true;

  while (!g_interrupted.load()) {
    grpc::ClientContext context;
    // Reconnecting: wait for the daemon to be back instead of failing at once.
    context.set_wait_for_ready(reconnecting);
    v1::StreamLinkEventsRequest request;
    for (const std::string& name : names) request.add_names(name);
    request.set_resume_after(last_sequence);
    request.set_instance_id(instance);
    // Cancel the call when interrupted, so a wait for the daemon or Read() returns. Started
    // before the call: with wait_for_ready, creating the reader blocks until the daemon is back.
    std::atomic<bool> done{false};
    std::thread canceller([&] {
      while (!done.load() && !g_interrupted.load()) absl::SleepFor(absl::Milliseconds(100));
      if (g_interrupted.load()) context.TryCancel();
    });
    std::unique_ptr<grpc::ClientReader<v1::LinkEventBatch>> batches;
    std::unique_ptr<grpc::ClientReader<v1::LinkEvent>> single;
    if (batched) {
      batches = stub->WatchLinkEvents(&context, request);
    } else {
      single = stub->StreamLinkEvents(&context, request);
    }
    v1::LinkEventBatch batch;
    auto read = [&] {
      if (batched) return batches->Read(&batch);
      batch.Clear();
      return single->Read(batch.add_events());
    };
    bool got_any = false;
    while (read()) {
      for (const v1::LinkEvent& event : batch.events()) {
        got_any = true;
        connected_once = true;
        if (reconnecting && !o.json) {
          std::cerr << "portsyncctl: reconnected"
                    << (event.type() == v1::LinkEvent::TYPE_RESYNC ||
                                event.type() == v1::LinkEvent::TYPE_SNAPSHOT
                            ? ""
                            : absl::StrCat("; resuming after sequence ", last_sequence))
                    << "\n";
        }
        reconnecting = false;
        backoff = absl::Milliseconds(200);
        // The resume point moves only on live events and at SYNCED: a stream that breaks in the
        // middle of a snapshot must get the whole snapshot again, not the events after it.
        const bool live = event.type() == v1::LinkEvent::TYPE_ADDED ||
                          event.type() == v1::LinkEvent::TYPE_CHANGED ||
                          event.type() == v1::LinkEvent::TYPE_REMOVED;
        if (live || event.type() == v1::LinkEvent::TYPE_SYNCED) {
          last_sequence = event.sequence();
          instance = event.instance_id();
        }
        if (o.json) {
          std::cout << ToJson(event, false) << std::endl;
          if (event.has_port()) ports[event.port().name()] = event.port();
          continue;
        }
        const std::string when =
            absl::FormatTime("%Y-%m-%dT%H:%M:%E3S", FromProto(event.time()), absl::LocalTimeZone());
        switch (event.type()) {
          case v1::LinkEvent::TYPE_RESYNC:
            std::cout << when << "  events were missed (" << event.reason()
                      << "); re-reading the state\n";
            snapshot.clear();
            break;
          case v1::LinkEvent::TYPE_SNAPSHOT:
            snapshot.push_back(event.port());
            break;
          case v1::LinkEvent::TYPE_SYNCED: {
            size_t up = 0;
            for (const v1::PortState& p : snapshot) up += p.oper_status() == v1::LINK_STATUS_UP;
            // After a resync, report what changed while we were not looking.
            for (const v1::PortState& p : snapshot) {
              auto it = ports.find(p.name());
              if (it != ports.end() && Describe(&it->second, p) != "no visible change") {
                std::cout << when << "  " << absl::StrFormat("%-14s", p.name()) << " CHANGED  "
                          << Describe(&it->second, p) << " (while disconnected)\n";
              }
              ports[p.name()] = p;
            }
            std::cout << when << "  watching " << snapshot.size() << " ports (" << up
                      << " oper up), instance " << event.instance_id() << ", sequence "
                      << event.sequence() << "\n";
            snapshot.clear();
            break;
          }
          default: {
            const std::string type =
                std::string(absl::StripPrefix(v1::LinkEvent::Type_Name(event.type()), "TYPE_"));
            auto it = ports.find(event.port().name());
            std::cout << when << "  " << absl::StrFormat("%-14s %-8s", event.port().name(), type)
                      << " " << Describe(it == ports.end() ? nullptr : &it->second, event.port())
                      << "\n";
            ports[event.port().name()] = event.port();
          }
        }
      }
      std::cout.flush();
    }
    done.store(true);
    grpc::Status status = batched ? batches->Finish() : single->Finish();
    canceller.join();
    if (g_interrupted.load()) return kOk;
    if (batched && !got_any && status.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
      batched = false;  // a daemon older than WatchLinkEvents
      continue;
    }
    if (status.error_code() == grpc::StatusCode::INVALID_ARGUMENT ||
        status.error_code() == grpc::StatusCode::PERMISSION_DENIED) {
      return Fail(RpcFailure(o, status));
    }
    if (!connected_once) return Fail(RpcFailure(o, status));
    if (!reconnecting) {
      std::cerr << "portsyncctl: connection lost (" << status.error_message()
                << "); reconnecting, and resuming after sequence " << last_sequence << "\n";
      reconnecting = true;
    }
    snapshot.clear();  // an unfinished snapshot is sent again in full
    for (absl::Time until = absl::Now() + backoff; absl::Now() < until && !g_interrupted.load();) {
      absl::SleepFor(absl::Milliseconds(50));
    }
    backoff = std::min(backoff * 2, absl::Seconds(5));
  }
  return kOk;
}

// "asic3" -> 3; nothing for anything else.
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

// Connects to o.target; on failure returns nullptr and says why in `error`.
std::shared_ptr<grpc::Channel> Connect(const Options& o, std::string& error) {
  // A unix socket the kernel refuses (no permission, no such file, nobody listening) is said
  // at once and precisely, rather than after the timeout as "no connection".
  if (std::optional<std::string> refused = ProbeUnixSocket(GrpcTarget(o.target))) {
    error = absl::StrCat("cannot reach portsyncd at ", o.target, ": ", *refused);
    return nullptr;
  }
  std::shared_ptr<grpc::Channel> channel = MakeChannel(o, error);
  if (channel == nullptr) return nullptr;
  if (!channel->WaitForConnected(Deadline(o))) {
    error = absl::StrCat("cannot reach portsyncd at ", o.target,
                         ": is it running? (no connection within ", o.timeout_s, " s)");
    return nullptr;
  }
  return channel;
}

// -n all: every ASIC namespace that exists, by number: the path component of the template that
// holds {N} (on SONiC /var/run/redis<N>, there for every ASIC whether or not its portsyncd
// runs), so a stopped instance is reported as unreachable rather than silently left out.
std::vector<std::pair<int, std::string>> FindNamespaces(const Options& o) {
  const std::string& t = o.namespace_socket;
  const size_t at = t.find("{N}");
  const size_t end = std::min(t.find('/', at), t.size());  // end of the component with {N}
  const std::string before = t.substr(0, at);
  const std::string after = t.substr(at + 3, end - at - 3);
  std::vector<std::pair<int, std::string>> found;
  glob_t matches{};
  if (glob(absl::StrCat(before, "*", after).c_str(), 0, nullptr, &matches) == 0) {
    for (size_t i = 0; i < matches.gl_pathc; ++i) {
      const std::string matched = matches.gl_pathv[i];
      absl::string_view number = matched;
      if (!absl::ConsumePrefix(&number, before) || !absl::ConsumeSuffix(&number, after)) continue;
      if (std::optional<int> n = AsicNumber(absl::StrCat("asic", number))) {
        // The path found (redis01 stays redis01), then the rest of the template.
        found.emplace_back(
            *n, absl::StrCat("unix:", matched,
                             absl::StrReplaceAll(t.substr(end), {{"{N}", std::string(number)}})));
      }
    }
  }
  globfree(&matches);
  std::sort(found.begin(), found.end());
  return found;
}

// ports / health for every instance: a NAMESPACE column (ports), a section per instance
// (health), or one JSON object keyed by namespace. An instance that cannot be reached is said
// on stderr, the others are still shown, and the exit status is 1.
int AllNamespaces(const Options& options, const std::string& command,
                  const std::vector<std::string>& names) {
  const std::vector<std::pair<int, std::string>> found = FindNamespaces(options);
  if (found.empty()) {
    return Fail(absl::StrCat("no ASIC namespace found: nothing matches ",
                             absl::StrReplaceAll(options.namespace_socket, {{"{N}", "*"}}),
                             " (--namespace-socket sets where the instances listen)"));
  }
  int exit_status = kOk;
  const absl::Time now = absl::Now();
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> json;
  for (const auto& [asic, target] : found) {
    const std::string ns = absl::StrCat("asic", asic);
    Options o = options;
    o.target = target;
    std::string error;
    std::shared_ptr<grpc::Channel> channel = Connect(o, error);
    grpc::Status status;
    if (channel != nullptr) {
      auto stub = v1::PortSync::NewStub(channel);
      if (command == "ports") {
        v1::GetPortStateResponse response;
        status = GetPorts(o, *stub, names, response);
        if (status.ok() && o.json)
          json.push_back(absl::StrCat("\"", ns, "\": ", ToJson(response, false)));
        if (status.ok() && !o.json) {
          for (const v1::PortState& p : response.ports()) {
            rows.push_back(PortRow(p, now));
            rows.back().insert(rows.back().begin(), ns);
          }
        }
      } else if (o.json) {
        v1::GetHealthResponse h;
        status = GetHealth(o, *stub, h);
        if (status.ok()) json.push_back(absl::StrCat("\"", ns, "\": ", ToJson(h, false)));
      } else {
        std::cout << (ns == absl::StrCat("asic", found.front().first) ? "" : "\n") << ns << ": ";
        if (Health(o, *stub) != kOk) exit_status = kRpcError;
        continue;
      }
      if (!status.ok()) error = RpcFailure(o, status);
    }
    if (!error.empty()) {
      std::cerr << "portsyncctl: " << ns << ": " << error << "\n";
      exit_status = kRpcError;
    }
  }
  if (options.json) {
    std::cout << "{" << absl::StrJoin(json, ",\n ") << "}\n";
  } else if (command == "ports") {
    std::vector<std::string> header = PortHeader();
    header.insert(header.begin(), "NAMESPACE");
    rows.insert(rows.begin(), header);
    PrintTable(rows);
  }
  return exit_status;
}

int Main(int argc, char** argv) {
  Options o;
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
  bool target_given = false;
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
          std::cerr << "portsyncctl: -n '" << optarg
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
          std::cerr << "portsyncctl: --timeout '" << optarg << "' must be a positive number\n";
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
        std::cout << kHelp;
        return kOk;
      default:
        std::cerr << "Try 'portsyncctl --help'.\n";
        return kUsage;
    }
  }
  if (optind >= argc) {
    std::cerr << "portsyncctl: missing command (ports, watch, health, reload)\n"
                 "Try 'portsyncctl --help'.\n";
    return kUsage;
  }
  const std::string command = argv[optind];
  std::vector<std::string> args(argv + optind + 1, argv + argc);
  auto help = CommandHelp().find(command);
  if (help == CommandHelp().end()) {
    std::cerr << "portsyncctl: unknown command '" << command
              << "' (ports, watch, health, reload)\nTry 'portsyncctl --help'.\n";
    return kUsage;
  }
  for (const std::string& arg : args) {
    if (arg == "-h" || arg == "--help") {
      std::cout << help->second;
      return kOk;
    }
    if (absl::StartsWith(arg, "-")) {
      std::cerr << "portsyncctl: " << command << ": unknown option '" << arg
                << "' (global options go before the command)\n";
      return kUsage;
    }
  }
  if ((command == "health" || command == "reload") && !args.empty()) {
    std::cerr << "portsyncctl: " << command << " takes no arguments\n";
    return kUsage;
  }
  if (!o.cert_file.empty() && o.key_file.empty()) {
    std::cerr << "portsyncctl: --cert needs --key\n";
    return kUsage;
  }
  if (!o.ns.empty() && target_given) {
    std::cerr << "portsyncctl: -n and --target both name the instance: give one\n";
    return kUsage;
  }
  if (!o.ns.empty() && !absl::StrContains(o.namespace_socket, "{N}")) {
    std::cerr << "portsyncctl: --namespace-socket '" << o.namespace_socket
              << "' must contain {N}, the ASIC number\n";
    return kUsage;
  }
  if (o.ns == "all") {
    if (command != "ports" && command != "health") {
      std::cerr << "portsyncctl: -n all works with ports and health; " << command
                << " needs one instance (-n asicN)\n";
      return kUsage;
    }
    return AllNamespaces(o, command, args);
  }
  if (!o.ns.empty()) {
    o.target = NamespaceTarget(o, *AsicNumber(o.ns));
  } else if (!target_given && access(kDefaultTarget + 5, F_OK) != 0 &&
             access(kSonicTarget + 5, F_OK) == 0) {
    o.target = kSonicTarget;  // a SONiC switch: the swss container's socket, seen from the host
  }

  std::string error;
  std::shared_ptr<grpc::Channel> channel = Connect(o, error);
  if (channel == nullptr) return Fail(error);
  auto stub = v1::PortSync::NewStub(channel);
  if (command == "ports") return Ports(o, *stub, args);
  if (command == "health") return Health(o, *stub);
  if (command == "reload") return Reload(o, *stub);
  return Watch(o, channel, args);
}

}  // namespace
}  // namespace portsyncd

int main(int argc, char** argv) { return portsyncd::Main(argc, argv); }
