// HealthReporter: the thread that reports the daemon's health outward. It sleeps until the engine
// says something changed (Engine::SetStateListener), and otherwise only for systemd's deadlines
// (the watchdog period, READY's 10 s): an idle daemon without a watchdog never wakes it.
//   - grpc.health.v1 follows GetHealth (SERVING unless NOT_SERVING);
//   - systemd (when NOTIFY_SOCKET is set): READY=1 once the initial dump is in STATE_DB
//     (PortConfigDone is out before that on a cold start), or 10 s after the start while
//     Redis is unreachable (the daemon is up and retrying; STATUS= says so, and waiting for
//     Redis is never fatal), STATUS= lines at most once a second,
//     and WATCHDOG=1 at the watchdog period while the engine answers pings (WatchdogGate).
#ifndef PORTSYNCD_SERVER_OPS_HEALTH_REPORTER_H_
#define PORTSYNCD_SERVER_OPS_HEALTH_REPORTER_H_

#include <atomic>
#include <functional>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "core/engine.h"
#include "grpcpp/grpcpp.h"
#include "portsyncd/v1/portsyncd.pb.h"
#include "server/ops/systemd_notifier.h"

namespace portsyncd {

// One pass's view: whether the initial dump is in STATE_DB, and GetHealth. `synced` is read
// first, so the health read after it is as new or newer: a STATUS= line never says "synced" with
// the port count of before the dump (read the other way round, the dump can end between the two
// reads, and READY=1 went out saying "following 0 interfaces").
struct HealthSample {
  bool synced = false;
  v1::GetHealthResponse health;
};
HealthSample SampleHealth(const std::function<bool()>& synced,
                          const std::function<v1::GetHealthResponse()>& health);

class HealthReporter {
 public:
  // Starts the thread. Not owned, must outlive Stop(): everything passed. `on_ready` runs once,
  // once READY=1 has been sent (by this thread, or earlier by main while it waited).
  HealthReporter(grpc::Server* server, std::function<v1::GetHealthResponse()> health,
                 Engine* engine, const SystemdNotifier* notifier, std::function<void()> on_ready);
  ~HealthReporter() { Stop(); }
  void Stop();

 private:
  void Run();
  // The engine's state listener: wakes Run().
  void OnStateChange();
  // The STATUS= text: what the daemon waits for, or how many ports are in sync.
  std::string StatusLine(const v1::GetHealthResponse& h, bool synced) const;

  grpc::Server* const server_;
  const std::function<v1::GetHealthResponse()> health_;
  Engine* const engine_;
  const SystemdNotifier* const notifier_;
  const std::function<void()> on_ready_;
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool changed_ ABSL_GUARDED_BY(mu_) = true;  // the first pass reports
  std::atomic<bool> pending_{false};          // a change is waiting for the next pass
  std::thread thread_;
};

}  // namespace portsyncd

#endif  // PORTSYNCD_SERVER_OPS_HEALTH_REPORTER_H_
