// What the engine's parts share: their options, their counters, and the port model with the
// flags that hand work from the kernel side to the writer (core/engine.h draws the whole).
//
// SharedModel is the one piece of state more than one thread touches: the engine thread
// (core/kernel_follower.h) applies netlink messages to it, the writer thread
// (core/state_writer.h) takes what is dirty, the API reads snapshots. Its mutex is held only for
// in-memory work, never across I/O.
#ifndef PORTSYNCD_CORE_ENGINE_SHARED_H_
#define PORTSYNCD_CORE_ENGINE_SHARED_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/db_config.h"
#include "core/histogram.h"
#include "core/port_model.h"
#include "core/port_selection.h"
#include "core/redis_connection.h"

namespace portsyncd {

struct EngineOptions {
  // False: host mode, no SONiC database. The kernel is the only source: no startup sequence, no
  // APPL_DB, STATE_DB, PortConfigDone or PortInitDone, no Redis thread; the model serves the API.
  bool redis_enabled = true;
  // The netdevs followed (core/port_selection.h); Engine::SetPortSelection changes it live.
  PortSelection selection = PortSelection::Sonic();
  std::string db_config_path = kDefaultDbConfigPath;
  // See NetlinkSocket::Options.
  int netlink_receive_buffer_bytes = 16 * 1024 * 1024;
  // Apply CONFIG_DB LOGGER|portsyncd LOGLEVEL found at startup (as upstream does); false when
  // the log level was given on the command line, which then wins until LOGGER changes.
  bool apply_db_log_level_at_start = true;
  // Holds the restart marker (docs/COMPATIBILITY.md 7.7); systemd's RuntimeDirectory.
  std::string runtime_dir = "/run/portsyncd";
  // Deadline for one Redis connect or round trip; past it the connection counts as broken.
  absl::Duration redis_timeout = absl::Seconds(2);
  // Reconnect backoff: doubles from initial to max. The max bounds how long after Redis comes
  // back we notice: 100 ms of the second STATE_DB has to be right again after a Redis restart
  // (at 100,000 ports, rewriting them takes most of it). A refused connect to a local socket
  // costs microseconds, so 10 a second while Redis is away cost nothing measurable.
  absl::Duration reconnect_initial = absl::Milliseconds(50);
  absl::Duration reconnect_max = absl::Milliseconds(100);
  // How often to ask APPL_DB about ports the kernel has but APPL_DB does not know yet.
  absl::Duration pending_poll_interval = absl::Milliseconds(100);
  // How often to compare our STATE_DB keys with what we wrote (drift repair).
  absl::Duration audit_interval = absl::Seconds(5);
  // How often to read CONFIG_DB LOGGER|portsyncd for run-time log level changes.
  absl::Duration logger_poll_interval = absl::Seconds(1);
  // Use Redis keyspace notifications when the server has them on (see the file comment).
  bool keyspace_notifications = true;
  // While notifications are on: the full audit, the pending-APPL_DB poll and the LOGGER poll
  // run this often, as a backstop for what notifications cannot tell (FLUSHDB sends none).
  absl::Duration audit_interval_notified = absl::Seconds(60);
  // The keyspace watcher reads at most once per this interval while notifications keep coming:
  // our own writes notify too, and in a storm one wake-up per write cost a sixth of the
  // daemon's CPU. A notification after a quiet interval is read at once.
  absl::Duration keyspace_coalesce = absl::Milliseconds(5);
  // Ports the reconcile and the audit judge per hold of the model lock (the engine waits for one
  // slice at most: ~1 ms at 4,096).
  size_t audit_slice = 4096;
  // Port writes go from the engine thread straight to STATE_DB on a non-blocking connection of
  // its own (core/direct_writer.h) while that connection is healthy; else, and for everything
  // else, through the writer thread.
  bool direct_writes = true;
  // Tests only (set from the PORTSYNCD_TEST_STALL_FILE environment variable): while this file
  // exists the engine loop stalls, as a stuck engine would, so the watchdog can be tested.
  std::string test_stall_file;
};

// Monotonic counters; read from any thread.
struct EngineCounters {
  std::atomic<uint64_t> netlink_messages{0};
  std::atomic<uint64_t> netlink_newlinks{0};
  std::atomic<uint64_t> netlink_dellinks{0};
  std::atomic<uint64_t> netlink_parse_errors{0};
  std::atomic<uint64_t> netlink_overflows{0};
  std::atomic<uint64_t> netlink_dumps{0};    // the first, and every resync (not selection_dumps)
  std::atomic<uint64_t> selection_dumps{0};  // asked for by a [ports] change
  std::atomic<uint64_t> ports_removed_by_resync{0};
  std::atomic<uint64_t> state_db_batches{0};
  std::atomic<uint64_t> state_db_writes{0};
  std::atomic<uint64_t> state_db_deletes{0};
  std::atomic<uint64_t> redis_connects{0};
  std::atomic<uint64_t> redis_errors{0};
  std::atomic<uint64_t> reconciles{0};
  std::atomic<uint64_t> drift_repairs{0};
  // Keyspace notifications received, and those not caused by our own writes (checked).
  std::atomic<uint64_t> keyspace_events{0};
  std::atomic<uint64_t> keyspace_checks{0};
  std::atomic<uint64_t> old_interfaces{0};
  // From a port becoming dirty (a kernel message) to Redis acknowledging its STATE_DB write.
  Histogram event_to_state_db;
  // One pipelined STATE_DB batch: send to last reply.
  Histogram redis_round_trip;

