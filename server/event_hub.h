// EventHub: fans the engine's port changes out to the streams of both APIs (StreamLinkEvents,
// here; gNMI Subscribe, server/gnmi_service.cc, through HubSubscriber and NextRecord).
//
// Pull, not push: the engine calls OnPortChanges with the model lock held, and the hub only moves
// each change into one shared ring of ChangeRecords (O(1) per change, whatever the number of
// subscribers), then wakes its kicker thread. A record's encodings (its LinkEvent; a gNMI
// format's notification) are serialized once, by the first stream that takes them, and the same
// bytes are written by every stream. Each stream keeps a cursor (the last sequence it took) and,
// whenever it can write, takes the next record after its cursor from the ring. A StreamLinkEvents
// stream more than stream_queue_limit events behind, or whose next event has left the ring,
// restarts from RESYNC + a snapshot + SYNCED (a gNMI stream is coalesced instead). So the
// engine's cost and the memory are bounded by the ring, not by subscribers x events, and a
// stalled subscriber costs nothing at all. Snapshots (TakePortSnapshot, one mechanism for both
// APIs) are built from copies taken briefly under the model lock and shared by every stream that
// starts or resyncs while they are current (no event since). A stream that starts before the
// first link dump is applied waits for it before its snapshot.
//
// Lock order: kick_mu_, then the engine's model lock, then EventHub::mu_, then a stream's lock
// (a stream never holds its own lock while it takes the hub's).
//
// Threads: OnPortChanges on the engine (or writer) thread; the kicker starts writes on idle
// streams; everything else on gRPC threads.
#ifndef PORTSYNCD_SERVER_EVENT_HUB_H_
#define PORTSYNCD_SERVER_EVENT_HUB_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "core/engine.h"
#include "grpcpp/grpcpp.h"
#include "portsyncd/v1/portsyncd.pb.h"
#include "server/wire_bytes.h"

namespace portsyncd {

// A LinkEvent as the bytes gRPC writes, serialized once for every stream (server/wire_bytes.h).
using SharedEvent = SharedBytes;

// One change in the hub's ring, shared by every stream of both APIs that takes it. Immutable
// once appended, except for what streams cache in it (built once by the first stream that wants
// it, then shared). The hub knows no API's types: an API derives what it shows from `port` and
// `before` (gNMI: which of its leaves changed) when a stream of it first asks.
struct ChangeRecord {
  ApplyOutcome outcome = ApplyOutcome::kChanged;  // kAdded, kChanged or kRemoved
  uint64_t sequence = 0;                          // PortChange::sequence
  absl::Time time;                                // when the kernel message was received
  std::shared_ptr<const Port> port;               // the port right after the change
  // The port right after its previous change in this log; null for its first one since the
  // hub started. (Each Port is shared by two records at most: no chain of old records.)
  std::shared_ptr<const Port> before;
  bool pending = false;     // the port was in the pending set right after the change
  uint32_t port_index = 0;  // dense per-name index (EventHub::PortSnapshot uses the same)
  const std::string& name() const { return port->name; }
  bool removed() const { return outcome == ApplyOutcome::kRemoved || !port->in_kernel; }

  mutable absl::Mutex mu;
  mutable SharedEvent link_event ABSL_GUARDED_BY(mu);  // portsyncd.v1's
  // Other encodings of this change, by a key of the API's choosing (a number, compared
  // without building anything per stream).
  mutable std::vector<std::pair<uint64_t, std::shared_ptr<const void>>> encoded ABSL_GUARDED_BY(mu);
  // One number an API derives from the change, cached by the first stream that computes it.
  static constexpr uint64_t kNotDerived = ~uint64_t{0};
  mutable std::atomic<uint64_t> derived{kNotDerived};
};
using SharedRecord = std::shared_ptr<const ChangeRecord>;

// A stream the hub kicks when new changes arrive (see EventHub's comment).
class HubSubscriber {
 public:
  virtual ~HubSubscriber() = default;
  // Starts the next write unless one is in flight. Called with no hub lock held.
  virtual void Pump() = 0;
  // Ends the stream with `status` (hub shutdown).
  virtual void Stop(grpc::Status status) = 0;
};

struct EventHubOptions {
  // Events kept for resume_after (the ring holds max(replay_buffer, stream_queue_limit)). 4096
  // covers a full flap of a 2,048-port switch (two events each) or several seconds of a storm; each
  // costs ~100-200 bytes.
  size_t replay_buffer = 4096;
  // How many events a subscriber may fall behind the newest before it is resynced. 1,024
  // rides out a client pausing for a second under a moderate storm.
  size_t stream_queue_limit = 1024;
  // Concurrent streams of each API (StreamLinkEvents; gNMI Subscribe); each costs a cursor and
  // a share of every event.
  size_t max_streams = 64;
};

class LinkEventStream;

class EventHub : public PortChangeListener {
 public:
  // `engine` is not owned and must outlive the hub.
  EventHub(Engine* engine, std::string instance_id, EventHubOptions options);
  ~EventHub() override;

  // PortChangeListener (model lock held).
  void OnPortChanges(const PortModel& model, std::vector<PortChange>&& changes) override;
  void OnInitialSync() override;
  // The first link dump is applied: before it no snapshot is taken (streams wait for it), since
  // the model does not know the kernel yet (every port would look absent).
  bool synced() const;

  // Starts a StreamLinkEvents stream (`batched`: WatchLinkEvents, LinkEventBatch messages); the
  // reactor deletes itself when done.
  grpc::ServerWriteReactor<grpc::ByteBuffer>* StartStream(
      const v1::StreamLinkEventsRequest& request, bool batched);

