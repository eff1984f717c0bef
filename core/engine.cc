#include "core/engine.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/logging.h"
#include "core/netlink_socket.h"
#include "core/sonic_tables.h"
#include "core/status_macros.h"
#include "core/thread_name.h"

namespace portsyncd {

std::string EngineCounters::Summary() const {
  return absl::StrCat(
      "netlink_messages=", netlink_messages.load(),
      " netlink_parse_errors=", netlink_parse_errors.load(),
      " netlink_overflows=", netlink_overflows.load(), " netlink_dumps=", netlink_dumps.load(),
      " selection_dumps=", selection_dumps.load(),
      " ports_removed_by_resync=", ports_removed_by_resync.load(),
      " state_db_batches=", state_db_batches.load(), " state_db_writes=", state_db_writes.load(),
      " state_db_deletes=", state_db_deletes.load(), " redis_connects=", redis_connects.load(),
      " redis_errors=", redis_errors.load(), " reconciles=", reconciles.load(),
      " drift_repairs=", drift_repairs.load(), " old_interfaces=", old_interfaces.load(),
      " keyspace_events=", keyspace_events.load(), " keyspace_checks=", keyspace_checks.load());
}

void DirectHandOver::Offer(RedisContextPtr context) {
  {
    absl::MutexLock lock(&mu_);
    offer_ = std::move(context);
    wanted_ = false;
  }
  const uint64_t one = 1;
  if (engine_wake_fd_ >= 0) {
    ssize_t ignored = write(engine_wake_fd_, &one, sizeof(one));
    (void)ignored;
  }
}

void SharedModel::PublishChangesLocked() {
  std::vector<PortChange> changes = model.TakeChanges();
  if (listener != nullptr && !changes.empty()) listener->OnPortChanges(model, std::move(changes));
}

Engine::Engine(EngineOptions options, DbEndpoints endpoints, EngineEnvironment environment)
    : options_(std::move(options)),
      endpoints_(std::move(endpoints)),
      environment_(std::move(environment)),
      connector_(*environment_.connector) {}

Engine::~Engine() {
  Stop();
  if (watcher_) watcher_->Stop();
  if (wake_fd_ >= 0) close(wake_fd_);
  if (ping_fd_ >= 0) close(ping_fd_);
}

absl::StatusOr<std::unique_ptr<Engine>> Engine::Create(EngineOptions options,
                                                       EngineEnvironment environment) {
  DbEndpoints endpoints;
  if (options.redis_enabled) {
    ASSIGN_OR_RETURN(DbConfig db_config, DbConfig::Load(options.db_config_path));
    ASSIGN_OR_RETURN(endpoints.config, db_config.Endpoint("CONFIG_DB"));
    ASSIGN_OR_RETURN(endpoints.appl, db_config.Endpoint("APPL_DB"));
    ASSIGN_OR_RETURN(endpoints.state, db_config.Endpoint("STATE_DB"));
  }
  auto engine = std::unique_ptr<Engine>(
      new Engine(std::move(options), std::move(endpoints), std::move(environment)));
  Engine& e = *engine;
  e.wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (e.wake_fd_ < 0) return absl::ErrnoToStatus(errno, "eventfd");
  e.ping_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (e.ping_fd_ < 0) return absl::ErrnoToStatus(errno, "eventfd");
  {
    absl::MutexLock lock(&e.shared_.mu);
    e.shared_.model.set_state_db(e.options_.redis_enabled);
    (void)e.shared_.model.SetSelection(e.options_.selection, absl::InfinitePast());  // empty
  }
  if (e.options_.redis_enabled && e.options_.keyspace_notifications) {
    e.tracker_ = std::make_unique<WriteTracker>();
    e.tracker_->SetSelection(e.options_.selection);
  }
  e.startup_ =
      std::make_unique<Startup>(e.options_, e.endpoints_, e.shared_, e.counters_, e.connector_);
  e.shared_.direct.set_engine_wake_fd(e.ping_fd_);
  e.follower_ = std::make_unique<KernelFollower>(
      e.options_, e.shared_, e.counters_, e.wake_fd_, e.ping_fd_, e.stopping_,
      absl::StrCat(kPortTable, e.endpoints_.state.separator), e.tracker_.get(),
      *e.environment_.clock);
  e.writer_ = std::make_unique<StateWriter>(e.options_, e.endpoints_, e.shared_, e.counters_,
                                            e.connector_, *e.environment_.clock, e.tracker_.get());
  return engine;
}

void Engine::Stop() {
  if (stopping_.exchange(true)) return;
  const uint64_t one = 1;
  if (wake_fd_ >= 0) {
    ssize_t ignored = write(wake_fd_, &one, sizeof(one));
    (void)ignored;
  }
  // The writer is stopped by Run() once the engine thread has left its loop and handed back
  // the direct connection's batch in flight, so the writer's last flush includes it.
}

void Engine::Ping() {
  const uint64_t one = 1;
  ssize_t ignored = write(ping_fd_, &one, sizeof(one));
  (void)ignored;
}

void Engine::SetPortSelection(PortSelection selection) {
  std::vector<std::string> removed;
  bool narrower = false;
  const std::string now_following = selection.Describe();
  std::string was_following;
  {
    absl::MutexLock lock(&shared_.mu);
    if (shared_.model.selection() == selection) return;
    // A set that can only have shrunk takes in nothing: the model knows all it keeps.
    narrower = selection.SelectsNoMoreThan(shared_.model.selection());
    was_following = shared_.model.selection().Describe();
    if (tracker_) tracker_->SetSelection(selection);
    removed = shared_.model.SetSelection(std::move(selection), environment_.clock->Now());
    shared_.PublishChangesLocked();
  }
  // Logged after the lock (engine.h: the model's lock is never held across I/O).
  LOG_NOTICE("ports: now following ", now_following, " (was ", was_following, ")",
             narrower ? "" : "; re-reading every link from the kernel");
  if (!removed.empty()) {
    LOG_NOTICE("ports: ", removed.size(), " no longer followed: ", absl::StrJoin(removed, " "));
  }
  if (!narrower) {
    // Netdevs the new set takes in are known only to the kernel: ask it for every link again.
    follower_->RequestDump();
    Ping();
  }
  shared_.writer.Wake();  // the deselected ports' deletes; PortInitDone, when they were pending
  shared_.NotifyStateChange();
}

void Engine::WithModel(absl::FunctionRef<void(const PortModel&)> fn) const {
  absl::MutexLock lock(&shared_.mu);
  fn(shared_.model);
}

EngineStatus Engine::status() const {
  EngineStatus s;
  s.redis_enabled = options_.redis_enabled;
  s.start_decided = start_decided();
  s.start_mode = start_mode();
  s.startup_waiting_for = startup_waiting_for();
  s.redis_connected = redis_connected();
  s.redis_since = redis_since();
  s.keyspace_active = keyspace_active();
  s.initial_sync_done = initial_sync_done();
  s.initial_sync_time = initial_sync_time();
  s.initial_write_done = initial_write_done();
  s.port_init_done = port_init_done();
  s.port_init_done_time = port_init_done_time();
  s.netlink_receive_buffer = netlink_receive_buffer();
  {
    absl::MutexLock lock(&shared_.mu);
    s.merged_writes = shared_.model.merged_writes();
    s.netdev_renames = shared_.model.renames();
    s.selection = shared_.model.selection().Describe();
  }
  return s;
}

bool Engine::SleepUnlessStopped(absl::Duration d) {
  pollfd pfd{wake_fd_, POLLIN, 0};
  poll(&pfd, 1, static_cast<int>(absl::ToInt64Milliseconds(d)));
  return stopping_.load();
}

absl::Status Engine::Run() {
  NetlinkSocket::Options netlink_options;
  netlink_options.receive_buffer_bytes = options_.netlink_receive_buffer_bytes;
  ASSIGN_OR_RETURN(netlink_, environment_.open_links(netlink_options));
  netlink_receive_buffer_.store(netlink_->effective_receive_buffer());
  LOG_INFO("netlink: receive buffer ", netlink_->effective_receive_buffer(), " bytes",
           netlink_->receive_buffer_forced() ? " (SO_RCVBUFFORCE)"
                                             : " (SO_RCVBUF, capped by net.core.rmem_max)");
  if (stopping_.load()) return absl::OkStatus();
  if (!options_.redis_enabled) {
    LOG_NOTICE("host mode: no SONiC database; following ", options_.selection.Describe(),
               " for the API alone");
    return follower_->Run(*netlink_);
  }
  // Startup runs on a thread of its own. Once it has decided a start that sets no interface
  // down (not a cold start), the engine thread follows the kernel meanwhile: the link dump
  // overlaps startup's reads of CONFIG_DB and APPL_DB, and its model load lands between two
  // batches of the dump (the model takes either order: a netdev known before its APPL_DB entry
  // is written once the entry is known). A cold start first sets the old interfaces down, so
  // the dump waits for it. STATE_DB is written only once startup is done: the model knows which
  // ports APPL_DB has, and which PortInitDone waits for. Then the same thread goes on as the
  // writer: glibc gives each thread a heap arena, and startup's (its replies, 100,000 keys of
  // each table, freed) is reused by the writer's batches rather than left beside the model's
  // ports it loaded while a new thread grows another (measured: ~85 bytes per port more after
  // a cold start with a separate writer thread).
  startup_->set_on_decided([this](StartMode mode) {
    if (mode != StartMode::kCold) AllowFollowing();
  });
  absl::Status startup_status;
  std::thread startup_then_writer([this, &startup_status] {
    SetThreadName("ps-startup");
    startup_status = startup_->Run(
        *netlink_, [this] { follower_->Heartbeat(); },
        [this](absl::Duration d) { return SleepUnlessStopped(d); });
    if (!startup_status.ok()) Stop();  // what waiting cannot fix: Run() returns it
    const bool write = startup_status.ok() && !stopping_.load();
    if (write) StartWatching();
    AllowFollowing();
    if (!write) return;
    SetThreadName("ps-writer");
    writer_->Run();  // until Run() below stops it
  });
  {
    absl::MutexLock lock(&follow_mu_);
    follow_mu_.Await(absl::Condition(&may_follow_));
  }
  absl::Status status = stopping_.load() ? absl::OkStatus() : follower_->Run(*netlink_);
  // The engine thread has left its loop and handed back its batch in flight: the writer's last
  // flush includes it. (Stopped before startup ended, the thread never writes.)
  shared_.writer.Stop();
  startup_then_writer.join();
  if (watcher_) watcher_->Stop();
  writer_->set_keyspace_active(false);
  RETURN_IF_ERROR(startup_status);
  return status;
}

void Engine::AllowFollowing() {
  absl::MutexLock lock(&follow_mu_);
  may_follow_ = true;
}

void Engine::StartWatching() {
  writer_->set_logger_level_seen(startup_->logger_level_seen());
  if (!tracker_) return;
  const DbEndpoints& e = endpoints_;
  std::vector<KeyspaceWatch> watches;
  watches.push_back(
      {e.state, absl::StrCat(kPortTable, e.state.separator), static_cast<int>(WatchTag::kState)});
  watches.push_back(
      {e.appl, absl::StrCat(kPortTable, e.appl.separator), static_cast<int>(WatchTag::kAppl)});
  watches.push_back({e.config, absl::StrCat(kLoggerTable, e.config.separator, "portsyncd"),
                     static_cast<int>(WatchTag::kLogger)});
  KeyspaceWatcher::Options watch_options;
  watch_options.timeout = options_.redis_timeout;
  watch_options.reconnect_initial = options_.reconnect_initial;
  watch_options.reconnect_max = options_.reconnect_max;
  // Blind for at most the backstop period: recheck the server's setting as often (and no
  // more: idle, the recheck and the backstop audit are the only wake-ups of our threads).
  watch_options.recheck_interval = options_.audit_interval_notified;
  watch_options.coalesce = options_.keyspace_coalesce;
  watch_options.clock = environment_.clock;
  KeyspaceListener* listener = this;  // a private base: convertible here only
  watcher_ = std::make_unique<KeyspaceWatcher>(std::move(watches), listener, watch_options);
  watcher_->Start();
}

void Engine::OnKeyspaceEvent(int tag, absl::string_view key_suffix, absl::string_view event) {
  counters_.keyspace_events.fetch_add(1);
  switch (tracker_->OnEvent(static_cast<WatchTag>(tag), key_suffix, event)) {
    case WriteTracker::Verdict::kIgnored:
    case WriteTracker::Verdict::kOurs:
      return;
    case WriteTracker::Verdict::kSuspect:
      counters_.keyspace_checks.fetch_add(1);
      break;
    case WriteTracker::Verdict::kAppl:
    case WriteTracker::Verdict::kLogger:
      break;
  }
  shared_.writer.Wake();
}

void Engine::OnKeyspaceActive(bool active, absl::string_view why) {
  writer_->set_keyspace_active(active);
  if (active) {
    LOG_NOTICE(
        "keyspace notifications: subscribed; APPL_DB entries, changes to our STATE_DB "
        "keys and LOGGER are seen as they happen; full audit every ",
        absl::FormatDuration(options_.audit_interval_notified));
    tracker_->OnSubscribed();
  } else {
    LOG_NOTICE("keyspace notifications: not in use (", why, "); polling: audit every ",
               absl::FormatDuration(options_.audit_interval), ", APPL_DB every ",
               absl::FormatDuration(options_.pending_poll_interval));
  }
  shared_.writer.Wake();  // the timers changed
  shared_.NotifyStateChange();
}

}  // namespace portsyncd
