// DaemonConfig: the portsyncd configuration file (TOML) and its validation.
//
// Every key is optional and defaults to the value below. Unknown keys, wrong types and
// out-of-range values are refused with "<file>:<line>: <key>: <problem>", so an operator can fix
// the file without reading code. Command-line flags override the file (see main.cc).
#ifndef PORTSYNCD_SERVER_DAEMON_CONFIG_H_
#define PORTSYNCD_SERVER_DAEMON_CONFIG_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/engine.h"

namespace portsyncd {

inline constexpr char kDefaultConfigPath[] = "/etc/sonic/portsyncd.conf";

struct DaemonConfig {
  std::string log_level = "NOTICE";  // log_level
  EngineOptions engine;              // db_config, runtime_dir, [netlink], [redis]
};

// Parses TOML text; `path` labels error messages.
[[nodiscard]] absl::StatusOr<DaemonConfig> ParseDaemonConfig(absl::string_view text,
                                                             const std::string& path);
// Reads and parses `path`.
[[nodiscard]] absl::StatusOr<DaemonConfig> LoadDaemonConfig(const std::string& path);

}  // namespace portsyncd

#endif  // PORTSYNCD_SERVER_DAEMON_CONFIG_H_
