#include "server/ops/systemd_notifier.h"

#include <systemd/sd-daemon.h>

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"

namespace portsyncd {

SystemdNotifier::SystemdNotifier() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  enabled_ = socket != nullptr && socket[0] != '\0';
  uint64_t usec = 0;
  if (enabled_ && sd_watchdog_enabled(/*unset_environment=*/0, &usec) > 0 && usec > 0) {
    watchdog_period_ = absl::Microseconds(static_cast<int64_t>(usec)) / 2;
  }
}

void SystemdNotifier::Notify(absl::string_view state) const {
  if (!enabled_) return;
  sd_notify(/*unset_environment=*/0, std::string(state).c_str());
}

bool SystemdNotifier::NotifyReady(absl::string_view status) const {
  if (ready_sent_.exchange(true)) return false;
  Notify(absl::StrCat("READY=1\n", status));
  return true;
}

}  // namespace portsyncd
