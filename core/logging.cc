#include "core/logging.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <ctime>

#include "absl/strings/ascii.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace portsyncd {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kNotice)};

constexpr absl::string_view kNames[] = {"EMERG", "ALERT",  "CRIT", "ERROR",
                                        "WARN",  "NOTICE", "INFO", "DEBUG"};

bool UnderJournal() {
  static const bool under_journal = std::getenv("JOURNAL_STREAM") != nullptr;
  return under_journal;
}

}  // namespace

absl::string_view LogLevelName(LogLevel level) { return kNames[static_cast<int>(level)]; }

std::optional<LogLevel> ParseLogLevel(absl::string_view name) {
  std::string upper = absl::AsciiStrToUpper(name);
  if (upper == "WARNING") upper = "WARN";
  if (upper == "ERR") upper = "ERROR";
  for (int i = 0; i < 8; ++i) {
    if (upper == kNames[i]) return static_cast<LogLevel>(i);
  }
  return std::nullopt;
}

void SetLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }
LogLevel GetLogLevel() { return static_cast<LogLevel>(g_level.load(std::memory_order_relaxed)); }

void LogLine(LogLevel level, absl::string_view message) {
  std::string line;
  if (UnderJournal()) {
    line = absl::StrCat("<", static_cast<int>(level), ">", message, "\n");
  } else {
    line = absl::StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()),
                        " ", LogLevelName(level), " ", message, "\n");
  }
  // One write(2) per line keeps lines from different threads whole.
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

bool LogRateLimiter::Allow(uint64_t* suppressed) {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  const int64_t now = int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
  int64_t next = next_ns_.load();
  if (now < next || !next_ns_.compare_exchange_strong(next, now + interval_ns_)) {
    suppressed_.fetch_add(1);
    return false;
  }
  const uint64_t dropped = suppressed_.exchange(0);
  if (suppressed != nullptr) *suppressed = dropped;
  return true;
}

}  // namespace portsyncd
