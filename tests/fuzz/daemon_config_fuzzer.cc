// libFuzzer target: the TOML config file through ParseDaemonConfig (toml11, then our checks and
// cross-key rules), and a config that parses through FlattenConfig, as Reload does. Any input
// must give a config or an error naming the file, never a crash, a hang or a leak.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "server/config/daemon_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<portsyncd::DaemonConfig> config = portsyncd::ParseDaemonConfig(text, "fuzz.conf");
  if (!config.ok()) {
    if (!absl::StrContains(config.status().message(), "fuzz.conf")) __builtin_trap();
    return 0;
  }
  for (const auto& [key, value] : portsyncd::FlattenConfig(*config)) {
    (void)portsyncd::IsLiveKey(key);
  }
  return 0;
}
