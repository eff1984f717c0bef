#include "core/sonic_tables.h"

#include "absl/strings/str_cat.h"

namespace portsyncd {
namespace {

// KEYS[1] channel, KEYS[2] key set, KEYS[3..] the staging hash (once per field pair);
// ARGV[1] "G", ARGV[2] the key, ARGV[3..] field, value, field, value...
constexpr char kProducerSetScript[] = R"lua(
local added = redis.call('SADD', KEYS[2], ARGV[2])
for i = 3, #ARGV, 2 do
  redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1])
end
if added > 0 then
  redis.call('PUBLISH', KEYS[1], ARGV[1])
end
return added
)lua";

}  // namespace

std::array<absl::string_view, 10> StateFieldsHsetArgs(absl::string_view key,
                                                      const StateFields& fields,
                                                      absl::string_view mtu_text) {
  return {"HSET",      key,     "netdev_oper_status", fields.oper_up ? "up" : "down",
          kStateField, "ok",    "admin_status",       fields.admin_up ? "up" : "down",
          "mtu",       mtu_text};
}

RedisArgv StateFieldsHset(const std::string& key, const StateFields& fields) {
  const std::string mtu = absl::StrCat(fields.mtu);
  RedisArgv argv;
  argv.reserve(10);
  for (absl::string_view arg : StateFieldsHsetArgs(key, fields, mtu)) argv.emplace_back(arg);
  return argv;
}

RedisArgv ProducerStateSet(absl::string_view table, absl::string_view separator, int appl_db_id,
                           absl::string_view key, const FieldValues& fields) {
  RedisArgv argv = {"EVAL",
                    kProducerSetScript,
                    "3",
                    absl::StrCat(table, "_CHANNEL@", appl_db_id),
                    absl::StrCat(table, "_KEY_SET"),
                    absl::StrCat("_", table, separator, key),
                    "G",
                    std::string(key)};
  for (const auto& [field, value] : fields) {
    argv.push_back(field);
    argv.push_back(value);
  }
  return argv;
}

}  // namespace portsyncd
