#include "server/health_reporter.h"

#include <algorithm>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/logging.h"

namespace portsyncd {
namespace {

// See HealthReporter::Run: well within systemd's start timeout (the unit sets 30 s).
constexpr absl::Duration kReadyWhileWaiting = absl::Seconds(10);

}  // namespace

std::string HealthReporter::StatusLine(const v1::GetHealthResponse& h, bool synced) const {
  if (!engine_->start_decided()) {
    return absl::StrCat("starting: waiting for Redis (", engine_->startup_waiting_for(),
                        "); start mode not decided yet; retrying");
  }
  if (!synced) {
    return absl::StrCat(h.start_mode(), " start: ",
                        engine_->redis_connected() ? "waiting for the first link dump"
                                                   : "Redis UNREACHABLE, retrying",
                        "; ", h.ports_tracked(), " ports tracked");
  }
  return absl::StrCat(
      h.ports_tracked(), " ports tracked, ", h.ports_in_sync(), " in sync with STATE_DB; Redis ",
      engine_->redis_connected() ? "connected" : "UNREACHABLE", "; ",
      h.counters().netlink_resyncs(), " netlink resyncs; ", h.start_mode(), " start");
}

HealthReporter::HealthReporter(grpc::Server* server, const PortSyncService* service, Engine* engine,
                               const SystemdNotifier* notifier, std::function<void()> on_ready)
    : server_(server),
      service_(service),
      engine_(engine),
      notifier_(notifier),
      on_ready_(std::move(on_ready)),
      thread_([this] { Run(); }) {}

void HealthReporter::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void HealthReporter::Run() {
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  std::optional<bool> last_serving;
  bool ready_reported = false;
  const absl::Time began = absl::Now();
  std::string last_status;
  absl::Time next_status = absl::InfinitePast();
  std::optional<WatchdogGate> watchdog;
  if (notifier_->watchdog_period()) {
    watchdog.emplace(*notifier_->watchdog_period());
    LOG_INFO("systemd watchdog: WATCHDOG=1 every ",
             absl::FormatDuration(*notifier_->watchdog_period()), " while the engine is alive");
  }
  // After READY: once a second, or four times per watchdog period when that is shorter.
  absl::Duration period = absl::Seconds(1);
  if (watchdog) period = std::min(period, *notifier_->watchdog_period() / 4);
  for (;;) {
    const absl::Time now = absl::Now();
    const v1::GetHealthResponse h = service_->Health();
    const bool serving = h.status() != v1::SERVING_STATUS_NOT_SERVING;
    if (last_serving != serving) {
      health->SetServingStatus(serving);
      health->SetServingStatus("portsyncd.v1.PortSync", serving);
      last_serving = serving;
    }
    if (notifier_->enabled()) {
      const bool synced = engine_->initial_write_done();
      // READY=1 once the initial dump is in STATE_DB; while Redis is away, after
      // kReadyWhileWaiting at most: the daemon is up, serves its API and keeps retrying, and
      // STATUS= says what it waits for (an unreachable Redis is never fatal).
      const bool ready_now =
          !notifier_->ready_sent() && (synced || now - began >= kReadyWhileWaiting);
      if (now >= next_status || ready_now) {
        std::string status = absl::StrCat("STATUS=", StatusLine(h, synced));
        if (ready_now) {
          if (notifier_->NotifyReady(status) && !synced) {
            LOG_WARN("systemd: READY=1 sent before the first STATE_DB write: ", status.substr(7));
          }
        } else if (status != last_status) {
          notifier_->Notify(status);
        }
        last_status = std::move(status);
        next_status = now + absl::Seconds(1);
      }
      if (!ready_reported && notifier_->ready_sent()) {
        ready_reported = true;
        on_ready_();
      }
      if (watchdog && watchdog->Tick(now, engine_->heartbeat(), [&] { engine_->Ping(); })) {
        notifier_->Notify("WATCHDOG=1");
      }
    }
    const bool starting = !engine_->initial_write_done();
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&stop_), starting ? absl::Milliseconds(50) : period);
    if (stop_) return;
  }
}

}  // namespace portsyncd
