// EventHub: the change log every server stream reads, of both APIs (StreamLinkEvents and
// WatchLinkEvents, server/portsync/; gNMI Subscribe, server/gnmi/), and the snapshots they start
// from. It knows no API's types: each record holds the port after a change and before it, and an
// API derives and caches its own encodings in the record.
//
// Pull, not push: the engine calls OnPortChanges with the model lock held, and the hub only moves
// each change into one shared ring of ChangeRecords (O(1) per change, whatever the number of
// subscribers), then wakes its kicker thread, which pumps every registered stream. Each stream
// keeps a cursor (the last sequence it took) and, whenever it can write, takes the records after
// its cursor (TakeRecords). A stream more than stream_queue_limit records behind, or whose next
// record has left the ring, is told so (a Gap) and catches up from a snapshot, as its API says.
// So the engine's cost and the memory are bounded by the ring, not by subscribers x events, and a
// stalled subscriber costs nothing at all. Snapshots (TakePortSnapshot) are copies taken in
// slices, each briefly under the model lock, and shared by every stream that starts or catches up
// while they are current (no change since). Before the first link dump is applied there is none
// (synced()).
//
// Why a kicker thread rather than the engine thread starting writes: measured, the engine thread
// then pays for the fan-out's writes and STATE_DB's latency with 1,000 subscribers doubles
// (docs/PERFORMANCE.md, "Who starts the writes").
//
// Lock order: kick_mu_, then the engine's model lock, then EventHub::mu_, then a record's or
// snapshot's cache lock. A stream never holds its own lock while it calls the hub.
//
// Threads: OnPortChanges on the engine (or writer) thread; the kicker (ps-kicker) pumps streams;
// everything else on gRPC threads or the timer thread.
#ifndef PORTSYNCD_SERVER_STREAM_EVENT_HUB_H_
#define PORTSYNCD_SERVER_STREAM_EVENT_HUB_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/engine_shared.h"
#include "core/port_model.h"
#include "grpcpp/support/status.h"

namespace portsyncd {

// Encodings of one change or snapshot, each built once (by the first stream that wants it) and
// then shared by every stream that sends the same bytes. Keys are an API's own numbers.
class EncodingCache {
 public:
  template <typename T, typename Build>
  std::shared_ptr<const T> Get(uint64_t key, Build&& build) const {
    absl::MutexLock lock(&mu_);
    for (const auto& [k, encoded] : entries_) {
      if (k == key) return std::static_pointer_cast<const T>(encoded);
    }
    std::shared_ptr<const T> built = build();
    entries_.emplace_back(key, built);
    return built;
  }

 private:
  mutable absl::Mutex mu_;
  mutable std::vector<std::pair<uint64_t, std::shared_ptr<const void>>> entries_
      ABSL_GUARDED_BY(mu_);
};

// One change in the hub's ring, shared by every stream that takes it. Immutable once appended,
// except for what streams cache in it.
struct ChangeRecord {
  ApplyOutcome outcome = ApplyOutcome::kChanged;  // kAdded, kChanged or kRemoved
  uint64_t sequence = 0;                          // PortChange::sequence
  absl::Time time;                                // when the kernel message was received
  std::shared_ptr<const Port> port;               // the port right after the change
  // The port right before the change: the port of its previous record while that is alive
  // (shared), else the model's copy (PortChange::before). The hub keeps no copy of every port.
  std::shared_ptr<const Port> before;
  bool pending = false;     // the port was in the pending set right after the change
  uint32_t port_index = 0;  // dense per-name index (PortSnapshot uses the same)
  const std::string& name() const { return port->name; }
  bool removed() const { return outcome == ApplyOutcome::kRemoved || !port->in_kernel; }

  EncodingCache encoded;
  // One number an API derives from the change (gNMI: the leaves it changed), cached by the
  // first stream that computes it.
  static constexpr uint64_t kNotDerived = ~uint64_t{0};
  mutable std::atomic<uint64_t> derived{kNotDerived};
};
using SharedRecord = std::shared_ptr<const ChangeRecord>;

// Every port of the model (natural order) at one sequence: copied in slices, then the ports
// changed meanwhile copied again (EventHub::TakePortSnapshot).
struct PortSnapshot {
  uint64_t sequence = 0;
  absl::Time taken;
  struct Entry {
    Port port;
    bool pending = false;
    uint32_t index = 0;
    bool tracked = false;  // IsTracked: what portsyncd.v1 lists
  };
  std::vector<Entry> ports;
  EncodingCache encoded;  // streams that start close together share one snapshot
};
using SharedPortSnapshot = std::shared_ptr<const PortSnapshot>;

// A stream the hub kicks when new changes arrive.
class HubSubscriber {
 public:
  virtual ~HubSubscriber() = default;
  // Starts the next write unless one is in flight. Called with no hub lock held.
  virtual void Pump() = 0;
  // Ends the stream with `status` (hub shutdown).
  virtual void Stop(grpc::Status status) = 0;
};

struct EventHubOptions {
  // Changes kept for a resume (StreamLinkEvents' resume_after, gNMI's History): the ring holds
  // max(replay_buffer, stream_queue_limit). 4096 covers a full flap of a 2,048-port switch (two
  // changes each) or several seconds of a storm; each costs ~300 bytes.
  size_t replay_buffer = 4096;
  // How many changes a subscriber may fall behind the newest before it catches up from a
  // snapshot. 1,024 rides out a client pausing for a second under a moderate storm.
  size_t stream_queue_limit = 1024;
  // Concurrent streams of each API; each costs a cursor and a share of every change.
  size_t max_streams = 64;
  // Ports a snapshot copies per hold of the model lock (TakePortSnapshot): 4,096 hold it for
  // about half a millisecond, so the engine never waits longer behind a new stream.
  size_t snapshot_slice = 4096;
};

class EventHub : public PortChangeListener {
 public:
  // `model` (the engine: its WithModel) is not owned and must outlive the hub.
  EventHub(const ModelReader* model, std::string instance_id, EventHubOptions options);
  ~EventHub() override;

