#include "core/engine.h"

#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "core/logging.h"
#include "core/netlink_parser.h"
#include "core/netlink_socket.h"
#include "core/redis_connection.h"
#include "core/sonic_tables.h"
#include "core/status_macros.h"

namespace portsyncd {
namespace {

// A refused PortInitDone (an error reply) is tried again this much later.
constexpr absl::Duration kPortInitDoneRetry = absl::Seconds(1);

// Datagrams read per engine iteration: bounds how long the model lock is held and how big one
// Redis batch gets (~64 x up to 32 KiB); the rest is read in the next iteration.
constexpr int kMaxDatagramsPerBatch = 64;

constexpr char kRestartMarker[] = "portsyncd.started";

std::string RestartMarkerPath(const std::string& runtime_dir) {
  return absl::StrCat(runtime_dir, "/", kRestartMarker);
}

}  // namespace

std::string EngineCounters::Summary() const {
  return absl::StrCat(
      "netlink_messages=", netlink_messages.load(),
      " netlink_parse_errors=", netlink_parse_errors.load(),
      " netlink_overflows=", netlink_overflows.load(), " netlink_dumps=", netlink_dumps.load(),
      " ports_removed_by_resync=", ports_removed_by_resync.load(),
      " state_db_batches=", state_db_batches.load(), " state_db_writes=", state_db_writes.load(),
      " state_db_deletes=", state_db_deletes.load(), " redis_connects=", redis_connects.load(),
      " redis_errors=", redis_errors.load(), " reconciles=", reconciles.load(),
      " drift_repairs=", drift_repairs.load(), " old_interfaces=", old_interfaces.load(),
      " keyspace_events=", keyspace_events.load(), " keyspace_checks=", keyspace_checks.load());
}

namespace {
// KeyspaceWatch tags.
constexpr int kWatchState = 1;   // STATE_DB PORT_TABLE
constexpr int kWatchAppl = 2;    // APPL_DB PORT_TABLE
constexpr int kWatchLogger = 3;  // CONFIG_DB LOGGER|portsyncd

// Uses up one expected notification for `name`; false when none was expected.
bool ConsumeExpectation(absl::flat_hash_map<std::string, uint32_t>& expected,
                        absl::string_view name) {
  auto it = expected.find(name);
  if (it == expected.end()) return false;
  if (--it->second == 0) expected.erase(it);
  return true;
}

// A DEL that Redis refused or that found no key notifies nothing.
bool DelNotifiedNothing(const RedisReply& reply) {
  return reply.is_error() || (reply.type == RedisReply::Type::kInteger && reply.integer == 0);
}
}  // namespace

struct Engine::Connections {
  std::unique_ptr<RedisConnection> config;
  std::unique_ptr<RedisConnection> appl;
  std::unique_ptr<RedisConnection> state;
  bool broken() const { return config->broken() || appl->broken() || state->broken(); }
};

Engine::Engine(EngineOptions options, DbConfig db_config)
    : options_(std::move(options)), db_config_(std::move(db_config)) {}

Engine::~Engine() {
  Stop();
  if (writer_.joinable()) writer_.join();
  if (watcher_) watcher_->Stop();
  if (wake_fd_ >= 0) close(wake_fd_);
  if (ping_fd_ >= 0) close(ping_fd_);
}

absl::StatusOr<std::unique_ptr<Engine>> Engine::Create(EngineOptions options) {
  ASSIGN_OR_RETURN(DbConfig db_config, DbConfig::Load(options.db_config_path));
  auto engine = std::unique_ptr<Engine>(new Engine(std::move(options), std::move(db_config)));
  engine->wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (engine->wake_fd_ < 0) return absl::ErrnoToStatus(errno, "eventfd");
  engine->ping_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (engine->ping_fd_ < 0) return absl::ErrnoToStatus(errno, "eventfd");
  return engine;
}

void Engine::Stop() {
  if (stopping_.exchange(true)) return;
  const uint64_t one = 1;
  if (wake_fd_ >= 0) {
    ssize_t ignored = write(wake_fd_, &one, sizeof(one));
    (void)ignored;
  }
  absl::MutexLock lock(&mu_);
  writer_stop_ = true;
}

void Engine::Ping() {
  const uint64_t one = 1;
  ssize_t ignored = write(ping_fd_, &one, sizeof(one));
  (void)ignored;
}

void Engine::WithModel(absl::FunctionRef<void(const PortModel&)> fn) const {
  absl::MutexLock lock(&mu_);
  fn(model_);
}

bool Engine::SleepUnlessStopped(absl::Duration d) {
  pollfd pfd{wake_fd_, POLLIN, 0};
  poll(&pfd, 1, static_cast<int>(absl::ToInt64Milliseconds(d)));
  return stopping_.load();
}

absl::StatusOr<std::unique_ptr<Engine::Connections>> Engine::Connect() {
  auto db = std::make_unique<Connections>();
  ASSIGN_OR_RETURN(DbEndpoint config, db_config_.Endpoint("CONFIG_DB"));
  ASSIGN_OR_RETURN(DbEndpoint appl, db_config_.Endpoint("APPL_DB"));
  ASSIGN_OR_RETURN(DbEndpoint state, db_config_.Endpoint("STATE_DB"));
  ASSIGN_OR_RETURN(db->config, RedisConnection::Connect(config, options_.redis_timeout));
  ASSIGN_OR_RETURN(db->appl, RedisConnection::Connect(appl, options_.redis_timeout));
  ASSIGN_OR_RETURN(db->state, RedisConnection::Connect(state, options_.redis_timeout));
  counters_.redis_connects.fetch_add(1);
  LOG_INFO("redis: connected to ", config.Describe(), ", ", appl.Describe(), ", ",
           state.Describe());
  return db;
}

// ---------------------------------------------------------------------------------------------
// Startup (engine thread)

absl::Status Engine::Run() {
  NetlinkSocket::Options netlink_options;
  netlink_options.receive_buffer_bytes = options_.netlink_receive_buffer_bytes;
  ASSIGN_OR_RETURN(netlink_, NetlinkSocket::Create(netlink_options));
  netlink_receive_buffer_.store(netlink_->effective_receive_buffer());
  LOG_INFO("netlink: receive buffer ", netlink_->effective_receive_buffer(), " bytes",
           netlink_->receive_buffer_forced() ? " (SO_RCVBUFFORCE)"
                                             : " (SO_RCVBUF, capped by net.core.rmem_max)");
  RETURN_IF_ERROR(Startup());
  if (stopping_.load()) return absl::OkStatus();
  if (options_.keyspace_notifications) {
    std::vector<KeyspaceWatch> watches;
    ASSIGN_OR_RETURN(DbEndpoint state, db_config_.Endpoint("STATE_DB"));
    ASSIGN_OR_RETURN(DbEndpoint appl, db_config_.Endpoint("APPL_DB"));
    ASSIGN_OR_RETURN(DbEndpoint config, db_config_.Endpoint("CONFIG_DB"));
    watches.push_back({state, absl::StrCat(kPortTable, state.separator), kWatchState});
    watches.push_back({appl, absl::StrCat(kPortTable, appl.separator), kWatchAppl});
    watches.push_back(
        {config, absl::StrCat(kLoggerTable, config.separator, "portsyncd"), kWatchLogger});
    KeyspaceWatcher::Options watch_options;
    watch_options.timeout = options_.redis_timeout;
    watch_options.reconnect_initial = options_.reconnect_initial;
    watch_options.reconnect_max = options_.reconnect_max;
    // Blind for at most the backstop period: recheck the server's setting as often.
    watch_options.recheck_interval =
        std::min(watch_options.recheck_interval, options_.audit_interval_notified);
    KeyspaceListener* listener = this;  // a private base: convertible here only
    watcher_ = std::make_unique<KeyspaceWatcher>(std::move(watches), listener, watch_options);
    watcher_->Start();
  }
  writer_ = std::thread([this] { WriterLoop(); });
  absl::Status status = EventLoop();
  {
    absl::MutexLock lock(&mu_);
    writer_stop_ = true;
  }
  writer_.join();
  if (watcher_) watcher_->Stop();
  keyspace_active_.store(false);
  return status;
}

absl::Status Engine::Startup() {
  absl::Duration backoff = options_.reconnect_initial;
  LogRateLimiter limiter(10.0);
  const absl::Time began = absl::Now();
  StartupProgress progress;
  while (!stopping_.load()) {
    // Waiting for Redis is progress too (each pass is at most reconnect_max apart).
    heartbeat_ns_.store(absl::ToUnixNanos(absl::Now()));
    absl::StatusOr<std::unique_ptr<Connections>> db = Connect();
    absl::Status status = db.ok() ? TryStartup(**db, progress) : db.status();
    {
      absl::MutexLock lock(&startup_mu_);
      startup_waiting_for_ = status.ok() ? "" : std::string(status.message());
    }
    if (status.ok()) return absl::OkStatus();
    if (status.code() != absl::StatusCode::kUnavailable &&
        status.code() != absl::StatusCode::kInternal) {
      return status;  // not something waiting fixes
    }
    counters_.redis_errors.fetch_add(1);
    if (limiter.Allow()) {
      LOG_WARN("startup: waiting for Redis (",
               absl::FormatDuration(absl::Trunc(absl::Now() - began, absl::Seconds(1))),
               " so far): ", status.message(), "; retrying every ",
               absl::FormatDuration(options_.reconnect_max), " at most");
    }
    if (SleepUnlessStopped(backoff)) break;
    backoff = std::min(backoff * 2, options_.reconnect_max);
  }
  return absl::OkStatus();
}

absl::Status Engine::TryStartup(Connections& db, StartupProgress& progress) {
  // Reads first, writes after, and every write guarded by `progress`, so a retry after a Redis
  // failure halfway through neither counts a warm restart twice nor re-derives the pending set
  // from APPL_DB entries that orchagent made out of our own publication.

  // 1. switch_type.
  ASSIGN_OR_RETURN(RedisReply switch_type,
                   db.config->Command(
                       {"HGET", db.config->Key(kDeviceMetadataTable, "localhost"), "switch_type"}));
  const bool is_dpu = switch_type.str == "dpu";

  // 2. Warm restart (docs/COMPATIBILITY.md 4) and a restart of the daemon alone (7.7): decided
  // once, from what Redis and the runtime directory say (core/start_decision.h).
  const std::string warm_key = db.state->Key(kWarmRestartTable, "portsyncd");
  const std::string marker = RestartMarkerPath(options_.runtime_dir);
  if (!progress.decision) {
    StartEvidence evidence;
    RedisArgv system = {"HGET", db.state->Key(kWarmRestartEnableTable, "system"), "enable"};
    RedisArgv swss = {"HGET", db.state->Key(kWarmRestartEnableTable, "swss"), "enable"};
    RedisArgv count = {"HGET", warm_key, "restore_count"};
    // An error reply (a key of the wrong type) reads as absent, as upstream's does.
    ASSIGN_OR_RETURN(std::vector<RedisReply> warm, db.state->Pipeline({system, swss, count}));
    evidence.warm_requested = warm[0].str == "true" || warm[1].str == "true";
    int64_t restore_count = 0;
    if (!warm[2].is_nil() && absl::SimpleAtoi(warm[2].str, &restore_count)) {
      evidence.restore_count = restore_count;
    }
    const std::string consumed = db.appl->Key(kPortTable, "PortConfigDone");
    RedisArgv staged_exists = {"EXISTS", absl::StrCat("_", consumed)};
    RedisArgv consumed_exists = {"EXISTS", consumed};
    ASSIGN_OR_RETURN(std::vector<RedisReply> done,
                     db.appl->Pipeline({staged_exists, consumed_exists}));
    RETURN_IF_ERROR(CheckReplies({staged_exists, consumed_exists}, done));
    evidence.port_config_done_staged = done[0].integer == 1;
    evidence.port_config_done_consumed = done[1].integer == 1;
    evidence.marker = access(marker.c_str(), F_OK) == 0;
    progress.decision = DecideStart(evidence);
    LOG_NOTICE("start rule: ", progress.decision->reason);
  }
  const StartMode mode = progress.decision->mode;
  const bool cold = mode == StartMode::kCold;
  start_mode_.store(mode);
  start_decided_.store(true);

  // Logging (docs/COMPATIBILITY.md 5).
  const std::string logger_key = db.config->Key(kLoggerTable, "portsyncd");
  ASSIGN_OR_RETURN(RedisReply logger,
                   db.config->Command({"HMGET", logger_key, "LOGLEVEL", "LOGOUTPUT"}));
  const bool logger_complete =
      logger.elements.size() == 2 && !logger.elements[0].is_nil() && !logger.elements[1].is_nil();

  // 4. CONFIG_DB PORT table -> pending set.
  const std::string config_prefix = db.config->Key(kConfigPortTable, "");
  ASSIGN_OR_RETURN(std::vector<std::string> config_keys,
                   ScanKeys(*db.config, absl::StrCat(config_prefix, "*")));
  std::vector<RedisArgv> reads;
  for (const std::string& key : config_keys) reads.push_back({"HGETALL", key});
  ASSIGN_OR_RETURN(std::vector<RedisReply> hashes, db.config->Pipeline(reads));
  RETURN_IF_ERROR(CheckReplies(reads, hashes));
  std::vector<std::string> config_ports;
  for (const std::string& key : config_keys) {
    std::string name = key.substr(config_prefix.size());
    if (name.size() > kMaxInterfaceNameLength) {
      LOG_ERROR("CONFIG_DB ", key, ": port name is ", name.size(),
                " bytes, longer than the kernel's ", kMaxInterfaceNameLength,
                "-byte limit; no netdev can have it, so PortInitDone will not wait for it. "
                "Rename the port in CONFIG_DB.");
      continue;
    }
    config_ports.push_back(std::move(name));
  }

  // 5. Cold start: ports orchagent already configured are not pending. Checked before our own
  // publication below (upstream checks after it, racing with orchagent consuming it), and only
  // on the first attempt.
  if (cold && !progress.configured) {
    std::vector<RedisArgv> checks;
    for (const std::string& name : config_ports) {
      checks.push_back({"HEXISTS", db.appl->Key(kPortTable, name), "admin_status"});
    }
    ASSIGN_OR_RETURN(std::vector<RedisReply> replies, db.appl->Pipeline(checks));
    RETURN_IF_ERROR(CheckReplies(checks, replies));
    progress.configured.emplace();
    for (size_t i = 0; i < replies.size(); ++i) {
      if (replies[i].integer == 1) progress.configured->insert(config_ports[i]);
    }
  }

  // APPL_DB membership, held in memory from now on (docs/COMPATIBILITY.md 7.4).
  const std::string appl_prefix = db.appl->Key(kPortTable, "");
  ASSIGN_OR_RETURN(std::vector<std::string> appl_keys,
                   ScanKeys(*db.appl, absl::StrCat(appl_prefix, "*")));

  // Writes.
  if (!logger_complete) {
    RedisArgv set = {"HSET", logger_key, "LOGLEVEL", "NOTICE", "LOGOUTPUT", "SYSLOG"};
    ASSIGN_OR_RETURN(RedisReply reply, db.config->Command(set));
    RETURN_IF_ERROR(CheckReplies({set}, {reply}));
  } else if (options_.apply_db_log_level_at_start) {
    // swssloglevel's setting survives our restarts, as it does upstream's.
    if (std::optional<LogLevel> level = ParseLogLevel(logger.elements[0].str)) {
      SetLogLevel(*level);
    }
  }
  logger_level_seen_ = logger_complete ? logger.elements[0].str : "NOTICE";
  if (progress.decision->restore_count) {
    RedisArgv set = {"HSET", warm_key, "restore_count", *progress.decision->restore_count};
    ASSIGN_OR_RETURN(RedisReply reply, db.state->Command(set));
    RETURN_IF_ERROR(CheckReplies({set}, {reply}));
  }
  // 6. Cold start, not a DPU: existing Ethernet netdevs are old interfaces. Before our
  // publication, so no netdev orchagent creates in answer to it can be taken for an old one, and
  // before the restart marker, so a crash cannot leave an old interface up and then followed.
  // Done once: a retried startup keeps the list.
  if (cold && !is_dpu && !progress.old_interfaces) {
    ASSIGN_OR_RETURN(std::vector<LinkEvent> links, netlink_->ListLinks());
    if (const uint64_t bad = netlink_->malformed_messages(); bad > 0) {
      counters_.netlink_parse_errors.fetch_add(bad);
      LOG_ERROR("old interfaces: ", bad,
                " malformed link messages in the kernel's list were skipped");
    }
    progress.old_interfaces.emplace();
    for (const LinkEvent& link : links) {
      if (!absl::StartsWith(link.name, "Ethernet")) continue;
      absl::Status down = netlink_->SetAdminDown(link.ifindex);
      if (!down.ok()) {
        LOG_ERROR("old interface ", link.name, " (ifindex ", link.ifindex,
                  "): cannot set admin down: ", down.message());
      }
      progress.old_interfaces->emplace_back(link.ifindex, link.name);
    }
  }
  const std::vector<std::pair<int32_t, std::string>> old_interfaces =
      progress.old_interfaces.value_or(std::vector<std::pair<int32_t, std::string>>{});

  if (cold && !progress.appl_published) {
    const DbEndpoint& appl = db.appl->endpoint();
    std::vector<RedisArgv> writes;
    for (size_t i = 0; i < config_keys.size(); ++i) {
      FieldValues fields;
      for (size_t j = 0; j + 1 < hashes[i].elements.size(); j += 2) {
        fields.emplace_back(hashes[i].elements[j].str, hashes[i].elements[j + 1].str);
      }
      writes.push_back(ProducerStateSet(kPortTable, appl.separator, appl.id,
                                        config_keys[i].substr(config_prefix.size()), fields));
    }
    writes.push_back(ProducerStateSet(kPortTable, appl.separator, appl.id, "PortConfigDone",
                                      {{"count", absl::StrCat(config_keys.size())}}));
    ASSIGN_OR_RETURN(std::vector<RedisReply> replies, db.appl->Pipeline(writes));
    RETURN_IF_ERROR(CheckReplies(writes, replies));
    progress.appl_published = true;
  }

  // The restart marker, as soon as PortConfigDone is out (a cold start) or the start is decided
  // (the others): a crash from here on is a restart of the daemon alone. It outlives every exit
  // on purpose; alone it decides nothing (see core/start_decision.h).
  if (mkdir(options_.runtime_dir.c_str(), 0755) != 0 && errno != EEXIST) {
    LOG_WARN("cannot create runtime directory ", options_.runtime_dir, ": ", std::strerror(errno),
             "; a restart of portsyncd will be taken for a fresh start");
  } else if (!std::ofstream(marker).good()) {
    LOG_WARN("cannot write restart marker ", marker,
             "; a restart of portsyncd will be taken for a fresh start");
  }

  {
    absl::MutexLock lock(&mu_);
    for (const std::string& name : config_ports) {
      model_.AddConfigPort(name);
      if (progress.configured && progress.configured->contains(name)) {
        model_.RemoveFromPending(name);
      }
    }
    for (const std::string& key : appl_keys) {
      // Not PortConfigDone / PortInitDone (consumed by orchagent, they stay in PORT_TABLE).
      std::string name = key.substr(appl_prefix.size());
      if (PortModel::IsPortName(name)) model_.SetInApplDb(name);
    }
    for (const auto& [ifindex, name] : old_interfaces) model_.AddOldInterface(ifindex, name);
  }
  counters_.old_interfaces.store(old_interfaces.size());

  LOG_NOTICE("startup: ", StartModeName(mode), " start", is_dpu ? " (switch_type dpu)" : "", ", ",
             config_keys.size(), " CONFIG_DB ports, ", appl_keys.size(), " APPL_DB ports, ",
             old_interfaces.size(), " old interfaces set down");
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// Event loop (engine thread)

void Engine::StartDump() {
  absl::StatusOr<uint32_t> seq = netlink_->RequestDump();
  const absl::Time now = absl::Now();
  if (!seq.ok()) {
    if (dump_error_log_.Allow()) {
      LOG_ERROR("cannot request a link dump: ", seq.status().message(), "; retrying");
    }
    return;
  }
  dump_seq_ = *seq;
  dump_interrupted_ = false;
  dump_activity_ = now;
  counters_.netlink_dumps.fetch_add(1);
  absl::MutexLock lock(&mu_);
  model_.BeginDump();
}

absl::Status Engine::EventLoop() {
  StartDump();
  bool need_redump = dump_seq_ == 0;
  while (!stopping_.load()) {
    pollfd fds[3] = {{netlink_->fd(), POLLIN, 0}, {wake_fd_, POLLIN, 0}, {ping_fd_, POLLIN, 0}};
    // Wake up without traffic only to retry a dump request, or to notice a dump that stalled.
    const int timeout_ms = dump_seq_ != 0 ? 1000 : need_redump ? 100 : -1;
    if (poll(fds, 3, timeout_ms) < 0 && errno != EINTR) {
      return absl::ErrnoToStatus(errno, "poll");
    }
    if (stopping_.load()) break;
    while (!options_.test_stall_file.empty() &&
           access(options_.test_stall_file.c_str(), F_OK) == 0 && !stopping_.load()) {
      absl::SleepFor(absl::Milliseconds(20));
    }
    if ((fds[2].revents & POLLIN) != 0) {
      uint64_t pings = 0;
      ssize_t ignored = read(ping_fd_, &pings, sizeof(pings));
      (void)ignored;
    }
    heartbeat_ns_.store(absl::ToUnixNanos(absl::Now()));
    bool dump_done = false;
    ProcessNetlink(dump_done, need_redump);
    if (dump_done) {
      // An interrupted dump (NLM_F_DUMP_INTR, an error in NLMSG_DONE, or an overflow while it
      // ran, which may have lost a NEWLINK of a port it had already passed) cannot tell which
      // ports are gone: only a complete one removes ports and counts as the initial sync.
      const bool complete = !dump_interrupted_;
      std::vector<std::string> removed;
      {
        absl::MutexLock lock(&mu_);
        removed = model_.EndDump(absl::Now(), complete);
        writer_wake_ = true;  // rewrite after a resync; the initial reconcile; PortInitDone
        if (complete && !initial_dump_done_) {
          initial_dump_done_ = true;
          initial_sync_ns_.store(absl::ToUnixNanos(absl::Now()));
          initial_sync_done_.store(true);
        }
        PublishChangesLocked();
      }
      counters_.ports_removed_by_resync.fetch_add(removed.size());
      if (!removed.empty()) {
        LOG_NOTICE("resync: ", removed.size(),
                   " ports no longer in the kernel: ", absl::StrJoin(removed, " "));
      }
      if (!complete) need_redump = true;
      dump_seq_ = 0;
    } else if (dump_seq_ != 0 && absl::Now() - dump_activity_ > absl::Seconds(5)) {
      LOG_WARN("link dump sent nothing for 5 s; requesting a new one");
      {
        absl::MutexLock lock(&mu_);
        (void)model_.EndDump(absl::Now(), /*complete=*/false);
      }
      dump_seq_ = 0;
      need_redump = true;
    }
    if (need_redump && dump_seq_ == 0) {
      StartDump();
      need_redump = dump_seq_ == 0;
    }
  }
  return absl::OkStatus();
}

void Engine::ProcessNetlink(bool& dump_done, bool& need_redump) {
  const absl::Time now = absl::Now();
  absl::MutexLock lock(&mu_);
  // ReadAvailable calls the callback synchronously, with mu_ still held (the annotation tells
  // clang's -Wthread-safety, which does not follow a lambda into its caller).
  absl::StatusOr<NetlinkSocket::ReadResult> result = netlink_->ReadAvailable(
      [&](const nlmsghdr* nlh) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        const bool from_dump = dump_seq_ != 0 && nlh->nlmsg_seq == dump_seq_;
        if (from_dump) {
          dump_activity_ = now;
          if ((nlh->nlmsg_flags & NLM_F_DUMP_INTR) != 0) dump_interrupted_ = true;
        }
        switch (nlh->nlmsg_type) {
          case NLMSG_DONE:
            if (from_dump) {
              // NLMSG_DONE carries an int: negative when the dump ended early.
              if (nlh->nlmsg_len >= NLMSG_LENGTH(sizeof(int)) &&
                  *static_cast<const int*>(NLMSG_DATA(nlh)) < 0) {
                dump_interrupted_ = true;
              }
              dump_done = true;
            }
            return;
          case NLMSG_ERROR:
            if (from_dump) {
              const auto* err = static_cast<const nlmsgerr*>(NLMSG_DATA(nlh));
              LOG_WARN("link dump refused: ", std::strerror(-err->error), "; retrying");
              dump_seq_ = 0;
              need_redump = true;
            }
            return;
          case RTM_NEWLINK:
          case RTM_DELLINK:
            break;
          default:
            return;
        }
        counters_.netlink_messages.fetch_add(1, std::memory_order_relaxed);
        (nlh->nlmsg_type == RTM_NEWLINK ? counters_.netlink_newlinks : counters_.netlink_dellinks)
            .fetch_add(1, std::memory_order_relaxed);
        absl::StatusOr<LinkEvent> event = ParseLinkMessage(nlh);
        if (!event.ok()) {
          counters_.netlink_parse_errors.fetch_add(1);
          if (uint64_t unlogged = 0; parse_error_log_.Allow(&unlogged)) {
            LOG_ERROR("netlink: skipped a malformed link message: ", event.status().message(), " (",
                      unlogged, " more since the last report)");
          }
          return;
        }
        const ApplyOutcome outcome = model_.Apply(*event, now);
        LOG_DEBUG("netlink: ", event->type == LinkEvent::Type::kNewLink ? "NEWLINK " : "DELLINK ",
                  event->name, " ifindex ", event->ifindex, " flags 0x", absl::Hex(event->flags),
                  " mtu ", event->mtu, " master ", event->master, ": ", ApplyOutcomeName(outcome));
      },
      kMaxDatagramsPerBatch);
  PublishChangesLocked();
  // Datagram bytes that formed no whole message (the socket never passes them on): malformed.
  if (const uint64_t bad = netlink_->malformed_headers(); bad != malformed_headers_seen_) {
    counters_.netlink_parse_errors.fetch_add(bad - malformed_headers_seen_);
    if (uint64_t unlogged = 0; parse_error_log_.Allow(&unlogged)) {
      LOG_ERROR("netlink: ", bad - malformed_headers_seen_,
                " datagram(s) ended in bytes that form no whole message; skipped (", unlogged,
                " more malformed since the last report)");
    }
    malformed_headers_seen_ = bad;
  }
  // Wake the writer in the same critical section, and only when messages arrived: a ping or a
  // dump-retry timeout has nothing for it.
  if (result.ok() && result->messages > 0) writer_wake_ = true;
  if (!result.ok()) {
    LOG_ERROR("netlink: ", result.status().message());
    return;
  }
  if (result->overflow) {
    counters_.netlink_overflows.fetch_add(1);
    LOG_WARN("netlink: receive buffer overflowed (", netlink_->effective_receive_buffer(),
             " bytes); link events were lost, re-reading every link from the kernel");
    need_redump = true;
    if (dump_seq_ != 0) dump_interrupted_ = true;  // redo the dump that was running
  }
}

void Engine::PublishChangesLocked() {
  std::vector<PortChange> changes = model_.TakeChanges();
  if (listener_ != nullptr && !changes.empty())
    listener_->OnPortChanges(model_, std::move(changes));
}

void Engine::SetRedisConnected(bool connected) {
  if (redis_connected_.exchange(connected) != connected) {
    redis_since_ns_.store(absl::ToUnixNanos(absl::Now()));
  }
}

uint64_t Engine::merged_writes() const {
  absl::MutexLock lock(&mu_);
  return model_.merged_writes();
}

uint64_t Engine::netdev_renames() const {
  absl::MutexLock lock(&mu_);
  return model_.renames();
}

std::string Engine::startup_waiting_for() const {
  absl::MutexLock lock(&startup_mu_);
  return startup_waiting_for_;
}

int Engine::netlink_receive_buffer() const { return netlink_receive_buffer_.load(); }

// ---------------------------------------------------------------------------------------------
// Writer thread

void Engine::WriterLoop() {
  std::unique_ptr<Connections> db;
  absl::Duration backoff = options_.reconnect_initial;
  absl::Time next_connect = absl::InfinitePast();
  absl::Time down_since = absl::InfinitePast();
  LogRateLimiter down_log(10.0);
  LogRateLimiter refused_log(10.0);
  bool need_reconcile = true;  // the first pass after the initial dump removes stale keys
  // When a reconcile Redis refused (an error reply) is tried again: at the audit's period, so a
  // key of the wrong type costs one refusal per period, never a retry loop.
  absl::Time reconcile_at = absl::InfinitePast();
  bool healthy = false;  // the current connection has completed a tick

  while (true) {
    bool stop = false;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]()
                       ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return writer_wake_ || writer_stop_; };
      // Sleep until woken or the next timer is due; nothing is due before the initial dump,
      // and the APPL_DB poll only while some port waits for APPL_DB. Idle, that leaves the
      // LOGGER poll (1 s) and the audit (5 s), or with keyspace notifications on, the backstop
      // (60 s).
      absl::Time deadline = absl::InfiniteFuture();
      if (initial_dump_done_) {
        deadline = db ? std::min(last_audit_ + Backstop(options_.audit_interval),
                                 last_logger_poll_ + Backstop(options_.logger_poll_interval))
                      : next_connect;
        if (db && need_reconcile) deadline = std::min(deadline, reconcile_at);
        if (db && !port_init_done_sent_ && model_.pending_empty()) {
          deadline = std::min(deadline, port_init_done_retry_at_);
        }
        if (db && model_.HasAwaitingApplDb()) {
          deadline =
              std::min(deadline, last_pending_poll_ + Backstop(options_.pending_poll_interval));
        }
      }
      mu_.AwaitWithDeadline(absl::Condition(&ready), deadline);
      writer_wake_ = false;
      stop = writer_stop_;
      if (!initial_dump_done_) {
        // Before the initial dump the model does not know the kernel: writing (or reconciling,
        // which deletes keys of ports it has not seen) would be wrong.
        if (stop) return;
        continue;
      }
    }

    const absl::Time now = absl::Now();
    if (db == nullptr) {
      if (now < next_connect && !stop) continue;
      absl::StatusOr<std::unique_ptr<Connections>> connected = Connect();
      if (!connected.ok()) {
        if (stop) {
          LOG_WARN("shutdown: Redis unreachable, STATE_DB may miss the last changes: ",
                   connected.status().message());
          return;
        }
        if (down_since == absl::InfinitePast()) down_since = now;
        if (down_log.Allow()) {
          LOG_WARN("Redis unreachable (the model keeps following the kernel): ",
                   connected.status().message(), "; retrying with backoff up to ",
                   absl::FormatDuration(options_.reconnect_max));
        }
        next_connect = now + backoff;
        backoff = std::min(backoff * 2, options_.reconnect_max);
        continue;
      }
      db = *std::move(connected);
      healthy = false;
      port_init_done_retry_at_ = absl::InfinitePast();  // a new connection tries at once
      if (down_since != absl::InfinitePast()) {
        LOG_NOTICE("Redis reachable again after ",
                   absl::FormatDuration(absl::Trunc(now - down_since, absl::Milliseconds(1))),
                   "; reconciling every key we own");
        down_since = absl::InfinitePast();
      }
      SetRedisConnected(true);
    }

    absl::Status status = absl::OkStatus();
    if (need_reconcile && now >= reconcile_at) {
      reconcile_at = now + Backstop(options_.audit_interval);
      status = Reconcile(*db, /*rewrite_all=*/true);
      if (status.ok()) need_reconcile = false;
      // Done, even when Redis refused some key: the rest is written (the refused port shows as
      // out of sync, and its write is retried at the period).
      if (status.ok() || !db->broken()) initial_write_done_.store(true);
    }
    // While a refused reconcile waits for its period, new kernel changes are still written.
    if (status.ok()) status = WriterTick(*db, now);
    if (status.ok() && stop) {
      status = Flush(*db);
      if (status.ok()) LOG_NOTICE("shutdown: STATE_DB flushed");
    }
    if (status.ok()) {
      healthy = true;
      backoff = options_.reconnect_initial;
    } else if (!db->broken()) {
      // Redis answered with an error (WRONGTYPE on a key someone else wrote, OOM, MISCONF...):
      // the connection is fine; what failed is retried by the next audit.
      counters_.redis_errors.fetch_add(1);
      if (refused_log.Allow()) LOG_WARN("Redis: ", status.message(), "; will retry");
    } else {
      counters_.redis_errors.fetch_add(1);
      LOG_WARN("Redis: ", status.message(), "; reconnecting");
      db.reset();
      SetRedisConnected(false);
      need_reconcile = true;
      reconcile_at = absl::InfinitePast();
      down_since = now;
      // A connection that worked may have dropped once: retry at once. One that failed right
      // after connecting will likely fail again: back off.
      next_connect = healthy ? now : now + backoff;
      if (!healthy) backoff = std::min(backoff * 2, options_.reconnect_max);
    }
    if (stop) return;
  }
}

