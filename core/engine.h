// Engine: the sync engine. Kernel link state (netlink) -> PortModel -> STATE_DB / APPL_DB.
//
// Threads:
//   - The caller of Run() is the *engine thread*: it runs the startup sequence
//     (docs/COMPATIBILITY.md 2), then reads netlink, applies each message to the model and
//     wakes the writer. It never touches Redis after startup, so a slow or absent Redis cannot
//     stall netlink reading.
//   - The *writer thread* (started by Run) owns the Redis connections: it writes what the model
//     marks dirty, one pipelined round trip per batch; on any Redis error it drops the
//     connections, retries with capped exponential backoff and, once connected, reconciles every
//     key we own. It also runs the periodic work: the pending-APPL_DB poll, the drift audit and
//     the LOGGER poll.
//   - The *keyspace watcher* threads (core/keyspace_watcher.h, one per Redis instance) receive
//     Redis keyspace notifications when the server has them on. Then an APPL_DB entry, a touch
//     of one of our STATE_DB keys by someone else, or a LOGGER change wakes the writer at once,
//     and the polls and the full audit only run as a backstop (`audit_interval_notified`).
//     Our own writes' notifications are told apart by counting: the writer records, per key,
//     how many notifications its writes will cause; the watcher consumes those.
// The model is shared under one mutex, held only for in-memory work, never across Redis I/O.
// Memory is bounded by the number of ports: a backlog for one port is its latest state.
//
// Example:
//   ASSIGN_OR_RETURN(auto engine, Engine::Create(options));
//   std::thread stopper([&] { WaitForSignal(); engine->Stop(); });
//   RETURN_IF_ERROR(engine->Run());   // returns after Stop(), once queued writes are flushed
#ifndef PORTSYNCD_CORE_ENGINE_H_
#define PORTSYNCD_CORE_ENGINE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/db_config.h"
#include "core/histogram.h"
#include "core/keyspace_watcher.h"
#include "core/logging.h"
#include "core/port_model.h"
#include "core/start_decision.h"

namespace portsyncd {

class NetlinkSocket;
class RedisConnection;

struct EngineOptions {
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
  // back we notice (STATE_DB must be right within a second of Redis returning).
  absl::Duration reconnect_initial = absl::Milliseconds(50);
  absl::Duration reconnect_max = absl::Milliseconds(500);
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
  std::atomic<uint64_t> netlink_dumps{0};
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
};

class Engine : private KeyspaceListener {
 public:
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Engine>> Create(EngineOptions options);
  ~Engine();

  // Not owned; must outlive Run(). Call before Run().
  void SetListener(PortChangeListener* listener) { listener_ = listener; }

  // Runs startup then the event loop until Stop(). Startup waits (retrying, logging why) while
  // Redis is unreachable. Returns an error only for what retrying cannot fix (bad database
  // config, no netlink).
  [[nodiscard]] absl::Status Run();
  // Thread-safe and idempotent: stop reading netlink, flush what is queued, return from Run().
  void Stop();

  const EngineCounters& counters() const { return counters_; }
  StartMode start_mode() const { return start_mode_.load(); }
  // start_mode() is decided: startup has read what it needs from Redis (until then it waits).
  bool start_decided() const { return start_decided_.load(); }
  // While startup waits for Redis: why (the last error); empty otherwise.
  std::string startup_waiting_for() const;
  // Runs `fn` with the model locked (for the API: snapshots, health).
  void WithModel(absl::FunctionRef<void(const PortModel&)> fn) const;
  bool redis_connected() const { return redis_connected_.load(); }
  // When redis_connected() last changed (startup counts as a change).
  absl::Time redis_since() const { return absl::FromUnixNanos(redis_since_ns_.load()); }
  // The first complete link dump has been applied: the model reflects the kernel.
  bool initial_sync_done() const { return initial_sync_done_.load(); }
  absl::Time initial_sync_time() const { return absl::FromUnixNanos(initial_sync_ns_.load()); }
  bool port_init_done() const { return port_init_done_.load(); }
  // The first reconcile after the initial dump has been written to STATE_DB.
  bool initial_write_done() const { return initial_write_done_.load(); }
  // Liveness for the systemd watchdog: Ping() asks the engine thread to show it is turning;
  // heartbeat() is when it last did (its event loop, or the startup loop while it waits).
  void Ping();
  absl::Time heartbeat() const { return absl::FromUnixNanos(heartbeat_ns_.load()); }
  absl::Time port_init_done_time() const { return absl::FromUnixNanos(port_init_done_ns_.load()); }
  // Kernel changes that needed no write of their own (see PortModel::merged_writes).
  uint64_t merged_writes() const;
  // Netdevs renamed while in the kernel (see PortModel::renames).
  uint64_t netdev_renames() const;
  // Keyspace notifications are subscribed on every instance (else the engine polls).
  bool keyspace_active() const { return keyspace_active_.load(); }
  int netlink_receive_buffer() const;

 private:
  explicit Engine(EngineOptions options, DbConfig db_config);

  struct Connections;  // the writer's (and startup's) three Redis connections
  [[nodiscard]] absl::StatusOr<std::unique_ptr<Connections>> Connect();
  [[nodiscard]] absl::Status Startup();
  // What earlier startup attempts already decided or wrote (see TryStartup).
  struct StartupProgress {
    std::optional<StartDecision> decision;
    std::optional<std::vector<std::pair<int32_t, std::string>>> old_interfaces;  // step 6's
    std::optional<absl::flat_hash_set<std::string>> configured;                  // step 5's result
    bool appl_published = false;
  };
  [[nodiscard]] absl::Status TryStartup(Connections& db, StartupProgress& progress);
  [[nodiscard]] absl::Status EventLoop();
  void ProcessNetlink(bool& dump_done, bool& need_redump);
  void StartDump();

