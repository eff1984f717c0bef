// DaemonConfig: the portsyncd configuration file (TOML) and its validation.
//
// Every key is optional and defaults to the value below. Unknown keys, wrong types and
// out-of-range values are refused with "<file>:<line>: <key>: <problem>", so an operator can fix
// the file without reading code. Command-line flags override the file (see main.cc).
#ifndef PORTSYNCD_SERVER_CONFIG_DAEMON_CONFIG_H_
#define PORTSYNCD_SERVER_CONFIG_DAEMON_CONFIG_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/engine.h"
#include "core/host_port.h"

namespace portsyncd {

inline constexpr char kDefaultConfigPath[] = "/etc/sonic/portsyncd.conf";

// The [grpc] table.
struct GrpcOptions {
  // The default listener; empty: <runtime_dir>/portsyncd.sock. Permissions: owner and group
  // read/write (0660), so access to the API is granted by group membership.
  std::string unix_socket;
  int64_t unix_socket_mode = 0660;
  // Optional TCP listener "host:port"; empty: none. TLS (tls_cert_file + tls_key_file) is
  // required unless tcp_insecure, which is allowed only on a loopback address.
  std::string tcp_address;
  bool tcp_insecure = false;
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_client_ca_file;  // set: clients must present a certificate it signed (mTLS)
  // Reload authorization: callers send "authorization: Bearer <token>". Empty: the daemon
  // generates a token at start into <runtime_dir>/reload.token (mode 0600).
  std::string reload_token_file;
  // Stream bounds (see EventHubOptions for the reasons behind the defaults).
  int64_t max_streams = 64;
  int64_t stream_queue_limit = 1024;
  int64_t replay_buffer = 4096;
};

struct DaemonConfig {
  std::string log_level = "NOTICE";  // log_level
  // db_config, runtime_dir, [netlink], [redis]; and [ports], resolved into engine.selection by
  // ResolvePortSelection.
  EngineOptions engine;
  // [ports] include / exclude as the file gives them; unset: the mode's default
  // (ResolvePortSelection).
  std::optional<std::vector<std::string>> ports_include;
  std::optional<std::vector<std::string>> ports_exclude;
  GrpcOptions grpc;  // [grpc]
  // [metrics] listen: "host:port" of the Prometheus /metrics endpoint; empty: off.
  std::string metrics_listen;
  std::string version = "defaults";  // content hash of the file it came from
};

// Sets config.engine.selection from [ports] and the mode (engine.redis_enabled). Unset keys take
// the mode's defaults as a pair: neither set, upstream's rule with a SONiC database
// (include Ethernet* PortChannel*) and every netdev but the loopback without one (include *,
// exclude lo); only include set, nothing excluded; only exclude set, the mode's include. Errors
// as PortSelection::Create.
[[nodiscard]] absl::Status ResolvePortSelection(DaemonConfig& config);

// Every key with its value as text ("redis.audit_interval_ms" -> "5000"), for Reload's diff.
std::map<std::string, std::string> FlattenConfig(const DaemonConfig& config);
// Keys Reload applies to the running daemon; every other key needs a restart.
bool IsLiveKey(absl::string_view key);

// Parses TOML text; `path` labels error messages.
[[nodiscard]] absl::StatusOr<DaemonConfig> ParseDaemonConfig(absl::string_view text,
                                                             const std::string& path);
// Reads and parses `path`.
[[nodiscard]] absl::StatusOr<DaemonConfig> LoadDaemonConfig(const std::string& path);

}  // namespace portsyncd

#endif  // PORTSYNCD_SERVER_CONFIG_DAEMON_CONFIG_H_
