// Process-wide logging to stderr with syslog severities.
//
// Each line is "<time> <LEVEL> <message>" on a terminal or in a file. Under systemd (stderr is
// the journal, detected by JOURNAL_STREAM) each line is "<N>message", where N is the syslog
// priority, so journald records the right level without a timestamp of ours.
//
// Thread-safe: the level is an atomic, and each line is written with one write(2).
#ifndef PORTSYNCD_CORE_LOGGING_H_
#define PORTSYNCD_CORE_LOGGING_H_

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace portsyncd {

// syslog(3) severities; a lower value is more severe. Names are SONiC's swssloglevel names.
enum class LogLevel : int {
  kEmerg = 0,
  kAlert = 1,
  kCrit = 2,
  kError = 3,
  kWarn = 4,
  kNotice = 5,
  kInfo = 6,
  kDebug = 7,
};

// "NOTICE", "ERROR", ... (SONiC's names).
absl::string_view LogLevelName(LogLevel level);
// Accepts SONiC's names (EMERG, ALERT, CRIT, ERROR, WARN, NOTICE, INFO, DEBUG), case-insensitive,
// plus the aliases "warning" and "err".
std::optional<LogLevel> ParseLogLevel(absl::string_view name);

void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
inline bool LogEnabled(LogLevel level) {
  return static_cast<int>(level) <= static_cast<int>(GetLogLevel());
}
// Writes one line; use the LOG_* helpers below.
void LogLine(LogLevel level, absl::string_view message);

// Lets through at most one line per `interval_s` seconds for one call site, so input from
// outside (unauthorized calls, malformed requests) cannot flood the log; the next line that
// passes says how many were suppressed. Thread-safe.
class LogRateLimiter {
 public:
  explicit LogRateLimiter(double interval_s)
      : interval_ns_(static_cast<int64_t>(interval_s * 1e9)) {}
  // Returns true when a line may be written; `*suppressed` (when given) is how many were
  // dropped before it.
  bool Allow(uint64_t* suppressed = nullptr);

 private:
  const int64_t interval_ns_;
  std::atomic<int64_t> next_ns_{0};
  std::atomic<uint64_t> suppressed_{0};
};

}  // namespace portsyncd

// Arguments are concatenated with absl::StrCat, and evaluated only when the level is enabled.
#define PSLOG(level, ...)                                       \
  do {                                                          \
    if (::portsyncd::LogEnabled(level)) {                       \
      ::portsyncd::LogLine(level, ::absl::StrCat(__VA_ARGS__)); \
    }                                                           \
  } while (0)
#define LOG_ERROR(...) PSLOG(::portsyncd::LogLevel::kError, __VA_ARGS__)
#define LOG_WARN(...) PSLOG(::portsyncd::LogLevel::kWarn, __VA_ARGS__)
#define LOG_NOTICE(...) PSLOG(::portsyncd::LogLevel::kNotice, __VA_ARGS__)
#define LOG_INFO(...) PSLOG(::portsyncd::LogLevel::kInfo, __VA_ARGS__)
#define LOG_DEBUG(...) PSLOG(::portsyncd::LogLevel::kDebug, __VA_ARGS__)
// At most one line per second from this call site (see LogRateLimiter).
#define PSLOG_RATE_LIMITED(level, ...)                                                             \
  do {                                                                                             \
    static ::portsyncd::LogRateLimiter psl_limiter(1.0);                                           \
    uint64_t psl_suppressed = 0;                                                                   \
    if (::portsyncd::LogEnabled(level) && psl_limiter.Allow(&psl_suppressed)) {                    \
      ::portsyncd::LogLine(                                                                        \
          level, ::absl::StrCat(__VA_ARGS__,                                                       \
                                psl_suppressed                                                     \
                                    ? ::absl::StrCat(" (", psl_suppressed, " similar suppressed)") \
                                    : std::string()));                                             \
    }                                                                                              \
  } while (0)

#endif  // PORTSYNCD_CORE_LOGGING_H_
