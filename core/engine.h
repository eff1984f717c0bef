// Engine: the sync engine. Kernel link state (netlink) -> PortModel -> STATE_DB / APPL_DB.
//
// A short wiring of parts that each own one job and one piece of state:
//   core/startup.h          the SONiC startup sequence (COMPATIBILITY 2, 4, 5, 7.7), engine thread
//   core/kernel_follower.h  netlink into the model, dumps and overflow recovery, engine thread
//   core/state_writer.h     STATE_DB / APPL_DB writes, backoff, reconcile, audit, polls, writer
//   thread core/write_tracker.h    our writes' notifications told from others', watcher + writer
//   threads core/keyspace_watcher.h Redis keyspace notifications, one thread per Redis instance
//   core/engine_shared.h    the model and the hand-over flags, under one mutex
//
// Threads: the caller of Run() is the *engine thread* (the kernel follower); Run() starts the
// *startup thread* (core/startup.h; the follower starts as soon as startup has decided a start
// that is not a cold one, else once it is done), which then starts the *watcher threads* when
// notifications are used and goes on as the *writer thread*. The model
// is shared under one mutex, held only for in-memory work, never across I/O. Memory is bounded by
// the number of ports: a backlog for one port is its latest state. Every Redis connection is made
// through a RedisConnector and every time the writer reads comes from a Clock, so unit tests run
// the parts against fakes (tests/unit/state_writer_test.cc).
//
// Example:
//   ASSIGN_OR_RETURN(auto engine, Engine::Create(options));
//   std::thread stopper([&] { WaitForSignal(); engine->Stop(); });
//   RETURN_IF_ERROR(engine->Run());   // returns after Stop(), once queued writes are flushed
#ifndef PORTSYNCD_CORE_ENGINE_H_
#define PORTSYNCD_CORE_ENGINE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/clock.h"
#include "core/engine_shared.h"
#include "core/engine_view.h"
#include "core/kernel_follower.h"
#include "core/keyspace_watcher.h"
#include "core/netlink_socket.h"
#include "core/port_model.h"
#include "core/redis_client.h"
#include "core/start_decision.h"
#include "core/startup.h"
#include "core/state_writer.h"
#include "core/write_tracker.h"

namespace portsyncd {

// What the engine talks to and reads the time from: the real ones by default; fakes in a unit
// test of the whole engine (tests/unit/engine_test.cc), with no kernel, Redis or clock.
struct EngineEnvironment {
  RedisConnector* connector = &RealRedisConnector();
  const Clock* clock = &RealClock();
  // Opens the kernel's link sockets (Run() calls it once).
  std::function<absl::StatusOr<std::unique_ptr<LinkSocket>>(const NetlinkSocket::Options&)>
      open_links =
          [](const NetlinkSocket::Options& options) -> absl::StatusOr<std::unique_ptr<LinkSocket>> {
    return NetlinkSocket::Create(options);
  };
};

class Engine : public EngineView, private KeyspaceListener {
 public:
  // Resolves the three databases in the database config (an error names what is missing).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Engine>> Create(
      EngineOptions options, EngineEnvironment environment = {});
  ~Engine();

  // Not owned; must outlive Run(). Call before Run().
  void SetListener(PortChangeListener* listener) { shared_.listener = listener; }
  // Not owned; call before Run(). Called on the engine's threads, without their locks, whenever
  // something the health getters below report may have changed (never periodically): lets a
  // reporter sleep until then instead of polling.
  void SetStateListener(std::function<void()> fn) { shared_.on_state_change = std::move(fn); }

  // Runs startup then the event loop until Stop(). Startup waits (retrying, logging why) while
  // Redis is unreachable. Returns an error only for what retrying cannot fix (bad database
  // config, no netlink).
  [[nodiscard]] absl::Status Run();
  // Thread-safe and idempotent: stop reading netlink, flush what is queued, return from Run().
  void Stop();

  // Any thread.
  const EngineCounters& counters() const override { return counters_; }
  // Every getter below, at once (EngineView).
  EngineStatus status() const override;
  // Thread-safe: follow another set of netdevs (PortModel::SetSelection), then re-dump.
  void SetPortSelection(PortSelection selection);

  StartMode start_mode() const { return startup_->mode(); }
  // start_mode() is decided: startup has read what it needs from Redis (until then it waits).
  // Host mode has no startup: decided at once.
  bool start_decided() const { return !options_.redis_enabled || startup_->decided(); }
  // While startup waits for Redis: why (the last error); empty otherwise.
  std::string startup_waiting_for() const { return startup_->waiting_for(); }
  // Runs `fn` with the model locked (for the API: snapshots, health).
  void WithModel(absl::FunctionRef<void(const PortModel&)> fn) const override;
  bool redis_connected() const { return writer_->connected(); }
  // When redis_connected() last changed (startup counts as a change).
  absl::Time redis_since() const { return writer_->connected_since(); }
  // The first complete link dump has been applied: the model reflects the kernel.
  bool initial_sync_done() const { return follower_->initial_sync_done(); }
  absl::Time initial_sync_time() const { return follower_->initial_sync_time(); }
  bool port_init_done() const { return writer_->port_init_done(); }
  absl::Time port_init_done_time() const { return writer_->port_init_done_time(); }
  // The first reconcile after the initial dump has been written to STATE_DB (host mode: the
  // initial dump is applied; there is nothing to write).
  bool initial_write_done() const {
    return options_.redis_enabled ? writer_->initial_write_done() : initial_sync_done();
  }
  // Liveness for the systemd watchdog: Ping() asks the engine thread to show it is turning;
  // heartbeat() is when it last did (its event loop, or the startup loop while it waits).
  void Ping();
  absl::Time heartbeat() const { return follower_->heartbeat(); }
  // Keyspace notifications are subscribed on every instance (else the engine polls).
  bool keyspace_active() const { return writer_->keyspace_active(); }
  int netlink_receive_buffer() const { return netlink_receive_buffer_.load(); }

 private:
  Engine(EngineOptions options, DbEndpoints endpoints, EngineEnvironment environment);

  void OnKeyspaceEvent(int tag, absl::string_view key_suffix, absl::string_view event) override;
  void OnKeyspaceActive(bool active, absl::string_view why) override;
  // Sleeps up to `d`, returning early (true) when Stop() is called.
  bool SleepUnlessStopped(absl::Duration d);
  // Startup's thread: the engine thread may start following the kernel.
  void AllowFollowing();
  // Startup's thread, once it is done: the keyspace watchers (it then goes on as the writer).
  void StartWatching();

  const EngineOptions options_;
  const DbEndpoints endpoints_;
  const EngineEnvironment environment_;
  RedisConnector& connector_;
  EngineCounters counters_;
  SharedModel shared_;
  int wake_fd_ = -1;  // eventfd: Stop() wakes the engine thread
  int ping_fd_ = -1;  // eventfd: Ping() -> the engine loop updates its heartbeat
  std::atomic<bool> stopping_{false};
  std::atomic<int> netlink_receive_buffer_{0};
  std::unique_ptr<LinkSocket> netlink_;    // created by Run()
  std::unique_ptr<WriteTracker> tracker_;  // null without keyspace notifications
  std::unique_ptr<Startup> startup_;
  std::unique_ptr<KernelFollower> follower_;
  std::unique_ptr<StateWriter> writer_;
  std::unique_ptr<KeyspaceWatcher> watcher_;
  absl::Mutex follow_mu_;
  bool may_follow_ ABSL_GUARDED_BY(follow_mu_) = false;
};

}  // namespace portsyncd

#endif  // PORTSYNCD_CORE_ENGINE_H_
