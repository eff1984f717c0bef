#include "core/log_level_follower.h"

#include <optional>

#include "core/logging.h"
#include "core/sonic_tables.h"
#include "core/status_macros.h"

namespace portsyncd {

absl::Status LogLevelFollower::Poll(RedisClient& config) {
  ASSIGN_OR_RETURN(
      RedisReply reply,
      config.Command({"HGET", config.Key(kLoggerTable, "portsyncd"), "LOGLEVEL"}));
  OnValue(reply);
  return absl::OkStatus();
}

bool LogLevelFollower::OnValue(const RedisReply& loglevel) {
  if (loglevel.is_nil() || loglevel.is_error() || loglevel.str == seen_) return false;
  seen_ = loglevel.str;
  std::optional<LogLevel> level = ParseLogLevel(loglevel.str);
  if (!level) {
    LOG_WARN("CONFIG_DB LOGGER|portsyncd LOGLEVEL '", loglevel.str,
             "' is not a level (EMERG ALERT CRIT ERROR WARN NOTICE INFO DEBUG); keeping ",
             LogLevelName(GetLogLevel()));
    return false;
  }
  SetLogLevel(*level);
  LOG_NOTICE("log level set to ", LogLevelName(*level), " from CONFIG_DB LOGGER|portsyncd");
  return true;
}

}  // namespace portsyncd
