// LogLevelFollower: the daemon's log level follows CONFIG_DB LOGGER|portsyncd LOGLEVEL, as
// upstream's does through swssloglevel (docs/COMPATIBILITY.md 5). It remembers the value it last
// saw (startup's read first) and acts only when the value changes, so a level set on the command
// line wins until someone changes LOGGER.
//
// Not a thread of its own: the writer thread, which holds the CONFIG_DB connection and the
// timers, asks it to poll at its period or when a keyspace notification says LOGGER changed.
#ifndef PORTSYNCD_CORE_LOG_LEVEL_FOLLOWER_H_
#define PORTSYNCD_CORE_LOG_LEVEL_FOLLOWER_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "core/redis_client.h"

namespace portsyncd {

class LogLevelFollower {
 public:
  // The LOGLEVEL startup read (or set).
  void set_seen(std::string level) { seen_ = std::move(level); }
  // Reads LOGLEVEL on `config` (CONFIG_DB) and applies it if it changed.
  [[nodiscard]] absl::Status Poll(RedisClient& config);
  // Applies a value read (absent: nil): a change to a level sets it; a change to something that
  // is no level is logged and ignored. Returns true when the log level was set.
  bool OnValue(const RedisReply& loglevel);

 private:
  std::string seen_;
};

}  // namespace portsyncd

#endif  // PORTSYNCD_CORE_LOG_LEVEL_FOLLOWER_H_
