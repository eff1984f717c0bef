// Startup: the SONiC startup sequence (docs/COMPATIBILITY.md 2, 4, 5 and 7.7), run once before
// the engine follows the kernel.
//
// It decides the start (cold, warm, or a restart of the daemon alone; core/start_decision.h),
// reads CONFIG_DB's ports, copies them to APPL_DB with PortConfigDone on a cold start, sets old
// interfaces down, writes the restart marker and loads the model's CONFIG_DB / APPL_DB
// membership. While Redis is unreachable it retries with backoff, and a retry never repeats what
// an earlier attempt decided or wrote (Progress).
//
// Thread: the engine thread, before the writer starts. Owns: its progress, the decision and the
// "waiting for" text (read by any thread). Shares: the model (loaded under its mutex at the
// end), the counters. Calls: RedisConnector / RedisClient, LinkControl (the netlink socket:
// the old interfaces' list and admin down), the runtime directory.
#ifndef PORTSYNCD_CORE_STARTUP_H_
#define PORTSYNCD_CORE_STARTUP_H_

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/engine_shared.h"
#include "core/redis_client.h"
#include "core/start_decision.h"

namespace portsyncd {

class LinkControl;

class Startup {
 public:
  Startup(const EngineOptions& options, DbEndpoints endpoints, SharedModel& shared,
          EngineCounters& counters, RedisConnector& connector);

  // Runs the sequence (`links` lists and sets down old interfaces), retrying while Redis is
  // unreachable: `heartbeat` is called before each attempt, `sleep_unless_stopped` between
  // attempts (true: stop now, return OK). Returns an error only for what waiting cannot fix.
  [[nodiscard]] absl::Status Run(LinkControl& links, absl::FunctionRef<void()> heartbeat,
                                 absl::FunctionRef<bool(absl::Duration)> sleep_unless_stopped);

  // Called once, on Run()'s thread, as soon as the start mode is decided (before the rest of the
  // sequence reads CONFIG_DB and APPL_DB). Set before Run().
  void set_on_decided(std::function<void(StartMode)> on_decided) {
    on_decided_ = std::move(on_decided);
  }

  // Any thread.
  StartMode mode() const { return mode_.load(); }
  bool decided() const { return decided_.load(); }
  std::string waiting_for() const;
  // After Run(): LOGGER|portsyncd LOGLEVEL as startup left it (for the writer's LOGGER poll).
  const std::string& logger_level_seen() const { return logger_level_seen_; }

 private:
  // What earlier attempts already decided or wrote.
  struct Progress {
    std::optional<StartDecision> decision;
    std::optional<std::vector<std::pair<int32_t, std::string>>> old_interfaces;  // step 6's
    std::optional<absl::flat_hash_set<std::string>> configured;                  // step 5's result
    bool appl_published = false;
  };
  [[nodiscard]] absl::Status Attempt(DbClients& db);

  const EngineOptions& options_;
  const DbEndpoints endpoints_;
  SharedModel& shared_;
  EngineCounters& counters_;
  RedisConnector& connector_;
  LinkControl* links_ = nullptr;  // during Run()
  std::function<void(StartMode)> on_decided_;
  Progress progress_;
  std::string logger_level_seen_;
  std::atomic<StartMode> mode_{StartMode::kCold};
  std::atomic<bool> decided_{false};
  mutable absl::Mutex mu_;
  std::string waiting_for_ ABSL_GUARDED_BY(mu_);
};

}  // namespace portsyncd

#endif  // PORTSYNCD_CORE_STARTUP_H_