absl::Duration Engine::Backstop(absl::Duration polling) const {
  return keyspace_active_.load() ? std::max(polling, options_.audit_interval_notified) : polling;
}

absl::Status Engine::WriterTick(Connections& db, absl::Time now) {
  RETURN_IF_ERROR(Flush(db));
  RETURN_IF_ERROR(HandleKeyspace(db, now));
  bool newly_awaiting = false;
  {
    absl::MutexLock lock(&mu_);
    newly_awaiting = model_.TakeNewlyAwaiting();
  }
  // Each timer advances before its step runs: a step that fails on a Redis error reply (the
  // connection stays up) is retried at its next period, not at once in a loop.
  if (newly_awaiting || now >= last_pending_poll_ + Backstop(options_.pending_poll_interval)) {
    last_pending_poll_ = now;
    RETURN_IF_ERROR(PollPendingApplDb(db));
  }
  if (now >= last_audit_ + Backstop(options_.audit_interval)) {
    // The first pass comes right after the reconcile that rewrote everything: nothing to audit.
    const bool first = last_audit_ == absl::InfinitePast();
    last_audit_ = now;
    if (!first) RETURN_IF_ERROR(FullAudit(db));
  }
  if (now >= last_logger_poll_ + Backstop(options_.logger_poll_interval)) {
    last_logger_poll_ = now;
    RETURN_IF_ERROR(PollLogger(db));
  }
  return absl::OkStatus();
}

