// SystemdNotifier: the sd_notify(3) protocol, for Type=notify units.
//
// Everything is a no-op when NOTIFY_SOCKET is unset (not under systemd). The watchdog interval
// comes from WATCHDOG_USEC (sd_watchdog_enabled); WATCHDOG=1 is sent at half of it, and only
// while the engine answers pings (WatchdogGate), so a stuck engine gets the daemon restarted.
#ifndef PORTSYNCD_SERVER_OPS_SYSTEMD_NOTIFIER_H_
#define PORTSYNCD_SERVER_OPS_SYSTEMD_NOTIFIER_H_

#include <atomic>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace portsyncd {

class SystemdNotifier {
 public:
  // Reads NOTIFY_SOCKET and the watchdog settings from the environment.
  SystemdNotifier();

  bool enabled() const { return enabled_; }
  // Half of WATCHDOG_USEC when the watchdog is on.
  std::optional<absl::Duration> watchdog_period() const { return watchdog_period_; }
  // Sends one notification ("STATUS=...", "WATCHDOG=1", ...); ignored when not enabled.
  void Notify(absl::string_view state) const;
  // Sends READY=1 with `status` ("STATUS=..."), the first time only; true when it did.
  bool NotifyReady(absl::string_view status) const;
  bool ready_sent() const { return ready_sent_.load(); }

 private:
  bool enabled_ = false;
  std::optional<absl::Duration> watchdog_period_;
  mutable std::atomic<bool> ready_sent_{false};
};

// Decides when to pet the watchdog: only when the engine showed a heartbeat after the last ping,
// i.e. its loop turned since we asked. Pure logic.
class WatchdogGate {
 public:
  explicit WatchdogGate(absl::Duration period) : period_(period) {}
  // Call often; returns true when WATCHDOG=1 is due and deserved. `ping` is called when a new
  // ping should be sent to the engine.
  // When the next Tick is due.
  absl::Time next() const { return next_; }
  template <typename PingFn>
  bool Tick(absl::Time now, absl::Time heartbeat, PingFn&& ping) {
    if (now < next_) return false;
    const bool alive = last_ping_ == absl::InfinitePast() || heartbeat >= last_ping_;
    last_ping_ = now;
    next_ = now + period_;
    ping();
    return alive;
  }

 private:
  absl::Duration period_;
  absl::Time next_ = absl::InfinitePast();
  absl::Time last_ping_ = absl::InfinitePast();
};

}  // namespace portsyncd

#endif  // PORTSYNCD_SERVER_OPS_SYSTEMD_NOTIFIER_H_