  // --- For the other API's streams (gNMI) -------------------------------------------------
  enum class Api { kPortSync, kGnmi };
  // Registers a stream of `api` for kicks; false when that API's stream limit is reached or the
  // hub is shut down. Unregister before the stream is deleted (it waits for a running kick).
  bool Register(HubSubscriber* stream, Api api);
  void Unregister(HubSubscriber* stream);
  // Every port of the model (natural order) at one sequence, copied under the model lock;
  // shared while it is current. Null before the first link dump is applied.
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
    // Encodings of this snapshot, by a key of the API's choosing: streams that start close
    // together share one (the snapshot is shared while current).
    mutable absl::Mutex mu;
    mutable std::vector<std::pair<uint64_t, std::shared_ptr<const void>>> encoded
        ABSL_GUARDED_BY(mu);
  };
  using SharedPortSnapshot = std::shared_ptr<const PortSnapshot>;
  SharedPortSnapshot TakePortSnapshot();
  // The first ring record after `*cursor` that `wants`, advancing `*cursor` past every record
  // it looked at. Null when none; `*behind` set (and null returned) when the stream's next
  // record has left the ring or, unless `replaying` (a History replay starts far back on
  // purpose), it is more than stream_queue_limit records behind.
  SharedRecord NextRecord(uint64_t* cursor, absl::FunctionRef<bool(const ChangeRecord&)> wants,
                          bool* behind, bool replaying = false);
  // For a replay from time `start`: the sequence after which the records at or after `start`
  // begin. OUT_OF_RANGE when changes at `start` may have left the buffer (or came before the
  // hub started).
  absl::StatusOr<uint64_t> SequenceBefore(absl::Time start);
  size_t stream_queue_limit() const { return stream_queue_limit_.load(); }
  size_t max_streams() const { return max_streams_.load(); }
  size_t subscribers(Api api) const;

  // Ends every stream with UNAVAILABLE; new streams are refused from now on.
  void Shutdown();

  const std::string& instance_id() const { return instance_id_; }
  size_t subscribers() const;
  void set_limits(size_t max_streams, size_t stream_queue_limit);

  // SNAPSHOT events for every tracked port matching `filter` (natural order), then SYNCED, all
  // at one model sequence.
  struct Snapshot {
    uint64_t sequence = 0;
    std::vector<SharedEvent> events;
  };
  using SharedSnapshot = std::shared_ptr<const Snapshot>;

 private:
  friend class LinkEventStream;
  // Registers `stream` and sets where it starts (replay from the ring, or a snapshot). Returns
  // false when the stream limit is reached or the hub is shut down.
  bool Subscribe(LinkEventStream* stream, const v1::StreamLinkEventsRequest& request);
  // A snapshot for `filter`: the shared one when it is recent enough, else a new one. No locks
  // held by the caller.
  SharedSnapshot TakeSnapshot(const absl::flat_hash_set<std::string>& filter);
  // Appends to `out` up to `max` ring events after `*cursor` matching `stream`, advancing
  // `*cursor` past every event it looked at. Sets `*resync` (with a reason), and takes nothing,
  // when the stream is too far behind.
  void TakeLive(const LinkEventStream& stream, uint64_t* cursor, size_t max,
                std::vector<SharedEvent>* out, std::string* resync);
  SharedEvent MakeMarker(v1::LinkEvent::Type type, uint64_t sequence, std::string reason) const;
  void KickerLoop();
  // Pumps every registered stream (each starts a write unless one is in flight).
  void KickStreams();

  Engine* const engine_;
  const std::string instance_id_;
  std::atomic<size_t> max_streams_;
  std::atomic<size_t> stream_queue_limit_;
  const size_t replay_buffer_size_;

  // Held by the kicker while it walks the streams, and by Unregister: a stream is not deleted
  // while the kicker may touch it.
  absl::Mutex kick_mu_;
  mutable absl::Mutex mu_;
  // The LinkEvent of a record, built the first time a stream takes it (so with no subscriber
  // no proto is ever built), then shared.
  SharedEvent EventOf(const ChangeRecord& record) const;
  uint32_t PortIndexLocked(const std::string& name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  size_t CountLocked(Api api) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::deque<std::shared_ptr<ChangeRecord>>::const_iterator FirstAfterLocked(uint64_t cursor) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::deque<std::shared_ptr<ChangeRecord>> ring_ ABSL_GUARDED_BY(mu_);
  // Each port as of its last change, by port index (the next change's `before`).
  std::vector<std::shared_ptr<const Port>> last_port_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, uint32_t> port_index_ ABSL_GUARDED_BY(mu_);
  SharedPortSnapshot shared_ports_ ABSL_GUARDED_BY(mu_);
  const absl::Time created_ = absl::Now();
  size_t ring_capacity_ ABSL_GUARDED_BY(mu_);
  uint64_t head_sequence_ ABSL_GUARDED_BY(mu_) = 0;  // newest event appended
  uint64_t evicted_upto_ ABSL_GUARDED_BY(mu_) = 0;   // newest event dropped from the ring
  SharedSnapshot shared_snapshot_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<HubSubscriber*, Api>> streams_ ABSL_GUARDED_BY(mu_);
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  bool synced_ ABSL_GUARDED_BY(mu_) = false;
  bool kick_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_kicker_ ABSL_GUARDED_BY(mu_) = false;
  std::thread kicker_;
};

}  // namespace portsyncd

#endif  // PORTSYNCD_SERVER_EVENT_HUB_H_