absl::Status Engine::FullAudit(Connections& db) {
  // Expectations left by writes whose notification never came (one made before the
  // subscription) would hide someone else's next write to that key: start afresh. Notifications
  // of writes still in transit then count as someone else's: one extra check.
  ClearExpectations();
  return Reconcile(db, /*rewrite_all=*/false);
}

void Engine::ClearExpectations() {
  if (!watcher_) return;
  absl::MutexLock lock(&watch_mu_);
  expect_hset_.clear();
  expect_del_.clear();
}

bool Engine::TakeBackExpectation(bool del, const std::string& name) {
  absl::MutexLock lock(&watch_mu_);
  if (ConsumeExpectation(del ? expect_del_ : expect_hset_, name)) return false;
  // Already consumed, by a notification that was not ours (someone else's DEL or HSET landed
  // between our command and its reply): check the key.
  if (!PortModel::IsPortName(name) || !suspects_.insert(name).second) return false;
  counters_.keyspace_checks.fetch_add(1);
  return true;
}

absl::Status Engine::HandleKeyspace(Connections& db, absl::Time now) {
  if (!watcher_) return absl::OkStatus();
  std::vector<std::string> suspects;
  bool appl = false, logger = false, resync = false;
  {
    absl::MutexLock lock(&watch_mu_);
    suspects.assign(suspects_.begin(), suspects_.end());
    suspects_.clear();
    appl = std::exchange(appl_changed_, false);
    logger = std::exchange(logger_changed_, false);
    resync = std::exchange(watch_resync_, false);
  }
  if (resync) {
    // Just subscribed: whatever happened before was not notified. Check everything once. The
    // polls are made due first, so if the audit fails on an error reply they still run at the
    // next tick.
    last_pending_poll_ = absl::InfinitePast();
    last_logger_poll_ = absl::InfinitePast();
    last_audit_ = now;
    RETURN_IF_ERROR(FullAudit(db));
    last_pending_poll_ = now;
    RETURN_IF_ERROR(PollPendingApplDb(db));
    last_logger_poll_ = now;
    RETURN_IF_ERROR(PollLogger(db));
    return absl::OkStatus();
  }
  if (!suspects.empty()) RETURN_IF_ERROR(Reconcile(db, /*rewrite_all=*/false, &suspects));
  if (appl) {
    bool awaiting = false;
    {
      absl::MutexLock lock(&mu_);
      awaiting = model_.HasAwaitingApplDb();
    }
    if (awaiting) {
      RETURN_IF_ERROR(PollPendingApplDb(db));
      last_pending_poll_ = now;
    }
  }
  if (logger) RETURN_IF_ERROR(PollLogger(db));
  return absl::OkStatus();
}

