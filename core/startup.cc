#include "core/startup.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/logging.h"
#include "core/netlink_socket.h"
#include "core/sonic_tables.h"
#include "core/status_macros.h"

namespace portsyncd {
namespace {

constexpr char kRestartMarker[] = "portsyncd.started";
// Ports loaded into the model per hold of its lock.
constexpr size_t kModelLoadSlice = 4096;
// Ports per pipeline of a cold start's reads and writes: what startup holds at once (at
// 100,000 ports, every CONFIG_DB hash and its APPL_DB copy at once were a peak of ~240 MB, whose
// holes the model's ports then filled and kept resident).
constexpr size_t kRedisSlice = 4096;

std::string RestartMarkerPath(const std::string& runtime_dir) {
  return absl::StrCat(runtime_dir, "/", kRestartMarker);
}

}  // namespace

Startup::Startup(const EngineOptions& options, DbEndpoints endpoints, SharedModel& shared,
                 EngineCounters& counters, RedisConnector& connector)
    : options_(options),
      endpoints_(std::move(endpoints)),
      shared_(shared),
      counters_(counters),
      connector_(connector) {}

std::string Startup::waiting_for() const {
  absl::MutexLock lock(&mu_);
  return waiting_for_;
}

absl::Status Startup::Run(LinkControl& links, absl::FunctionRef<void()> heartbeat,
                          absl::FunctionRef<bool(absl::Duration)> sleep_unless_stopped) {
  links_ = &links;
  absl::Duration backoff = options_.reconnect_initial;
  LogRateLimiter limiter(10.0);
  const absl::Time began = absl::Now();
  while (true) {
    // Waiting for Redis is progress too (each pass is at most reconnect_max apart).
    heartbeat();
    absl::StatusOr<DbClients> db = ConnectDatabases(connector_, endpoints_, options_.redis_timeout);
    if (db.ok()) {
      counters_.redis_connects.fetch_add(1);
      LOG_INFO("redis: connected to ", endpoints_.config.Describe(), ", ",
               endpoints_.appl.Describe(), ", ", endpoints_.state.Describe());
    }
    absl::Status status = db.ok() ? Attempt(*db) : db.status();
    {
      absl::MutexLock lock(&mu_);
      waiting_for_ = status.ok() ? "" : std::string(status.message());
    }
    shared_.NotifyStateChange();
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
    if (sleep_unless_stopped(backoff)) break;
    backoff = std::min(backoff * 2, options_.reconnect_max);
  }
  return absl::OkStatus();
}

absl::Status Startup::Attempt(DbClients& db) {
  Progress& progress = progress_;
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
    mode_.store(progress.decision->mode);
    decided_.store(true);
    if (on_decided_) on_decided_(progress.decision->mode);
  }
  const StartMode mode = progress.decision->mode;
  const bool cold = mode == StartMode::kCold;

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
    absl::flat_hash_set<std::string> configured;
    for (size_t i = 0; i < config_ports.size(); i += kRedisSlice) {
      const size_t end = std::min(config_ports.size(), i + kRedisSlice);
      std::vector<RedisArgv> checks;
      checks.reserve(end - i);
      for (size_t j = i; j < end; ++j) {
        checks.push_back({"HEXISTS", db.appl->Key(kPortTable, config_ports[j]), "admin_status"});
      }
      ASSIGN_OR_RETURN(std::vector<RedisReply> replies, db.appl->Pipeline(checks));
      RETURN_IF_ERROR(CheckReplies(checks, replies));
      for (size_t j = i; j < end; ++j) {
        if (replies[j - i].integer == 1) configured.insert(config_ports[j]);
      }
    }
    progress.configured = std::move(configured);
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
    ASSIGN_OR_RETURN(std::vector<LinkEvent> links, links_->ListLinks());
    if (const uint64_t bad = links_->malformed_messages(); bad > 0) {
      counters_.netlink_parse_errors.fetch_add(bad);
      LOG_ERROR("old interfaces: ", bad,
                " malformed link messages in the kernel's list were skipped");
    }
    progress.old_interfaces.emplace();
    // The model's selection, not the start's: a reload may have changed it while we waited.
    const PortSelection selection = [this] {
      absl::MutexLock lock(&shared_.mu);
      return shared_.model.selection();
    }();
    for (const LinkEvent& link : links) {
      // Upstream's rule, within what is followed (an operator's include of eth0 never takes
      // the management port down).
      if (!absl::StartsWith(link.name, "Ethernet") || !selection.Selects(link.name)) continue;
      absl::Status down = links_->SetAdminDown(link.ifindex);
      if (!down.ok()) {
        LOG_ERROR("old interface ", link.name, " (ifindex ", link.ifindex,
                  "): cannot set admin down: ", down.message());
      }
      progress.old_interfaces->emplace_back(link.ifindex, link.name);
    }
  }
  const std::vector<std::pair<int32_t, std::string>> old_interfaces =
      progress.old_interfaces.value_or(std::vector<std::pair<int32_t, std::string>>{});

  // Cold start: CONFIG_DB's PORT table copied to APPL_DB, then PortConfigDone, a slice of
  // kRedisSlice ports at a time (read, then written).
  if (cold && !progress.appl_published) {
    const DbEndpoint& appl = db.appl->endpoint();
    for (size_t i = 0; i < config_keys.size(); i += kRedisSlice) {
      const size_t end = std::min(config_keys.size(), i + kRedisSlice);
      std::vector<RedisArgv> reads;
      reads.reserve(end - i);
      for (size_t j = i; j < end; ++j) reads.push_back({"HGETALL", config_keys[j]});
      ASSIGN_OR_RETURN(std::vector<RedisReply> hashes, db.config->Pipeline(reads));
      RETURN_IF_ERROR(CheckReplies(reads, hashes));
      std::vector<RedisArgv> writes;
      writes.reserve(end - i);
      for (size_t j = i; j < end; ++j) {
        const RedisReply& hash = hashes[j - i];
        FieldValues fields;
        for (size_t k = 0; k + 1 < hash.elements.size(); k += 2) {
          fields.emplace_back(hash.elements[k].str, hash.elements[k + 1].str);
        }
        writes.push_back(ProducerStateSet(kPortTable, appl.separator, appl.id,
                                          config_keys[j].substr(config_prefix.size()), fields));
      }
      ASSIGN_OR_RETURN(std::vector<RedisReply> replies, db.appl->Pipeline(writes));
      RETURN_IF_ERROR(CheckReplies(writes, replies));
    }
    RedisArgv done = ProducerStateSet(kPortTable, appl.separator, appl.id, "PortConfigDone",
                                      {{"count", absl::StrCat(config_keys.size())}});
    ASSIGN_OR_RETURN(RedisReply reply, db.appl->Command(done));
    RETURN_IF_ERROR(CheckReplies({done}, {reply}));
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

  // The engine thread may be applying the link dump meanwhile (not on a cold start): a port
  // whose netdev it has seen becomes writable here, as when its APPL_DB entry appears later.
  // Loaded in slices, the model's lock let go between them, so the dump's batches are not held
  // up for the whole load (100,000 ports of each).
  const absl::Time now = absl::Now();
  for (size_t i = 0; i < config_ports.size(); i += kModelLoadSlice) {
    absl::MutexLock lock(&shared_.mu);
    for (size_t j = i; j < std::min(config_ports.size(), i + kModelLoadSlice); ++j) {
      const std::string& name = config_ports[j];
      shared_.model.AddConfigPort(name);
      if (progress.configured && progress.configured->contains(name)) {
        shared_.model.RemoveFromPending(name);
      }
    }
  }
  for (size_t i = 0; i < appl_keys.size(); i += kModelLoadSlice) {
    absl::MutexLock lock(&shared_.mu);
    for (size_t j = i; j < std::min(appl_keys.size(), i + kModelLoadSlice); ++j) {
      // Not PortConfigDone / PortInitDone (consumed by orchagent, they stay in PORT_TABLE),
      // whatever the selection; SetInApplDb ignores names that are not selected.
      const absl::string_view name = absl::string_view(appl_keys[j]).substr(appl_prefix.size());
      if (name != "PortConfigDone" && name != "PortInitDone") {
        shared_.model.SetInApplDb(std::string(name), now);
      }
    }
    shared_.PublishChangesLocked();  // the records of ports the dump had shown, for the streams
  }
  {
    absl::MutexLock lock(&shared_.mu);
    for (const auto& [ifindex, name] : old_interfaces) shared_.model.AddOldInterface(ifindex, name);
  }
  counters_.old_interfaces.store(old_interfaces.size());

  LOG_NOTICE("startup: ", StartModeName(mode), " start", is_dpu ? " (switch_type dpu)" : "", ", ",
             config_keys.size(), " CONFIG_DB ports, ", appl_keys.size(), " APPL_DB ports, ",
             old_interfaces.size(), " old interfaces set down");
  return absl::OkStatus();
}

}  // namespace portsyncd
