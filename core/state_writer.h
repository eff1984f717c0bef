// StateWriter: writes the model to STATE_DB (and PortInitDone to APPL_DB) and keeps it right.
//
// It writes what the model marks dirty, one pipelined round trip per batch. On a broken
// connection it drops all three, connects again with capped exponential backoff and, once
// connected, reconciles every key we own (rewrites every port, deletes stale keys). It also runs
// the periodic work: the pending-APPL_DB poll, the drift audit and the LOGGER poll, and the
// checks keyspace notifications ask for (core/write_tracker.h).
//
// Retry rules (each tested deterministically in tests/unit/state_writer_test.cc): a write Redis
// refuses (an error reply: the connection is fine) is never retried in a loop. A refused
// reconcile waits for the audit's period, a refused PortInitDone for kPortInitDoneRetry, a
// refused poll or audit for its own period; a broken connection is retried after the backoff.
//
// Thread: the writer thread runs Run(). Step() is one pass of it, for tests, which set the
// clock and call it directly with no thread.
// Owns: the Redis connections, every timer and the backoff, what the LOGGER poll last saw, the
// PortInitDone publication.
// Shares: the model (SharedModel; its mutex held only for in-memory work, never across Redis
// I/O), the counters, the WriteTracker.
// Calls: RedisConnector and RedisClient, Clock, WriteTracker, the model's listener (an APPL_DB
// entry appearing publishes a change).
#ifndef PORTSYNCD_CORE_STATE_WRITER_H_
#define PORTSYNCD_CORE_STATE_WRITER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "core/clock.h"
#include "core/engine_shared.h"
#include "core/log_level_follower.h"
#include "core/logging.h"
#include "core/redis_client.h"
#include "core/write_tracker.h"

namespace portsyncd {

// A refused PortInitDone (an error reply) is tried again this much later.
inline constexpr absl::Duration kPortInitDoneRetry = absl::Seconds(1);

class StateWriter {
 public:
  // `tracker` is null when keyspace notifications are not used. `logger_level_seen` is the
  // LOGGER|portsyncd LOGLEVEL startup read (a poll acts only on a change from it).
  StateWriter(const EngineOptions& options, DbEndpoints endpoints, SharedModel& shared,
              EngineCounters& counters, RedisConnector& connector, const Clock& clock,
              WriteTracker* tracker);
  StateWriter(const StateWriter&) = delete;
  StateWriter& operator=(const StateWriter&) = delete;

  void set_logger_level_seen(std::string level) { logger_.set_seen(std::move(level)); }

  // The writer thread's body: waits until woken or the next deadline, then Step(); returns
  // after the pass that saw SharedModel::writer stopped (which flushes what is queued).
  void Run();
  // One pass at clock.Now(): connects when due, reconciles, writes what is dirty, runs the
  // timers that are due; with `stop`, flushes before returning. Does nothing before the initial
  // dump. Writer thread (or a test) only.
  void Step(bool stop);
  // When the next pass is due though nothing wakes the writer (InfiniteFuture: never).
  absl::Time NextDeadlineLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(shared_.mu);

  // Keyspace notifications are subscribed everywhere: the polls become a backstop.
  void set_keyspace_active(bool active) { keyspace_active_.store(active); }
  bool keyspace_active() const { return keyspace_active_.load(); }
  // The period of the audit and the polls: longer while notifications are on.
  absl::Duration Backstop(absl::Duration polling) const;

  // Tests: runs between two holds of the model lock by the reconcile and the audit (which
  // judge options.audit_slice ports per hold), with the lock free.
  void set_between_slices_for_test(std::function<void()> between) {
    between_slices_ = std::move(between);
  }

  // Any thread.
  bool connected() const { return connected_.load(); }
  absl::Time connected_since() const { return absl::FromUnixNanos(connected_since_ns_.load()); }
  bool initial_write_done() const { return initial_write_done_.load(); }
  bool port_init_done() const { return shared_.port_init_done.load(); }
  absl::Time port_init_done_time() const { return absl::FromUnixNanos(port_init_done_ns_.load()); }