void Engine::WakeWriter() {
  absl::MutexLock lock(&mu_);
  writer_wake_ = true;
}

void Engine::OnKeyspaceEvent(int tag, absl::string_view key_suffix, absl::string_view event) {
  counters_.keyspace_events.fetch_add(1);
  {
    absl::MutexLock lock(&watch_mu_);
    switch (tag) {
      case kWatchState: {
        // Our own write's notification: expected, nothing to check.
        if ((event == "hset" && ConsumeExpectation(expect_hset_, key_suffix)) ||
            (event == "del" && ConsumeExpectation(expect_del_, key_suffix))) {
          return;
        }
        if (!PortModel::IsPortName(key_suffix)) return;
        suspects_.emplace(key_suffix);
        counters_.keyspace_checks.fetch_add(1);
        break;
      }
      case kWatchAppl:
        if (!PortModel::IsPortName(key_suffix)) return;
        appl_changed_ = true;
        break;
      case kWatchLogger:
        if (!key_suffix.empty()) return;  // LOGGER|portsyncd-something
        logger_changed_ = true;
        break;
      default:
        return;
    }
  }
  WakeWriter();
}

void Engine::OnKeyspaceActive(bool active, absl::string_view why) {
  keyspace_active_.store(active);
  if (active) {
    LOG_NOTICE(
        "keyspace notifications: subscribed; APPL_DB entries, changes to our STATE_DB "
        "keys and LOGGER are seen as they happen; full audit every ",
        absl::FormatDuration(options_.audit_interval_notified));
    absl::MutexLock lock(&watch_mu_);
    watch_resync_ = true;
  } else {
    LOG_NOTICE("keyspace notifications: not in use (", why, "); polling: audit every ",
               absl::FormatDuration(options_.audit_interval), ", APPL_DB every ",
               absl::FormatDuration(options_.pending_poll_interval));
  }
  WakeWriter();  // the timers changed
}

