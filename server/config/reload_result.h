// What a config reload reports (the Reload RPC, SIGHUP): the seam between the config room, which
// reloads, and the services, which are asked to.
#ifndef PORTSYNCD_SERVER_CONFIG_RELOAD_RESULT_H_
#define PORTSYNCD_SERVER_CONFIG_RELOAD_RESULT_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace portsyncd {

// What Reload did; filled by the ReloadFunction.
struct ReloadResult {
  std::string config_version;
  std::vector<std::string> changed_keys;
  std::vector<std::string> restart_required_keys;
};
// Re-reads, validates and applies the config; INVALID_ARGUMENT (file:line: key) when bad.
using ReloadFunction = std::function<absl::StatusOr<ReloadResult>()>;

}  // namespace portsyncd

#endif  // PORTSYNCD_SERVER_CONFIG_RELOAD_RESULT_H_
