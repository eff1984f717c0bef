// Process-wide logging to stderr with syslog severities.
//
// Each line is "<time> <LEVEL> <message>" on a terminal or in a file. Under systemd (stderr is
// the journal, detected by JOURNAL_STREAM) each line is "<N>message", where N is the syslog
// priority, so journald records the right level without a timestamp of ours.
//
// Thread-safe: the level is an atomic, and each line is written with one write(2).
#ifndef PORTSYNCD_CORE_LOGGING_H_
#define PORTSYNCD_CORE_LOGGING_H_

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

#endif  // PORTSYNCD_CORE_LOGGING_H_
