// SONiC's database_config.json: where each Redis database lives.
//
// Format (unknown keys are ignored, as SONiC's own parser does):
//   {"INSTANCES": {"redis": {"hostname": "127.0.0.1", "port": 6379,
//                            "unix_socket_path": "/var/run/redis/redis.sock"}},
//    "DATABASES": {"APPL_DB": {"id": 0, "separator": ":", "instance": "redis"}, ...}}
//
// Example:
//   ASSIGN_OR_RETURN(DbConfig config, DbConfig::Load(path));
//   ASSIGN_OR_RETURN(DbEndpoint state_db, config.Endpoint("STATE_DB"));
#ifndef PORTSYNCD_CORE_DB_CONFIG_H_
#define PORTSYNCD_CORE_DB_CONFIG_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace portsyncd {

inline constexpr char kDefaultDbConfigPath[] = "/var/run/redis/sonic-db/database_config.json";

// Everything needed to connect to one database and name its keys.
struct DbEndpoint {
  std::string db_name;           // "STATE_DB"
  int id = 0;                    // SELECT id
  std::string separator;         // between table and key: "|" or ":"
  std::string unix_socket_path;  // preferred when not empty
  std::string hostname;          // else TCP hostname:port
  int port = 0;

  // "unix:/path db 6" or "tcp:127.0.0.1:6379 db 6", for messages.
  std::string Describe() const;
};

class DbConfig {
 public:
  // The databases portsyncd needs; Load/Parse fail when any is missing or broken.
  static constexpr absl::string_view kRequiredDatabases[] = {"APPL_DB", "CONFIG_DB", "STATE_DB"};

  // Reads and parses `path`. Errors name the file and the offending key.
  [[nodiscard]] static absl::StatusOr<DbConfig> Load(const std::string& path);
  // Parses `json_text`; `path` only labels error messages.
  [[nodiscard]] static absl::StatusOr<DbConfig> Parse(absl::string_view json_text,
                                                      absl::string_view path);

  // NOT_FOUND when `db_name` is not in the file.
  [[nodiscard]] absl::StatusOr<DbEndpoint> Endpoint(absl::string_view db_name) const;

 private:
  std::string path_;
  std::map<std::string, DbEndpoint, std::less<>> databases_;
};

}  // namespace portsyncd

#endif  // PORTSYNCD_CORE_DB_CONFIG_H_