  void WriterLoop();
  [[nodiscard]] absl::Status WriterTick(Connections& db, absl::Time now);
  [[nodiscard]] absl::Status Flush(Connections& db);
  // Compares our STATE_DB keys with what we wrote and repairs what differs; rewrite_all: forget
  // what we wrote and rewrite every port. `only`: just these ports, without a SCAN.
  [[nodiscard]] absl::Status Reconcile(Connections& db, bool rewrite_all,
                                       const std::vector<std::string>* only = nullptr);
  // Handles what the keyspace watcher reported since the last tick.
  [[nodiscard]] absl::Status HandleKeyspace(Connections& db, absl::Time now);
  // Reconcile without rewrite_all, over every key.
  [[nodiscard]] absl::Status FullAudit(Connections& db);
  void OnKeyspaceEvent(int tag, absl::string_view key_suffix, absl::string_view event) override;
  void OnKeyspaceActive(bool active, absl::string_view why) override;
  void WakeWriter();
  // Expectations of our own writes' notifications (see the file comment).
  void ClearExpectations();
  // One expected notification will not come (the command notified nothing). Returns true when
  // it had already been consumed, so by someone else's write: the key became a suspect and the
  // caller must wake the writer.
  bool TakeBackExpectation(bool del, const std::string& name);
  // The period of the audit and the polls: longer while notifications are on.
  absl::Duration Backstop(absl::Duration polling) const;
  [[nodiscard]] absl::Status PollPendingApplDb(Connections& db);
  [[nodiscard]] absl::Status PollLogger(Connections& db);
  void SetRedisConnected(bool connected);
  // Hands the model's recorded changes to the listener.
  void PublishChangesLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sleeps up to `d`, returning early (true) when Stop() is called.
  bool SleepUnlessStopped(absl::Duration d);

  const EngineOptions options_;
  const DbConfig db_config_;
  PortChangeListener* listener_ = nullptr;
  std::unique_ptr<NetlinkSocket> netlink_;
  int wake_fd_ = -1;  // eventfd: Stop() wakes the engine thread
  std::atomic<StartMode> start_mode_{StartMode::kCold};
  std::atomic<bool> start_decided_{false};
  mutable absl::Mutex startup_mu_;
  std::string startup_waiting_for_ ABSL_GUARDED_BY(startup_mu_);
  // Writer thread only.
  std::string logger_level_seen_;  // LOGGER|portsyncd LOGLEVEL as of the last poll
  absl::Time last_pending_poll_ = absl::InfinitePast();
  absl::Time last_audit_ = absl::InfinitePast();
  absl::Time last_logger_poll_ = absl::InfinitePast();
  // When a PortInitDone Redis refused is tried again (each Flush would retry it at once).
  absl::Time port_init_done_retry_at_ = absl::InfinitePast();
  LogRateLimiter drift_log_{1.0};  // notified drift is logged once a second
  // Engine thread only.
  LogRateLimiter parse_error_log_{5.0};
  uint64_t malformed_headers_seen_ = 0;  // NetlinkSocket::malformed_headers() already counted

  EngineCounters counters_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> redis_connected_{false};
  std::atomic<int64_t> redis_since_ns_{absl::ToUnixNanos(absl::Now())};
  std::atomic<bool> initial_sync_done_{false};
  std::atomic<int64_t> initial_sync_ns_{0};
  std::atomic<bool> port_init_done_{false};
  std::atomic<int64_t> port_init_done_ns_{0};
  std::atomic<int> netlink_receive_buffer_{0};
  std::atomic<bool> initial_write_done_{false};
  std::atomic<int64_t> heartbeat_ns_{absl::ToUnixNanos(absl::Now())};
  int ping_fd_ = -1;  // eventfd: Ping() -> the engine loop updates heartbeat_ns_
  // Engine thread only: the dump in progress (seq 0: none).
  uint32_t dump_seq_ = 0;
  bool dump_interrupted_ = false;
  absl::Time dump_activity_ = absl::InfinitePast();  // last message of the current dump
  LogRateLimiter dump_error_log_{10.0};

  mutable absl::Mutex mu_;
  PortModel model_ ABSL_GUARDED_BY(mu_);
  bool initial_dump_done_ ABSL_GUARDED_BY(mu_) = false;
  bool port_init_done_sent_ ABSL_GUARDED_BY(mu_) = false;
  bool writer_wake_ ABSL_GUARDED_BY(mu_) = false;
  bool writer_stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread writer_;

  // Keyspace notifications (see the file comment). Lock order: never mu_ inside watch_mu_.
  std::unique_ptr<KeyspaceWatcher> watcher_;
  std::atomic<bool> keyspace_active_{false};
  absl::Mutex watch_mu_;
  // STATE_DB keys' notifications our own writes will cause, not yet seen.
  absl::flat_hash_map<std::string, uint32_t> expect_hset_ ABSL_GUARDED_BY(watch_mu_);
  absl::flat_hash_map<std::string, uint32_t> expect_del_ ABSL_GUARDED_BY(watch_mu_);
  std::set<std::string> suspects_ ABSL_GUARDED_BY(watch_mu_);  // port names to check
  bool appl_changed_ ABSL_GUARDED_BY(watch_mu_) = false;       // an APPL_DB PORT_TABLE entry
  bool logger_changed_ ABSL_GUARDED_BY(watch_mu_) = false;
  bool watch_resync_ ABSL_GUARDED_BY(watch_mu_) = false;  // (re)subscribed: check everything
};

}  // namespace portsyncd

#endif  // PORTSYNCD_CORE_ENGINE_H_