  // PortChangeListener (model lock held).
  void OnPortChanges(const PortModel& model, std::vector<PortChange>&& changes) override;
  void OnInitialSync() override;
  // The first link dump is applied: before it no snapshot is taken (streams wait for it), since
  // the model does not know the kernel yet (every port would look absent).
  bool synced() const;

  // Streams of each API are counted (and limited) apart.
  enum class Api { kPortSync, kGnmi };
  // Registers a stream for kicks; false when that API's stream limit is reached or the hub is
  // shut down. Unregister before the stream is deleted (it waits for a running kick).
  bool Register(HubSubscriber* stream, Api api);
  void Unregister(HubSubscriber* stream);

  // The current snapshot, shared while no change followed it and a stream still holds it. Null
  // before synced().
  SharedPortSnapshot TakePortSnapshot();

  // Why a stream cannot go on from its cursor.
  enum class Gap {
    kNone,
    kEvicted,       // its next record has left the ring
    kTooFarBehind,  // more than stream_queue_limit records are after its cursor
  };
  // Appends to `out` the records after `*cursor` that `wants`, at most `max`, advancing
  // `*cursor` past every record it looked at. Returns the gap (taking nothing) when there is one;
  // `replaying` (a History replay starts far back on purpose) is never too far behind. `*queued`
  // (optional): how many records were after the cursor.
  Gap TakeRecords(uint64_t* cursor, absl::FunctionRef<bool(const ChangeRecord&)> wants, size_t max,
                  std::vector<SharedRecord>* out, bool replaying = false, size_t* queued = nullptr);

  // Where the log stands, for a resume: the newest sequence, and the records after `evicted` are
  // all still in the ring (the oldest of them is `oldest`, head + 1 when the ring is empty).
  struct Position {
    uint64_t head = 0;
    uint64_t evicted = 0;
    uint64_t oldest = 1;
  };
  Position position() const;
  // For a replay from time `start`: the sequence after which the records at or after `start`
  // begin. OUT_OF_RANGE when changes at `start` may have left the buffer (or came before the
  // hub started).
  absl::StatusOr<uint64_t> SequenceBefore(absl::Time start);

  size_t stream_queue_limit() const { return stream_queue_limit_.load(); }
  size_t max_streams() const { return max_streams_.load(); }
  size_t replay_buffer() const { return replay_buffer_size_; }
  void set_limits(size_t max_streams, size_t stream_queue_limit);
  size_t subscribers(Api api) const;
  // This run of the daemon (streams tell resumers which run their sequences belong to).
  const std::string& instance_id() const { return instance_id_; }

  // Ends every stream with UNAVAILABLE; new streams are refused from now on.
  void Shutdown();

 private:
  void KickerLoop();
  // Pumps every registered stream (each starts a write unless one is in flight).
  void KickStreams();
  uint32_t PortIndexLocked(const std::string& name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  size_t CountLocked(Api api) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::deque<std::shared_ptr<ChangeRecord>>::const_iterator FirstAfterLocked(uint64_t cursor) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const ModelReader* const model_;
  const std::string instance_id_;
  std::atomic<size_t> max_streams_;
  std::atomic<size_t> stream_queue_limit_;
  const size_t replay_buffer_size_;
  const size_t snapshot_slice_;
  const absl::Time created_ = absl::Now();

  // Held by the kicker while it walks the streams, and by Unregister: a stream is not deleted
  // while the kicker may touch it.
  absl::Mutex kick_mu_;
  mutable absl::Mutex mu_;
  std::deque<std::shared_ptr<ChangeRecord>> ring_ ABSL_GUARDED_BY(mu_);
  // Each port's last record's port, by port index, not kept alive by this (16 bytes a port).
  std::vector<std::weak_ptr<const Port>> last_port_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, uint32_t> port_index_ ABSL_GUARDED_BY(mu_);
  // The last snapshot, while some stream holds it (streams that start close together share it
  // and its encodings); not kept past its use, so an idle daemon holds no copy of every port.
  std::weak_ptr<const PortSnapshot> shared_ports_ ABSL_GUARDED_BY(mu_);
  size_t ring_capacity_ ABSL_GUARDED_BY(mu_);
  uint64_t head_sequence_ ABSL_GUARDED_BY(mu_) = 0;  // newest change appended
  uint64_t evicted_upto_ ABSL_GUARDED_BY(mu_) = 0;   // newest change dropped from the ring
  std::vector<std::pair<HubSubscriber*, Api>> streams_ ABSL_GUARDED_BY(mu_);
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  bool synced_ ABSL_GUARDED_BY(mu_) = false;
  bool kick_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_kicker_ ABSL_GUARDED_BY(mu_) = false;
  std::thread kicker_;
};

}  // namespace portsyncd

#endif  // PORTSYNCD_SERVER_STREAM_EVENT_HUB_H_