  // "name=value ..." of every counter, for logs.
  std::string Summary() const;
};

// Receives every change the engine applies to a port (not the ignored ones), in sequence order,
// once per batch, with the model lock held (so `model` is the state right after the changes):
// keep it short and non-blocking. Called on the engine thread, and on the writer thread when an
// APPL_DB entry appears. The seam for the gRPC event stream.
class PortChangeListener {
 public:
  virtual ~PortChangeListener() = default;
  virtual void OnPortChanges(const PortModel& model, std::vector<PortChange>&& changes) = 0;
  // The first complete link dump is applied (its changes were just published): from now on the
  // model knows the kernel, and a snapshot of it is the truth. Called once, model lock held.
  virtual void OnInitialSync() {}
};

// Reads the model under its lock: what the server's snapshots and health read (the Engine; a
// fake in tests).
class ModelReader {
 public:
  virtual ~ModelReader() = default;
  // Runs `fn` with the model locked: keep it short.
  virtual void WithModel(absl::FunctionRef<void(const PortModel&)> fn) const = 0;
};

// The writer thread's wake-up: whoever leaves it work (or changes a timer it waits for) wakes
// it; Stop() makes it flush and finish. Its own mutex, a leaf: callable with the model's held.
class WriterSignal {
 public:
  void Wake() {
    absl::MutexLock lock(&mu_);
    wake_ = true;
  }
  void Stop() {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  // Writer thread: waits until woken, stopped or `deadline`; takes the wake-up. True: stop.
  bool Wait(absl::Time deadline) {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithDeadline(absl::Condition(this, &WriterSignal::ReadyLocked), deadline);
    wake_ = false;
    return stop_;
  }
  // Tests: takes the wake-up without waiting.
  bool TakeWake() {
    absl::MutexLock lock(&mu_);
    return std::exchange(wake_, false);
  }

 private:
  bool ReadyLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return wake_ || stop_; }
  absl::Mutex mu_;
  bool wake_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
};

// The engine thread's direct STATE_DB connection (core/direct_writer.h) changing hands: the
// engine thread asks for one (Want), the writer thread, which may block, connects it and leaves
// it here (Offer, which wakes the engine thread's poll), the engine thread takes it (Take). Its
// own mutex, a leaf.
class DirectHandOver {
 public:
  // Before any thread starts: the eventfd Offer writes 1 to (the engine thread polls it).
  void set_engine_wake_fd(int fd) { engine_wake_fd_ = fd; }
  void Want() {
    absl::MutexLock lock(&mu_);
    wanted_ = true;
  }
  // A connection is asked for and none is waiting to be taken.
  bool wanted() const {
    absl::MutexLock lock(&mu_);
    return wanted_ && offer_ == nullptr;
  }
  void Offer(RedisContextPtr context);
  // The connection offered, or null.
  RedisContextPtr Take() {
    absl::MutexLock lock(&mu_);
    return std::move(offer_);
  }

 private:
  mutable absl::Mutex mu_;
  bool wanted_ ABSL_GUARDED_BY(mu_) = false;
  RedisContextPtr offer_ ABSL_GUARDED_BY(mu_);
  int engine_wake_fd_ = -1;
};

// The model, under its mutex, and the small objects the engine's threads hand work over with.
struct SharedModel {
  mutable absl::Mutex mu;
  PortModel model ABSL_GUARDED_BY(mu);
  // The first complete dump has been applied: before it the writer writes nothing (the model
  // does not know the kernel yet).
  bool initial_dump_done ABSL_GUARDED_BY(mu) = false;
  WriterSignal writer;
  DirectHandOver direct;
  PortChangeListener* listener = nullptr;  // set before any thread starts
  // PortInitDone is published (the engine thread wakes the writer until then).
  std::atomic<bool> port_init_done{false};
  // Called (without `mu`) when something health reports may have changed: Redis connected or
  // not, startup's progress, the initial sync and write, ports written or changed. Set before
  // any thread starts; keep it short (it runs on the engine's threads).
  std::function<void()> on_state_change;

  // Hands the model's recorded changes to the listener.
  void PublishChangesLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void NotifyStateChange() const {
    if (on_state_change) on_state_change();
  }
};

}  // namespace portsyncd

#endif  // PORTSYNCD_CORE_ENGINE_SHARED_H_
