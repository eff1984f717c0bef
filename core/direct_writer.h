// DirectWriter: the engine thread's own STATE_DB connection, so a kernel change reaches Redis
// without crossing to the writer thread. That hand-over was most of the daemon's latency over
// the floor probe (docs/PERFORMANCE.md, "Where the daemon's time goes").
//
// It never blocks: the connection is non-blocking, a batch is written as far as the socket
// takes it (the rest when the engine's poll says writable), and replies are read when the
// engine's poll says readable. Batches are pipelined: what a netlink batch made dirty is sent at
// once, behind the batches still in flight (up to kMaxBatchesInFlight; beyond that it waits for
// the oldest reply, never for the writer thread). A port's write is never in flight twice
// (PortModel::TakeDirty leaves it dirty until its reply, and the reply's completion sends it
// again), so its writes and the writer thread's cannot reorder one key.
// The oldest batch unanswered after `redis_timeout`, an I/O error or a protocol error gives the
// connection up: the writes of every batch in flight are abandoned to the writer thread, which
// writes them, reconnects and offers a new connection. So a slow or absent Redis never stops netlink reading, and
// everything but the plain port writes (startup, reconcile, audits, polls, PortInitDone, the
// recovery from any error) stays with the writer.
//
// Thread: the engine thread only (KernelFollower's loop). Owns: the connection, handed over
// connected by the writer thread (SharedModel::direct, a DirectHandOver), and the batches in
// flight.
// Shares: the model (TakeDirty / CompleteWrite under its mutex), the counters, the WriteTracker.
#ifndef PORTSYNCD_CORE_DIRECT_WRITER_H_
#define PORTSYNCD_CORE_DIRECT_WRITER_H_

#include <poll.h>

#include <deque>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "core/engine_shared.h"
#include "core/logging.h"
#include "core/redis_connection.h"
#include "core/write_tracker.h"

namespace portsyncd {

// Connects `endpoint` (blocking, with `timeout`), SELECTs its database and leaves the connection
// non-blocking, for a DirectWriter. The writer thread calls it. Null with *error set on failure.
RedisContextPtr ConnectDirect(const DbEndpoint& endpoint, absl::Duration timeout,
                              std::string* error);

class DirectWriter {
 public:
  // `key_prefix`: STATE_DB's "PORT_TABLE" + separator.
  DirectWriter(const EngineOptions& options, std::string key_prefix, SharedModel& shared,
               EngineCounters& counters, WriteTracker* tracker);

  // Asks the writer thread for a connection (once, at the start and after each give-up).
  void Want();
  // Takes the connection the writer left, if any.
  void Adopt();
  // Batches sent and not yet answered, at most (more dirty ports wait for the oldest reply).
  static constexpr size_t kMaxBatchesInFlight = 8;

  bool active() const { return context_ != nullptr; }
  bool busy() const { return !in_flight_.empty(); }
  size_t batches_in_flight() const { return in_flight_.size(); }
  // Sends what the model has dirty as one more batch in flight. True when there was nothing the
  // writer thread must be woken for: the writes are sent, there were none, or they wait for a
  // batch in flight to be answered (its completion sends them). False without a connection.
  bool Send(absl::Time now);
  // The poll entry while active (fd -1 otherwise).
  pollfd PollFd() const;
  // After poll: the connection's revents.
  void OnReady(short revents, absl::Time now);
  // When the oldest batch in flight times out (InfiniteFuture when none).
  absl::Time deadline() const {
    return busy() ? in_flight_.front().sent + options_.redis_timeout : absl::InfiniteFuture();
  }
  void CheckTimeout(absl::Time now);
  // Abandons the batches in flight to the writer thread and frees the connection (at shutdown,
  // quietly).
  void GiveUp(const std::string& why, bool quiet = false);

 private:
  struct Batch {
    std::vector<StateWrite> writes;
    size_t commands = 0;  // StateBatchCommandCount(writes): the replies it waits for
    absl::Time sent;
  };
  // Records the oldest batch, answered in full (replies_), in the model.
  void CompleteOldest(absl::Time now);

  const EngineOptions& options_;
  const std::string key_prefix_;
  SharedModel& shared_;
  EngineCounters& counters_;
  WriteTracker* const tracker_;
  ReplyElementLimit reply_limit_;  // before the context: it must outlive the context's reader
  RedisContextPtr context_;
  bool wanted_ = false;
  std::deque<Batch> in_flight_;      // oldest first, as Redis answers them
  std::vector<RedisReply> replies_;  // to the oldest batch, so far
  std::string protocol_;             // the batch being sent, in Redis' protocol (reused)
  bool output_pending_ = false;
  LogRateLimiter log_{10.0};
};

}  // namespace portsyncd

#endif  // PORTSYNCD_CORE_DIRECT_WRITER_H_