 private:
  // What health reports of the writer: a pass that changes it notifies the state listener.
  struct Fingerprint {
    bool connected, initial_write_done, port_init_done;
    uint64_t writes, errors;
    bool operator==(const Fingerprint&) const = default;
  };
  Fingerprint Seen() const;
  void StepOnce(bool stop);
  [[nodiscard]] absl::Status Tick(absl::Time now);
  [[nodiscard]] absl::Status Flush();
  enum class ReconcileMode {
    kRewriteAll,  // after a broken connection: forget what we wrote, rewrite every port
    kStaleKeys,   // after the initial dump, on the first connection: delete stale keys only
    kAudit,       // compare our STATE_DB keys with what we wrote and repair what differs
  };
  // Deletes stale keys of ours and, by mode, rewrites or audits the rest. `only` (kAudit):
  // just these ports, without a SCAN.
  [[nodiscard]] absl::Status Reconcile(ReconcileMode mode,
                                       const std::vector<std::string>* only = nullptr);
  // Before the initial dump ends: reads STATE_DB's keys once, writes what is dirty.
  [[nodiscard]] absl::Status WriteDuringInitialDump();
  [[nodiscard]] absl::Status FullAudit();
  [[nodiscard]] absl::Status HandleKeyspace(absl::Time now);
  [[nodiscard]] absl::Status PollPendingApplDb();
  [[nodiscard]] absl::Status PollLogger();
  void SetConnected(bool connected);
  // A command that notified nothing: see WriteTracker::TakeBack.
  void TakeBack(bool del, const std::string& name);

  const EngineOptions& options_;
  const DbEndpoints endpoints_;
  SharedModel& shared_;
  EngineCounters& counters_;
  RedisConnector& connector_;
  const Clock& clock_;
  WriteTracker* const tracker_;
  std::function<void()> between_slices_;  // tests only

  // Writer thread only.
  std::unique_ptr<DbClients> db_;
  absl::Duration backoff_;
  absl::Time next_connect_ = absl::InfinitePast();
  absl::Time down_since_ = absl::InfinitePast();
  bool need_reconcile_ = true;  // the first pass after the initial dump removes stale keys
  // A connection broke since the start: the next reconcile rewrites every port.
  bool rewrite_on_reconcile_ = false;
  // STATE_DB's PORT_TABLE keys, read while the initial dump runs, for the first reconcile.
  std::optional<std::vector<std::string>> state_keys_before_dump_;
  // When a reconcile Redis refused (an error reply) is tried again: at the audit's period, so a
  // key of the wrong type costs one refusal per period, never a retry loop.
  absl::Time reconcile_at_ = absl::InfinitePast();
  bool healthy_ = false;     // the current connection has completed a pass
  LogLevelFollower logger_;  // the LOGGER poll's logic (core/log_level_follower.h)
  absl::Time last_pending_poll_ = absl::InfinitePast();
  absl::Time last_audit_ = absl::InfinitePast();
  absl::Time last_logger_poll_ = absl::InfinitePast();
  // The engine thread's direct connection: the next try after one failed.
  absl::Time next_direct_attempt_ = absl::InfinitePast();
  void OfferDirectConnection(absl::Time now);
  // When a PortInitDone Redis refused is tried again (each Flush would retry it at once).
  absl::Time port_init_done_retry_at_ = absl::InfinitePast();
  bool port_init_done_sent_ = false;
  LogRateLimiter down_log_{10.0};
  LogRateLimiter refused_log_{10.0};
  LogRateLimiter drift_log_{1.0};  // notified drift is logged once a second

  std::atomic<bool> keyspace_active_{false};
  std::atomic<bool> connected_{false};
  std::atomic<int64_t> connected_since_ns_;
  std::atomic<bool> initial_write_done_{false};
  std::atomic<int64_t> port_init_done_ns_{0};
};

}  // namespace portsyncd

#endif  // PORTSYNCD_CORE_STATE_WRITER_H_
