#include "server/health_reporter.h"

#include <algorithm>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/logging.h"

namespace portsyncd {

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
  bool ready_sent = false;
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
      const bool ready_now = !ready_sent && engine_->initial_write_done();
      if (now >= next_status || ready_now) {
        std::string status = absl::StrCat("STATUS=", h.ports_tracked(), " ports tracked, ",
                                          h.ports_in_sync(), " in sync with STATE_DB; Redis ",
                                          engine_->redis_connected() ? "connected" : "UNREACHABLE",
                                          "; ", h.counters().netlink_resyncs(),
                                          " netlink resyncs; ", h.start_mode(), " start");
        if (ready_now) {
          notifier_->Notify(absl::StrCat("READY=1\n", status));
          ready_sent = true;
          on_ready_();
        } else if (status != last_status) {
          notifier_->Notify(status);
        }
        last_status = std::move(status);
        next_status = now + absl::Seconds(1);
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
