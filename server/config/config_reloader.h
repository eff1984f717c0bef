// ConfigReloader: applies a re-read config file to the running daemon (the Reload RPC and
// SIGHUP). Validates the whole file first and changes nothing when it is bad.
//
// The running config changes only in its live keys (log_level, grpc.max_streams,
// grpc.stream_queue_limit, ports.include, ports.exclude); a changed restart-only key is reported by
// every reload until the daemon restarts. Thread-safe: reloads are serialized.
#ifndef PORTSYNCD_SERVER_CONFIG_CONFIG_RELOADER_H_
#define PORTSYNCD_SERVER_CONFIG_CONFIG_RELOADER_H_

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/config/daemon_config.h"
#include "server/config/reload_result.h"
#include "server/ops/metrics.h"
#include "server/ops/systemd_notifier.h"
#include "server/stream/event_hub.h"

namespace portsyncd {

class ConfigReloader {
 public:
  // `running` is the config in effect; `apply_overrides` re-applies the command line to a freshly
  // loaded file. `loaded_from_file`: whether `running` came from `path` (else built-in
  // defaults). Not owned, must outlive the reloader: hub, notifier, counters.
  // `apply_selection` hands a changed [ports] selection to the engine (Engine::SetPortSelection).
  ConfigReloader(std::string path, bool loaded_from_file, DaemonConfig running,
                 std::function<void(DaemonConfig&)> apply_overrides, EventHub* hub,
                 const SystemdNotifier* notifier, ServerCounters* counters,
                 std::function<void(const PortSelection&)> apply_selection = nullptr);

  // INVALID_ARGUMENT ("<file>:<line>: <key>: ...; the running configuration is unchanged").
  absl::StatusOr<ReloadResult> Reload();

  // systemd considers the start complete (READY=1 went out): reloads are then announced with
  // RELOADING=1 ... READY=1.
  void MarkStarted() { started_.store(true); }

  // "loaded from PATH (version V)[; waiting for a restart: KEYS]", for GetHealth.
  std::string Description() const;

 private:
  const std::string path_;
  const std::function<void(DaemonConfig&)> apply_overrides_;
  const std::function<void(const PortSelection&)> apply_selection_;
  EventHub* const hub_;
  const SystemdNotifier* const notifier_;
  ServerCounters* const counters_;
  std::atomic<bool> started_{false};

  mutable absl::Mutex mu_;
  DaemonConfig running_ ABSL_GUARDED_BY(mu_);
  bool from_file_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> waiting_for_restart_ ABSL_GUARDED_BY(mu_);
};

}  // namespace portsyncd

#endif  // PORTSYNCD_SERVER_CONFIG_CONFIG_RELOADER_H_
