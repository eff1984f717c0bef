#include "server/ops/db_config_wait.h"

#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "core/logging.h"

namespace portsyncd {
namespace {

bool Missing(const std::string& path) { return access(path.c_str(), F_OK) != 0 && errno == ENOENT; }

}  // namespace

DbConfigWait WaitForDbConfig(const std::string& path, const SystemdNotifier& notifier,
                             const Clock& clock, absl::FunctionRef<bool(absl::Duration)> sleep) {
  if (!Missing(path)) return DbConfigWait::kThere;
  const absl::Time began = clock.Now();
  absl::Time next_log = began;
  const std::string status = absl::StrCat("STATUS=waiting for the SONiC database config ", path,
                                          " (SONiC's database service writes it once Redis is up)");
  notifier.Notify(status);
  while (Missing(path)) {
    const absl::Time now = clock.Now();
    if (now >= next_log) {
      LOG_WARN("waiting for the SONiC database config ", path, " (",
               absl::FormatDuration(absl::Trunc(now - began, absl::Seconds(1))),
               " so far): it does not exist yet; SONiC's database service writes it once Redis "
               "is up (or give another path with --db-config)");
      next_log = now + absl::Seconds(30);
    }
    if (now - began >= absl::Seconds(10)) notifier.NotifyReady(status);
    if (notifier.watchdog_period()) notifier.Notify("WATCHDOG=1");
    if (sleep(absl::Milliseconds(500))) return DbConfigWait::kStopped;
  }
  LOG_NOTICE("the SONiC database config ", path, " appeared after ",
             absl::FormatDuration(absl::Trunc(clock.Now() - began, absl::Milliseconds(1))));
  return DbConfigWait::kAppeared;
}

}  // namespace portsyncd
