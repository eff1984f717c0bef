#include "server/ops/health_reporter.h"

#include <algorithm>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/logging.h"
#include "core/thread_name.h"

namespace portsyncd {
namespace {

// See HealthReporter::Run: well within systemd's start timeout (the unit sets 30 s).
constexpr absl::Duration kReadyWhileWaiting = absl::Seconds(10);

}  // namespace

HealthSample SampleHealth(const std::function<bool()>& synced,
                          const std::function<v1::GetHealthResponse()>& health) {
  HealthSample sample;
  sample.synced = synced();
  sample.health = health();
  return sample;
}

std::string HealthReporter::StatusLine(const v1::GetHealthResponse& h, bool synced) const {
  if (h.mode() == "host") {
    if (!synced) return "host mode (no SONiC database): waiting for the first link dump";
    return absl::StrCat("host mode (no SONiC database): following ", h.ports_tracked(),
                        h.ports_tracked() == 1 ? " interface; " : " interfaces; ",
                        h.counters().netlink_resyncs(), " netlink resyncs");
  }
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

HealthReporter::HealthReporter(grpc::Server* server, std::function<v1::GetHealthResponse()> health,
                               Engine* engine, const SystemdNotifier* notifier,
                               std::function<void()> on_ready)
    : server_(server),
      health_(std::move(health)),
      engine_(engine),
      notifier_(notifier),
      on_ready_(std::move(on_ready)) {
  engine_->SetStateListener([this] { OnStateChange(); });
  thread_ = std::thread([this] {
    SetThreadName("ps-health");
    Run();
  });
}

void HealthReporter::OnStateChange() {
  // Called per batch of kernel changes or writes: once a change is pending, the next ones cost
  // one atomic exchange (no lock, no wake-up) until the reporter's next pass.
  if (pending_.exchange(true)) return;
  absl::MutexLock lock(&mu_);
  changed_ = true;
}

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
  bool status_deferred = false;  // a pass came within a second of the last STATUS= line
  for (;;) {
    pending_.store(false);  // before reading: a change from here on is reported next time
    const absl::Time now = absl::Now();
    const HealthSample sample =
        SampleHealth([this] { return engine_->initial_write_done(); }, health_);
    const v1::GetHealthResponse& h = sample.health;
    // A pass reads every port under the model's lock: with 100,000 ports it is milliseconds, so
    // passes are spaced by at least ten times what the last one took (at most a tenth of a CPU,
    // and of the lock, whatever the port count).
    const absl::Duration took = absl::Now() - now;
    const bool serving = h.status() != v1::SERVING_STATUS_NOT_SERVING;
    if (last_serving != serving) {
      health->SetServingStatus(serving);
      health->SetServingStatus("portsyncd.v1.PortSync", serving);
      last_serving = serving;
    }
    if (notifier_->enabled()) {
      const bool synced = sample.synced;
      // READY=1 once the initial dump is in STATE_DB; while Redis is away, after
      // kReadyWhileWaiting at most: the daemon is up, serves its API and keeps retrying, and
      // STATUS= says what it waits for (an unreachable Redis is never fatal).
      const bool ready_now =
          !notifier_->ready_sent() && (synced || now - began >= kReadyWhileWaiting);
      status_deferred = !(now >= next_status || ready_now);
      if (!status_deferred) {
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
    // Sleep until the engine reports a change, or a deadline of systemd's: the watchdog's next
    // tick, READY's timeout while Redis is away. Passes are at least 1 s apart (50 ms until
    // the first STATE_DB write, for a prompt READY): a change within the gap is reported at its
    // end, so a storm costs one pass a second, however many events it has.
    const absl::Time next_pass =
        now + std::max(engine_->initial_write_done() ? absl::Seconds(1) : absl::Milliseconds(50),
                       10 * took);
    absl::Time deadline = absl::InfiniteFuture();
    if (watchdog) deadline = std::min(deadline, watchdog->next());
    if (notifier_->enabled() && !notifier_->ready_sent()) {
      deadline = std::min(deadline, began + kReadyWhileWaiting);
    }
    // A change whose STATUS= line had to wait is sent when the second is over.
    if (status_deferred) deadline = std::min(deadline, next_status);
    absl::MutexLock lock(&mu_);
    auto woken = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return changed_ || stop_; };
    mu_.AwaitWithDeadline(absl::Condition(&woken), deadline);
    if (stop_) return;
    if (changed_) {
      changed_ = false;
      if (absl::Now() < next_pass) {
        mu_.AwaitWithDeadline(absl::Condition(&stop_), std::min(deadline, next_pass));
        if (stop_) return;
      }
    }
  }
}

}  // namespace portsyncd
