#include "core/state_writer.h"

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/direct_writer.h"
#include "core/logging.h"
#include "core/sonic_tables.h"
#include "core/state_batch.h"
#include "core/status_macros.h"

namespace portsyncd {

namespace {

// Resident memory, from /proc/self/statm (0 if unreadable).
uint64_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  if (!(statm >> size >> resident)) return 0;
  return resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

// Hands the heap's free pages back to the system (malloc_trim: every arena), and says what that
// returned.
void ReturnFreedHeap(const char* after) {
  const uint64_t before = ResidentBytes();
  malloc_trim(0);
  const uint64_t now = ResidentBytes();
  LOG_INFO("memory: freed heap returned after ", after, ": RSS ",
           absl::StrFormat("%.1f -> %.1f MiB", before / 1048576.0, now / 1048576.0));
}

}  // namespace

StateWriter::StateWriter(const EngineOptions& options, DbEndpoints endpoints, SharedModel& shared,
                         EngineCounters& counters, RedisConnector& connector, const Clock& clock,
                         WriteTracker* tracker)
    : options_(options),
      endpoints_(std::move(endpoints)),
      shared_(shared),
      counters_(counters),
      connector_(connector),
      clock_(clock),
      tracker_(tracker),
      backoff_(options.reconnect_initial),
      connected_since_ns_(absl::ToUnixNanos(clock.Now())) {}

void StateWriter::Run() {
  while (true) {
    absl::Time deadline;
    {
      absl::MutexLock lock(&shared_.mu);
      deadline = NextDeadlineLocked();
    }
    // Sleeps until woken or the next timer is due (NextDeadlineLocked says which timers). A
    // change of what the deadline depends on comes with a wake-up, which Wait does not miss
    // though it came before the wait began.
    const bool stop = shared_.writer.Wait(deadline);
    Step(stop);
    if (stop) return;
  }
}

absl::Time StateWriter::NextDeadlineLocked() const {
  // Before the initial dump only the connection is due (the dump's batches wake the writer to
  // write what they made dirty), and the APPL_DB poll only while some port waits for APPL_DB.
  // Idle, that leaves the LOGGER poll (1 s) and the audit (5 s), or with keyspace
  // notifications on, the backstop (60 s).
  if (db_ == nullptr) return next_connect_;  // before the dump too: it writes what it shows
  if (!shared_.initial_dump_done) return absl::InfiniteFuture();  // woken for each batch
  absl::Time deadline = std::min(last_audit_ + Backstop(options_.audit_interval),
                                 last_logger_poll_ + Backstop(options_.logger_poll_interval));
  if (need_reconcile_) deadline = std::min(deadline, reconcile_at_);
  if (!port_init_done_sent_ && shared_.model.pending_empty()) {
    deadline = std::min(deadline, port_init_done_retry_at_);
  }
  if (shared_.model.HasAwaitingApplDb()) {
    deadline = std::min(deadline, last_pending_poll_ + Backstop(options_.pending_poll_interval));
  }
  return deadline;
}

absl::Duration StateWriter::Backstop(absl::Duration polling) const {
  return keyspace_active_.load() ? std::max(polling, options_.audit_interval_notified) : polling;
}

void StateWriter::SetConnected(bool connected) {
  if (connected_.exchange(connected) != connected) {
    connected_since_ns_.store(absl::ToUnixNanos(clock_.Now()));
  }
}

void StateWriter::Step(bool stop) {
  const Fingerprint before = Seen();
  StepOnce(stop);
  if (!(Seen() == before)) shared_.NotifyStateChange();
}

StateWriter::Fingerprint StateWriter::Seen() const {
  return {connected_.load(), initial_write_done_.load(), shared_.port_init_done.load(),
          counters_.state_db_batches.load() + counters_.state_db_deletes.load(),
          counters_.redis_errors.load()};
}

void StateWriter::StepOnce(bool stop) {
  bool dump_done = false;
  {
    absl::MutexLock lock(&shared_.mu);
    dump_done = shared_.initial_dump_done;
  }
  // Before the initial dump the model knows only the part of the kernel read so far: the ports
  // it has seen are written as the dump goes (their state is the kernel's), but nothing that
  // needs the whole kernel is done (deleting keys of ports not seen yet, PortInitDone, the
  // audit) until it ends.
  if (!dump_done && stop) return;
  const absl::Time now = clock_.Now();
  if (db_ == nullptr) {
    if (now < next_connect_ && !stop) return;
    absl::StatusOr<DbClients> connected =
        ConnectDatabases(connector_, endpoints_, options_.redis_timeout);
    if (!connected.ok()) {
      if (stop) {
        LOG_WARN("shutdown: Redis unreachable, STATE_DB may miss the last changes: ",
                 connected.status().message());
        return;
      }
      if (down_since_ == absl::InfinitePast()) down_since_ = now;
      if (down_log_.Allow()) {
        LOG_WARN("Redis unreachable (the model keeps following the kernel): ",
                 connected.status().message(), "; retrying with backoff up to ",
                 absl::FormatDuration(options_.reconnect_max));
      }
      next_connect_ = now + backoff_;
      backoff_ = std::min(backoff_ * 2, options_.reconnect_max);
      return;
    }
    db_ = std::make_unique<DbClients>(*std::move(connected));
    counters_.redis_connects.fetch_add(1);
    LOG_INFO("redis: connected to ", endpoints_.config.Describe(), ", ", endpoints_.appl.Describe(),
             ", ", endpoints_.state.Describe());
    healthy_ = false;
    port_init_done_retry_at_ = absl::InfinitePast();  // a new connection tries at once
    if (down_since_ != absl::InfinitePast()) {
      LOG_NOTICE("Redis reachable again after ",
                 absl::FormatDuration(absl::Trunc(now - down_since_, absl::Milliseconds(1))),
                 "; reconciling every key we own");
      down_since_ = absl::InfinitePast();
    }
    SetConnected(true);
  }

  absl::Status status = absl::OkStatus();
  if (!dump_done) {
    status = WriteDuringInitialDump();
  } else if (need_reconcile_ && now >= reconcile_at_) {
    reconcile_at_ = now + Backstop(options_.audit_interval);
    // After the first connection nothing was written but over it, and every write was
    // answered: what STATE_DB holds of ours is known, so only stale keys are looked for. After
    // a broken one, what it wrote may be lost (Redis restarted empty): rewrite everything.
    status =
        Reconcile(rewrite_on_reconcile_ ? ReconcileMode::kRewriteAll : ReconcileMode::kStaleKeys);
    if (status.ok()) need_reconcile_ = false;
    // Every port written at once (a start, a reconnect) is the heap's one-off peak, with the
    // initial dump's changes just before it: hand the freed pages back to the system, or the
    // process keeps them for good (glibc returns little from the middle of the heap by itself).
    ReturnFreedHeap("the reconcile");
    // Done, even when Redis refused some key: the rest is written (the refused port shows as
    // out of sync, and its write is retried at the period).
    if (status.ok() || !db_->broken()) initial_write_done_.store(true);
  }
  // While a refused reconcile waits for its period, new kernel changes are still written.
  if (status.ok() && dump_done) status = Tick(now);
  if (status.ok() && stop) {
    status = Flush();
    if (status.ok()) LOG_NOTICE("shutdown: STATE_DB flushed");
  }
  if (status.ok()) {
    healthy_ = true;
    backoff_ = options_.reconnect_initial;
    if (options_.direct_writes && dump_done && !stop) OfferDirectConnection(now);
  } else if (!db_->broken()) {
    // Redis answered with an error (WRONGTYPE on a key someone else wrote, OOM, MISCONF...):
    // the connection is fine; what failed is retried at its period.
    counters_.redis_errors.fetch_add(1);
    if (refused_log_.Allow()) LOG_WARN("Redis: ", status.message(), "; will retry");
  } else {
    counters_.redis_errors.fetch_add(1);
    LOG_WARN("Redis: ", status.message(), "; reconnecting");
    db_.reset();
    SetConnected(false);
    need_reconcile_ = true;
    rewrite_on_reconcile_ = true;
    state_keys_before_dump_.reset();  // read again on the next connection
    reconcile_at_ = absl::InfinitePast();
    down_since_ = now;
    // A connection that worked may have dropped once: retry at once. One that failed right
    // after connecting will likely fail again: back off.
    next_connect_ = healthy_ ? now : now + backoff_;
    if (!healthy_) backoff_ = std::min(backoff_ * 2, options_.reconnect_max);
  }
}

absl::Status StateWriter::WriteDuringInitialDump() {
  // The keys STATE_DB holds before we write any: the reconcile after the dump judges these
  // (which stale keys to delete) without reading them again, so the read overlaps the dump.
  // A key appearing after it is one we wrote, or someone else's, which the audit looks at.
  if (!state_keys_before_dump_) {
    RedisClient& state = *db_->state;
    ASSIGN_OR_RETURN(state_keys_before_dump_,
                     ScanKeys(state, absl::StrCat(state.Key(kPortTable, ""), "*")));
  }
  return Flush();  // PortInitDone waits for the dump's end (Flush checks)
}

void StateWriter::OfferDirectConnection(absl::Time now) {
  if (!shared_.direct.wanted()) return;
  if (now < next_direct_attempt_) return;
  // Connected here, blocking (this thread may wait for Redis), then handed to the engine
  // thread, which only ever uses it without blocking.
  std::string error;
  RedisContextPtr context = ConnectDirect(endpoints_.state, options_.redis_timeout, &error);
  if (context == nullptr) {
    // The writer keeps writing everything meanwhile; try again after the longest backoff.
    next_direct_attempt_ = now + options_.reconnect_max;
    LOG_DEBUG("direct STATE_DB connection: ", error);
    return;
  }
  shared_.direct.Offer(std::move(context));
}

absl::Status StateWriter::Tick(absl::Time now) {
  RETURN_IF_ERROR(Flush());
  RETURN_IF_ERROR(HandleKeyspace(now));
  bool newly_awaiting = false;
  {
    absl::MutexLock lock(&shared_.mu);
    newly_awaiting = shared_.model.TakeNewlyAwaiting();
  }
  // Each timer advances before its step runs: a step that fails on a Redis error reply (the
  // connection stays up) is retried at its next period, not at once in a loop.
  if (newly_awaiting || now >= last_pending_poll_ + Backstop(options_.pending_poll_interval)) {
    last_pending_poll_ = now;
    RETURN_IF_ERROR(PollPendingApplDb());
  }
  if (now >= last_audit_ + Backstop(options_.audit_interval)) {
    // The first pass comes right after the reconcile that rewrote everything: nothing to audit.
    const bool first = last_audit_ == absl::InfinitePast();
    last_audit_ = now;
    if (!first) RETURN_IF_ERROR(FullAudit());
  }
  if (now >= last_logger_poll_ + Backstop(options_.logger_poll_interval)) {
    last_logger_poll_ = now;
    RETURN_IF_ERROR(PollLogger());
  }
  return absl::OkStatus();
}

void StateWriter::TakeBack(bool del, const std::string& name) {
  if (tracker_ != nullptr && tracker_->TakeBack(del, name)) shared_.writer.Wake();
}

absl::Status StateWriter::Flush() {
  RedisClient& state = *db_->state;
  std::vector<StateWrite> writes;
  bool publish_port_init_done = false;
  {
    absl::MutexLock lock(&shared_.mu);
    writes = shared_.model.TakeDirty();
    publish_port_init_done =
        !port_init_done_sent_ && shared_.initial_dump_done && shared_.model.pending_empty();
  }
  if (!writes.empty()) {
    const std::string key_prefix = state.Key(kPortTable, "");
    const std::vector<RedisArgv> commands = StateBatchCommands(writes, key_prefix);
    // The notifications these writes will cause are ours (WriteTracker::OnEvent skips them).
    if (tracker_ != nullptr) tracker_->ExpectWrites(writes);
    const absl::Time sent = clock_.Now();
    absl::StatusOr<std::vector<RedisReply>> pipelined = state.Pipeline(commands);
    if (!pipelined.ok()) {
      // Unknown what was applied; the reconnect audits everything.
      if (tracker_ != nullptr) tracker_->Clear();
      absl::MutexLock lock(&shared_.mu);
      shared_.model.AbandonWrites(writes);
      return pipelined.status();
    }
    const absl::Time acked = clock_.Now();
    counters_.redis_round_trip.Record(acked - sent);
    absl::Status refused;
    {
      absl::MutexLock lock(&shared_.mu);
      bool someone_else = false;
      refused = CompleteStateBatch(writes, key_prefix, *pipelined, acked, shared_.model, tracker_,
                                   counters_, &someone_else);
      // Also ports dirtied while their write was in flight here: nobody else takes them now.
      if (someone_else || shared_.model.HasDirty()) shared_.writer.Wake();
    }
    RETURN_IF_ERROR(refused);
  }
  if (publish_port_init_done && clock_.Now() >= port_init_done_retry_at_) {
    RedisClient& appl_db = *db_->appl;
    const DbEndpoint& appl = appl_db.endpoint();
    RedisArgv command =
        ProducerStateSet(kPortTable, appl.separator, appl.id, "PortInitDone", {{"lanes", "0"}});
    ASSIGN_OR_RETURN(RedisReply reply, appl_db.Command(command));
    if (absl::Status refused = CheckReplies({command}, {reply}); !refused.ok()) {
      // Every Flush would try again at once, and Flush runs before the timers: retry a second
      // later instead (NextDeadlineLocked includes it). Not the audit's period: with
      // notifications on that is a minute, and other daemons wait for PortInitDone.
      port_init_done_retry_at_ = clock_.Now() + kPortInitDoneRetry;
      return refused;
    }
    LOG_NOTICE("PortInitDone published: every configured port has its netdev");
    port_init_done_sent_ = true;
    port_init_done_ns_.store(absl::ToUnixNanos(clock_.Now()));
    shared_.port_init_done.store(true);
    // A cold start's other one-off peak ends here: every configured port pending, created and
    // written one by one as orchagent made the netdevs, with Redis' notifications of each.
    ReturnFreedHeap("PortInitDone");
  }
  return absl::OkStatus();
}

absl::Status StateWriter::PollPendingApplDb() {
  RedisClient& appl = *db_->appl;
  std::vector<std::string> names;
  {
    absl::MutexLock lock(&shared_.mu);
    names = shared_.model.AwaitingApplDb();
  }
  if (names.empty()) return absl::OkStatus();
  std::vector<RedisArgv> reads;
  for (const std::string& name : names) reads.push_back({"EXISTS", appl.Key(kPortTable, name)});
  ASSIGN_OR_RETURN(std::vector<RedisReply> replies, appl.Pipeline(reads));
  RETURN_IF_ERROR(CheckReplies(reads, replies));
  bool any = false;
  {
    absl::MutexLock lock(&shared_.mu);
    for (size_t i = 0; i < names.size(); ++i) {
      if (replies[i].integer == 1 && shared_.model.SetInApplDb(names[i], clock_.Now())) {
        LOG_INFO(names[i], ": APPL_DB entry appeared; publishing its kernel state");
        any = true;
      }
    }
    shared_.PublishChangesLocked();
  }
  return any ? Flush() : absl::OkStatus();
}

absl::Status StateWriter::PollLogger() { return logger_.Poll(*db_->config); }

}  // namespace portsyncd
