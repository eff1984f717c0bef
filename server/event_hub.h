// EventHub: fans the engine's port changes out to StreamLinkEvents subscribers.
//
// Pull, not push: the engine calls OnPortChanges with the model lock held, and the hub only moves
// each change into one shared ring (O(1) per change, whatever the number of subscribers), then
// wakes its kicker thread. The immutable LinkEvent of a change is built once, by the first
// stream that takes it, and shared. Each stream keeps a cursor
// (the last sequence it took) and, whenever it can write, takes the next event after its cursor
// from the ring. A stream more than stream_queue_limit events behind, or whose next event has
// left the ring, restarts from RESYNC + a snapshot + SYNCED. So the engine's cost and the
// memory are bounded by the ring, not by subscribers x events, and a stalled subscriber costs
// nothing at all. Snapshots are built from copies taken briefly under the model lock, and one
// unfiltered snapshot is shared by every stream that starts or resyncs while it is current (no
// event since it was taken). A stream that starts before the first link dump is applied waits
// for it before its snapshot.
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
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "core/engine.h"
#include "grpcpp/grpcpp.h"
#include "portsyncd/v1/portsyncd.pb.h"

namespace portsyncd {

using SharedEvent = std::shared_ptr<const v1::LinkEvent>;

struct EventHubOptions {
  // Events kept for resume_after (the ring holds max(replay_buffer, stream_queue_limit)). 4096 covers a full flap of a 2,048-port switch (two events
  // each) or several seconds of a storm; each costs ~100-200 bytes.
  size_t replay_buffer = 4096;
  // How many events a subscriber may fall behind the newest before it is resynced. 1,024
  // rides out a client pausing for a second under a moderate storm.
  size_t stream_queue_limit = 1024;
  // Concurrent StreamLinkEvents streams; each costs a queue and a share of every event.
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

  // Starts a StreamLinkEvents stream; the reactor deletes itself when done.
  grpc::ServerWriteReactor<v1::LinkEvent>* StartStream(const v1::StreamLinkEventsRequest& request);

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
  void Unregister(LinkEventStream* stream);
  // A snapshot for `filter`: the shared one when it is recent enough, else a new one. No locks
  // held by the caller.
  SharedSnapshot TakeSnapshot(const absl::flat_hash_set<std::string>& filter);
  // The first ring event after `*cursor` matching `stream`, or null; advances `*cursor` past the
  // events it skipped. Sets `*resync` (with a reason) when the stream is too far behind.
  SharedEvent NextLive(const LinkEventStream& stream, uint64_t* cursor, std::string* resync);
  SharedEvent MakeMarker(v1::LinkEvent::Type type, uint64_t sequence, std::string reason) const;
  void KickerLoop();

  Engine* const engine_;
  const std::string instance_id_;
  std::atomic<size_t> max_streams_;
  std::atomic<size_t> stream_queue_limit_;
  const size_t replay_buffer_size_;

  // Held by the kicker while it walks the streams, and by Unregister: a stream is not deleted
  // while the kicker may touch it.
  absl::Mutex kick_mu_;
  mutable absl::Mutex mu_;
  // A change as the engine gave it; its LinkEvent is built the first time a stream takes it, so
  // with no subscriber no proto is ever built.
  struct RingEntry {
    PortChange change;
    bool pending = false;
    SharedEvent event;
  };
  SharedEvent EventOf(RingEntry& entry) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::deque<RingEntry> ring_ ABSL_GUARDED_BY(mu_);
  size_t ring_capacity_ ABSL_GUARDED_BY(mu_);
  uint64_t head_sequence_ ABSL_GUARDED_BY(mu_) = 0;  // newest event appended
  uint64_t evicted_upto_ ABSL_GUARDED_BY(mu_) = 0;   // newest event dropped from the ring
  SharedSnapshot shared_snapshot_ ABSL_GUARDED_BY(mu_);
  std::vector<LinkEventStream*> streams_ ABSL_GUARDED_BY(mu_);
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  bool synced_ ABSL_GUARDED_BY(mu_) = false;
  bool kick_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_kicker_ ABSL_GUARDED_BY(mu_) = false;
  std::thread kicker_;
};

}  // namespace portsyncd

#endif  // PORTSYNCD_SERVER_EVENT_HUB_H_
