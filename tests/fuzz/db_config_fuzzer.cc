// libFuzzer target: database_config.json text through DbConfig::Parse (nlohmann::json, then our
// checks). Any input must give a config or an error naming the file, never a crash or a leak.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "core/db_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using portsyncd::DbConfig;
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<DbConfig> config = DbConfig::Parse(text, "fuzz.json");
  if (!config.ok()) {
    if (!absl::StartsWith(config.status().message(), "fuzz.json: ")) __builtin_trap();
    return 0;
  }
  for (absl::string_view db : DbConfig::kRequiredDatabases) {
    absl::StatusOr<portsyncd::DbEndpoint> endpoint = config->Endpoint(db);
    if (!endpoint.ok() || endpoint->id < 0 || endpoint->id > 15 || endpoint->separator.empty() ||
        endpoint->port <= 0 || endpoint->port > 65535) {
      __builtin_trap();
    }
    (void)endpoint->Describe();
  }
  if (config->Endpoint("NO_SUCH_DB").ok()) __builtin_trap();
  return 0;
}
