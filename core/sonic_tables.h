// SONiC table names, field names and the Redis commands portsyncd sends: pure functions.
#ifndef PORTSYNCD_CORE_SONIC_TABLES_H_
#define PORTSYNCD_CORE_SONIC_TABLES_H_

#include <array>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "core/port_model.h"
#include "core/redis_connection.h"

namespace portsyncd {

inline constexpr char kPortTable[] = "PORT_TABLE";  // APPL_DB and STATE_DB
inline constexpr char kConfigPortTable[] = "PORT";  // CONFIG_DB
inline constexpr char kDeviceMetadataTable[] = "DEVICE_METADATA";
inline constexpr char kLoggerTable[] = "LOGGER";
inline constexpr char kWarmRestartEnableTable[] = "WARM_RESTART_ENABLE_TABLE";
inline constexpr char kWarmRestartTable[] = "WARM_RESTART_TABLE";
inline constexpr char kStateField[] = "state";

using FieldValues = std::vector<std::pair<std::string, std::string>>;

// HSET <key> netdev_oper_status .. state ok admin_status .. mtu ..  (upstream's field order)
RedisArgv StateFieldsHset(const std::string& key, const StateFields& fields);
// The same command's arguments, as views: `key` and `mtu_text` (the MTU in decimal, which the
// caller keeps alive) are viewed, the rest are constants. StateFieldsHset is made of these.
std::array<absl::string_view, 10> StateFieldsHsetArgs(absl::string_view key,
                                                      const StateFields& fields,
                                                      absl::string_view mtu_text);

// ProducerStateTable set(key, fields) for `table` in APPL_DB, as one atomic EVAL:
// SADD <table>_KEY_SET <key>; HSET _<table><sep><key> f v ...; PUBLISH <table>_CHANNEL@<db> G
// only when the SADD added the key. orchagent consumes it.
RedisArgv ProducerStateSet(absl::string_view table, absl::string_view separator, int appl_db_id,
                           absl::string_view key, const FieldValues& fields);

}  // namespace portsyncd

#endif  // PORTSYNCD_CORE_SONIC_TABLES_H_