absl::Status Engine::Flush(Connections& db) {
  std::vector<StateWrite> writes;
  bool publish_port_init_done = false;
  {
    absl::MutexLock lock(&mu_);
    writes = model_.TakeDirty();
    publish_port_init_done = !port_init_done_sent_ && initial_dump_done_ && model_.pending_empty();
  }
  if (!writes.empty()) {
    std::vector<RedisArgv> commands;
    commands.reserve(writes.size());
    uint64_t deletes = 0;
    for (const StateWrite& write : writes) {
      const std::string key = db.state->Key(kPortTable, write.name);
      if (write.del) {
        commands.push_back({"DEL", key});
        ++deletes;
      }
      if (write.set) commands.push_back(StateFieldsHset(key, *write.set));
    }
    if (watcher_) {
      // The notifications these writes will cause are ours (OnKeyspaceEvent skips them).
      absl::MutexLock lock(&watch_mu_);
      for (const StateWrite& write : writes) {
        if (write.del) ++expect_del_[write.name];
        if (write.set) ++expect_hset_[write.name];
      }
    }
    const absl::Time sent = absl::Now();
    absl::StatusOr<std::vector<RedisReply>> pipelined = db.state->Pipeline(commands);
    if (!pipelined.ok()) {
      ClearExpectations();  // unknown what was applied; the reconnect audits everything
      return pipelined.status();
    }
    std::vector<RedisReply>& replies = *pipelined;
    const absl::Time acked = absl::Now();
    counters_.redis_round_trip.Record(acked - sent);
    counters_.state_db_batches.fetch_add(1);
    counters_.state_db_writes.fetch_add(commands.size() - deletes);
    counters_.state_db_deletes.fetch_add(deletes);
    absl::Status refused = absl::OkStatus();
    {
      absl::MutexLock lock(&mu_);
      size_t i = 0;
      for (const StateWrite& write : writes) {
        const size_t n = (write.del ? 1 : 0) + (write.set ? 1 : 0);
        if (watcher_) {
          // Commands that notify nothing: a DEL of a key that did not exist, and any command
          // Redis refused. Take their expectations back.
          const bool del_silent = write.del && DelNotifiedNothing(replies[i]);
          const bool set_silent = write.set && replies[i + n - 1].is_error();
          // (mu_ is held here: wake the writer directly.)
          if (del_silent && TakeBackExpectation(/*del=*/true, write.name)) writer_wake_ = true;
          if (set_silent && TakeBackExpectation(/*del=*/false, write.name)) writer_wake_ = true;
        }
        bool ok = true;
        for (size_t j = i; j < i + n; ++j) ok = ok && !replies[j].is_error();
        // A refused write is not recorded: the audit sees the port unwritten and retries it.
        if (ok) {
          model_.MarkWritten(write);
          if (write.since != absl::InfinitePast()) {
            counters_.event_to_state_db.Record(acked - write.since);
          }
        } else if (refused.ok()) {
          refused = CheckReplies({commands.begin() + i, commands.begin() + i + n},
                                 {replies.begin() + i, replies.begin() + i + n});
        }
        i += n;
      }
    }
    RETURN_IF_ERROR(refused);
  }
  if (publish_port_init_done && absl::Now() >= port_init_done_retry_at_) {
    const DbEndpoint& appl = db.appl->endpoint();
    RedisArgv command =
        ProducerStateSet(kPortTable, appl.separator, appl.id, "PortInitDone", {{"lanes", "0"}});
    ASSIGN_OR_RETURN(RedisReply reply, db.appl->Command(command));
    if (absl::Status refused = CheckReplies({command}, {reply}); !refused.ok()) {
      // Every Flush would try again at once, and Flush runs before the timers: retry a second
      // later instead (the writer's deadline includes it). Not the audit's period: with
      // notifications on that is a minute, and other daemons wait for PortInitDone.
      port_init_done_retry_at_ = absl::Now() + kPortInitDoneRetry;
      return refused;
    }
    LOG_NOTICE("PortInitDone published: every configured port has its netdev");
    absl::MutexLock lock(&mu_);
    port_init_done_sent_ = true;
    port_init_done_ns_.store(absl::ToUnixNanos(absl::Now()));
    port_init_done_.store(true);
  }
  return absl::OkStatus();
}

