// EventHub: fans the engine's port changes out to StreamLinkEvents subscribers.
//
// The engine calls OnPortChanges with the model lock held; the hub turns each change into one
// immutable LinkEvent (shared by every subscriber and the replay buffer), appends it to the
// bounded replay buffer and queues it for every subscriber whose filter matches. Nothing here
// blocks: a queue that reaches its bound is dropped and replaced, when the subscriber can take
// writes again, by RESYNC + a fresh snapshot + SYNCED. So a stalled subscriber costs the engine
// one pointer copy per event until its bound, then nothing, and never loses an event silently.
//
// Lock order: the engine's model lock, then EventHub::mu_, then a stream's own lock.
//
// Threads: OnPortChanges on the engine (or writer) thread; everything else on gRPC threads.
#ifndef PORTSYNCD_SERVER_EVENT_HUB_H_
#define PORTSYNCD_SERVER_EVENT_HUB_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
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
  // Events kept for resume_after. 4096 covers a full flap of a 2,048-port switch (two events
  // each) or several seconds of a storm; each costs ~100-200 bytes.
  size_t replay_buffer = 4096;
  // Live events queued per subscriber beyond its initial snapshot before it is resynced. 1,024
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

  // PortChangeListener (model lock held).
  void OnPortChanges(const PortModel& model, const std::vector<PortChange>& changes) override;

  // Starts a StreamLinkEvents stream; the reactor deletes itself when done.
  grpc::ServerWriteReactor<v1::LinkEvent>* StartStream(const v1::StreamLinkEventsRequest& request);

  // Ends every stream with UNAVAILABLE; new streams are refused from now on.
  void Shutdown();

  const std::string& instance_id() const { return instance_id_; }
  size_t subscribers() const;
  void set_limits(size_t max_streams, size_t stream_queue_limit);
  Engine* engine() const { return engine_; }

  // Appends SNAPSHOT events for every tracked port matching `filter` (natural order), then
  // SYNCED, all at the model's current sequence. Model lock held.
  void AppendSnapshot(const PortModel& model, const absl::flat_hash_set<std::string>& filter,
                      std::vector<SharedEvent>& out) const;
  SharedEvent MakeMarker(v1::LinkEvent::Type type, uint64_t sequence, std::string reason) const;

 private:
  friend class LinkEventStream;
  // Registers `stream` and queues its first events (snapshot or replay). Returns false when the
  // stream limit is reached or the hub is shut down.
  bool Subscribe(LinkEventStream* stream, const v1::StreamLinkEventsRequest& request);
  void Unregister(LinkEventStream* stream);

  Engine* const engine_;
  const std::string instance_id_;
  std::atomic<size_t> max_streams_;
  std::atomic<size_t> stream_queue_limit_;
  const size_t replay_buffer_size_;

  mutable absl::Mutex mu_;
  std::deque<SharedEvent> replay_ ABSL_GUARDED_BY(mu_);
  std::vector<LinkEventStream*> streams_ ABSL_GUARDED_BY(mu_);
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace portsyncd

#endif  // PORTSYNCD_SERVER_EVENT_HUB_H_
