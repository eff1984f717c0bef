// The Reload RPC's credential: read from grpc.reload_token_file, or generated into the runtime
// directory (reload.token, mode 0600: only the daemon's user, and root, can read it; never
// written through a symlink).
#ifndef PORTSYNCD_SERVER_CONFIG_RELOAD_TOKEN_H_
#define PORTSYNCD_SERVER_CONFIG_RELOAD_TOKEN_H_

#include <string>

#include "absl/status/statusor.h"
#include "server/config/daemon_config.h"

namespace portsyncd {

// `bytes` random bytes from the kernel's CSPRNG (getrandom(2)), as hex.
std::string RandomHex(size_t bytes);

// FAILED_PRECONDITION naming the file when it cannot be read or written.
[[nodiscard]] absl::StatusOr<std::string> ReloadToken(const DaemonConfig& config);

}  // namespace portsyncd

#endif  // PORTSYNCD_SERVER_CONFIG_RELOAD_TOKEN_H_