absl::Status Engine::Reconcile(Connections& db, bool rewrite_all,
                               const std::vector<std::string>* only) {
  // Keys in STATE_DB PORT_TABLE that look like ours.
  const std::string prefix = db.state->Key(kPortTable, "");
  std::vector<std::string> keys;
  if (only != nullptr) {
    for (const std::string& name : *only) keys.push_back(prefix + name);
  } else {
    ASSIGN_OR_RETURN(keys, ScanKeys(*db.state, absl::StrCat(prefix, "*")));
  }

  // Candidates for deletion: a port name whose netdev is gone (or never seen), not an old
  // interface, whose key carries our `state` field. Everything else is left to the model.
  std::vector<std::string> stale_candidates;
  std::vector<std::string> audited;  // ports whose fields we compare (audit only)
  std::vector<std::string> requeue;  // notified keys to look at again after the dump
  {
    absl::MutexLock lock(&mu_);
    for (const std::string& key : keys) {
      std::string name = key.substr(prefix.size());
      if (!PortModel::IsPortName(name) || model_.IsOldInterfaceName(name)) continue;
      // During a re-dump the model's kernel view is being rebuilt; EndDump deletes what is gone
      // from the model, but a notified key of a port the model never knew waits for the dump.
      if (model_.dump_in_progress()) {
        if (only != nullptr) requeue.push_back(std::move(name));
        continue;
      }
      const Port* port = model_.Find(name);
      if (port == nullptr || !port->in_kernel) stale_candidates.push_back(std::move(name));
    }
    if (rewrite_all) {
      model_.ForgetWritten();
    } else if (only != nullptr) {
      for (const std::string& name : *only) {
        const Port* port = model_.Find(name);
        if (port == nullptr || !port->wants_state()) continue;
        if (!port->dirty) {
          audited.push_back(name);
        } else {
          // A write is pending, but it may be skipped as identical to what we last wrote, which
          // someone else has just changed: make sure it is sent.
          model_.MarkDrifted(name);
        }
      }
    } else {
      for (const auto& [name, port] : model_.ports()) {
        if (port.wants_state() && !port.dirty) audited.push_back(name);
      }
    }
  }

  if (!requeue.empty()) {
    absl::MutexLock lock(&watch_mu_);
    suspects_.insert(requeue.begin(), requeue.end());
  }
  std::vector<RedisArgv> reads;
  for (const std::string& name : stale_candidates) {
    reads.push_back({"HEXISTS", db.state->Key(kPortTable, name), kStateField});
  }
  for (const std::string& name : audited) {
    reads.push_back({"HMGET", db.state->Key(kPortTable, name), "netdev_oper_status", kStateField,
                     "admin_status", "mtu"});
  }
  // Error replies (a key of the wrong type) count as drift: the rewrite reports the error.
  ASSIGN_OR_RETURN(std::vector<RedisReply> replies, db.state->Pipeline(reads));

  std::vector<RedisArgv> deletes;
  std::vector<std::string> deleted_names;
  uint64_t drifted = 0;
  {
    absl::MutexLock lock(&mu_);
    for (size_t i = 0; i < stale_candidates.size(); ++i) {
      const Port* port = model_.Find(stale_candidates[i]);
      if (replies[i].integer == 1 && (port == nullptr || !port->in_kernel)) {
        deletes.push_back({"DEL", db.state->Key(kPortTable, stale_candidates[i])});
        deleted_names.push_back(stale_candidates[i]);
      }
    }
    for (size_t i = 0; i < audited.size(); ++i) {
      const RedisReply& reply = replies[stale_candidates.size() + i];
      const Port* port = model_.Find(audited[i]);
      if (port == nullptr || !port->wants_state() || port->dirty) continue;
      if (!port->written) {  // an earlier write was refused
        model_.MarkDrifted(audited[i]);
        ++drifted;
        continue;
      }
      const StateFields& w = *port->written;
      const bool same = !reply.is_error() && reply.elements.size() == 4 &&
                        reply.elements[0].str == (w.oper_up ? "up" : "down") &&
                        reply.elements[1].str == "ok" &&
                        reply.elements[2].str == (w.admin_up ? "up" : "down") &&
                        reply.elements[3].str == absl::StrCat(w.mtu);
      if (!same) {
        model_.MarkDrifted(audited[i]);
        ++drifted;
      }
    }
  }
  if (!deletes.empty()) {
    if (watcher_) {
      absl::MutexLock lock(&watch_mu_);  // ours (a DEL of a vanished key is settled below)
      for (const std::string& name : deleted_names) ++expect_del_[name];
    }
    absl::StatusOr<std::vector<RedisReply>> pipelined = db.state->Pipeline(deletes);
    if (!pipelined.ok()) {
      ClearExpectations();  // unknown what was applied; the reconnect audits everything
      return pipelined.status();
    }
    std::vector<RedisReply>& deleted = *pipelined;
    if (watcher_) {
      for (size_t i = 0; i < deleted.size() && i < deleted_names.size(); ++i) {
        if (!DelNotifiedNothing(deleted[i])) continue;
        if (TakeBackExpectation(/*del=*/true, deleted_names[i])) WakeWriter();
      }
    }
    RETURN_IF_ERROR(CheckReplies(deletes, deleted));
    counters_.state_db_deletes.fetch_add(deletes.size());
  }
  if (rewrite_all) {
    counters_.reconciles.fetch_add(1);
    LOG_INFO("reconcile: rewriting every port, ", deletes.size(), " stale keys deleted");
  } else if (drifted + deletes.size() > 0) {
    counters_.drift_repairs.fetch_add(drifted + deletes.size());
    // Notified drift can come at any rate: log it at most once a second.
    if (only == nullptr || drift_log_.Allow()) {
      LOG_WARN(only == nullptr ? "audit" : "keyspace notification",
               ": STATE_DB drifted from what we wrote: ", drifted, " ports repaired, ",
               deletes.size(), " stale keys deleted");
    }
  }
  return Flush(db);
}

absl::Status Engine::PollPendingApplDb(Connections& db) {
  std::vector<std::string> names;
  {
    absl::MutexLock lock(&mu_);
    names = model_.AwaitingApplDb();
  }
  if (names.empty()) return absl::OkStatus();
  std::vector<RedisArgv> reads;
  for (const std::string& name : names) reads.push_back({"EXISTS", db.appl->Key(kPortTable, name)});
  ASSIGN_OR_RETURN(std::vector<RedisReply> replies, db.appl->Pipeline(reads));
  RETURN_IF_ERROR(CheckReplies(reads, replies));
  bool any = false;
  {
    absl::MutexLock lock(&mu_);
    for (size_t i = 0; i < names.size(); ++i) {
      if (replies[i].integer == 1 && model_.SetInApplDb(names[i], absl::Now())) {
        LOG_INFO(names[i], ": APPL_DB entry appeared; publishing its kernel state");
        any = true;
      }
    }
    PublishChangesLocked();
  }
  return any ? Flush(db) : absl::OkStatus();
}

absl::Status Engine::PollLogger(Connections& db) {
  ASSIGN_OR_RETURN(
      RedisReply reply,
      db.config->Command({"HGET", db.config->Key(kLoggerTable, "portsyncd"), "LOGLEVEL"}));
  if (reply.is_nil() || reply.is_error() || reply.str == logger_level_seen_)
    return absl::OkStatus();
  logger_level_seen_ = reply.str;
  std::optional<LogLevel> level = ParseLogLevel(reply.str);
  if (!level) {
    LOG_WARN("CONFIG_DB LOGGER|portsyncd LOGLEVEL '", reply.str,
             "' is not a level (EMERG ALERT CRIT ERROR WARN NOTICE INFO DEBUG); keeping ",
             LogLevelName(GetLogLevel()));
    return absl::OkStatus();
  }
  SetLogLevel(*level);
  LOG_NOTICE("log level set to ", LogLevelName(*level), " from CONFIG_DB LOGGER|portsyncd");
  return absl::OkStatus();
}

}  // namespace portsyncd
