#include "server/event_hub.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/logging.h"
#include "server/port_state_proto.h"

namespace portsyncd {

// One StreamLinkEvents call: a bounded queue of shared events and at most one write in flight,
// as in gRPC's default health service Watch reactor. Finish is idempotent and deferred while a
// write is in flight.
class LinkEventStream : public grpc::ServerWriteReactor<v1::LinkEvent> {
 public:
  LinkEventStream(EventHub* hub, const v1::StreamLinkEventsRequest& request)
      : hub_(hub), filter_(request.names().begin(), request.names().end()) {}

  const absl::flat_hash_set<std::string>& filter() const { return filter_; }
  bool Matches(const std::string& name) const { return filter_.empty() || filter_.contains(name); }

  // Initial events (snapshot or replay); called once, under the model and hub locks.
  void Start(std::vector<SharedEvent> initial, size_t queue_limit) {
    absl::MutexLock lock(&mu_);
    queue_limit_ = queue_limit;
    initial_size_ = initial.size();
    for (SharedEvent& e : initial) queue_.push_back(std::move(e));
    MaybeWriteLocked();
  }

  // A live event (hub lock held).
  void Enqueue(const SharedEvent& event, size_t queue_limit) {
    absl::MutexLock lock(&mu_);
    if (finishing_) return;
    if (resync_pending_) {  // the resync snapshot will cover it
      ++dropped_;
      return;
    }
    if (queue_.size() >= queue_limit + initial_size_) {
      // Too far behind: drop the backlog, resync when the client takes writes again.
      dropped_ = queue_.size() + 1;
      queue_.clear();
      resync_pending_ = true;
      return;
    }
    queue_.push_back(event);
    MaybeWriteLocked();
  }

  void FinishWith(grpc::Status status) {
    absl::MutexLock lock(&mu_);
    FinishLocked(std::move(status));
  }

  void OnWriteDone(bool ok) override {
    bool resync = false;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      in_flight_.reset();
      if (!ok) {
        FinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE, "write failed"));
        return;
      }
      if (finish_status_) {
        FinishLocked(*finish_status_);
        return;
      }
      resync = resync_pending_;
      if (!resync) MaybeWriteLocked();
    }
    if (resync) Resync();
  }

  void OnCancel() override { FinishWith(grpc::Status::CANCELLED); }

  void OnDone() override {
    hub_->Unregister(this);
    delete this;
  }

 private:
  // Replaces the dropped backlog by RESYNC + snapshot + SYNCED, consistent with the model:
  // events cannot be published while the model lock is held.
  void Resync() {
    hub_->engine()->WithModel([&](const PortModel& model) {
      std::vector<SharedEvent> events;
      absl::MutexLock lock(&mu_);
      if (finishing_) return;
      events.push_back(
          hub_->MakeMarker(v1::LinkEvent::TYPE_RESYNC, model.sequence(),
                           absl::StrCat("subscriber fell behind: ", dropped_,
                                        " queued events dropped; restarting from a snapshot")));
      hub_->AppendSnapshot(model, filter_, events);
      queue_.assign(events.begin(), events.end());
      initial_size_ = events.size();
      resync_pending_ = false;
      MaybeWriteLocked();
    });
  }

  void MaybeWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || finishing_ || queue_.empty()) return;
    in_flight_ = std::move(queue_.front());
    queue_.pop_front();
    if (initial_size_ > 0) --initial_size_;
    writing_ = true;
    StartWrite(in_flight_.get());
  }

  void FinishLocked(grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    if (writing_) {  // finish once the write in flight completes
      finishing_ = true;
      if (!finish_status_) finish_status_ = std::move(status);
      return;
    }
    finishing_ = true;
    finished_ = true;
    queue_.clear();
    Finish(std::move(status));
  }

  EventHub* const hub_;
  const absl::flat_hash_set<std::string> filter_;
  absl::Mutex mu_;
  std::deque<SharedEvent> queue_ ABSL_GUARDED_BY(mu_);
  SharedEvent in_flight_ ABSL_GUARDED_BY(mu_);  // kept alive until OnWriteDone
  size_t queue_limit_ ABSL_GUARDED_BY(mu_) = 0;
  size_t initial_size_ ABSL_GUARDED_BY(mu_) = 0;  // snapshot events still queued
  size_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool resync_pending_ ABSL_GUARDED_BY(mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> finish_status_ ABSL_GUARDED_BY(mu_);
};

EventHub::EventHub(Engine* engine, std::string instance_id, EventHubOptions options)
    : engine_(engine),
      instance_id_(std::move(instance_id)),
      max_streams_(options.max_streams),
      stream_queue_limit_(options.stream_queue_limit),
      replay_buffer_size_(options.replay_buffer) {}

void EventHub::set_limits(size_t max_streams, size_t stream_queue_limit) {
  max_streams_.store(max_streams);
  stream_queue_limit_.store(stream_queue_limit);
}

size_t EventHub::subscribers() const {
  absl::MutexLock lock(&mu_);
  return streams_.size();
}

SharedEvent EventHub::MakeMarker(v1::LinkEvent::Type type, uint64_t sequence,
                                 std::string reason) const {
  auto event = std::make_shared<v1::LinkEvent>();
  event->set_type(type);
  event->set_sequence(sequence);
  event->set_instance_id(instance_id_);
  ToProto(absl::Now(), event->mutable_time());
  event->set_reason(std::move(reason));
  return event;
}

void EventHub::AppendSnapshot(const PortModel& model,
                              const absl::flat_hash_set<std::string>& filter,
                              std::vector<SharedEvent>& out) const {
  std::vector<const Port*> ports;
  for (const auto& [name, port] : model.ports()) {
    if (IsTracked(port) && (filter.empty() || filter.contains(name))) ports.push_back(&port);
  }
  std::sort(ports.begin(), ports.end(),
            [](const Port* a, const Port* b) { return NaturalLess(a->name, b->name); });
  const absl::Time now = absl::Now();
  for (const Port* port : ports) {
    auto event = std::make_shared<v1::LinkEvent>();
    event->set_type(v1::LinkEvent::TYPE_SNAPSHOT);
    event->set_sequence(model.sequence());
    event->set_instance_id(instance_id_);
    ToProto(now, event->mutable_time());
    ToProto(model, *port, event->mutable_port());
    out.push_back(std::move(event));
  }
  out.push_back(MakeMarker(v1::LinkEvent::TYPE_SYNCED, model.sequence(), ""));
}

void EventHub::OnPortChanges(const PortModel& model, const std::vector<PortChange>& changes) {
  absl::MutexLock lock(&mu_);
  if (replay_buffer_size_ == 0 && streams_.empty()) return;
  const size_t queue_limit = stream_queue_limit_.load();
  for (const PortChange& change : changes) {
    auto event = std::make_shared<v1::LinkEvent>();
    event->set_sequence(change.sequence);
    event->set_instance_id(instance_id_);
    ToProto(change.time, event->mutable_time());
    event->set_type(change.outcome == ApplyOutcome::kAdded     ? v1::LinkEvent::TYPE_ADDED
                    : change.outcome == ApplyOutcome::kRemoved ? v1::LinkEvent::TYPE_REMOVED
                                                               : v1::LinkEvent::TYPE_CHANGED);
    ToProto(model, change.port, event->mutable_port());
    SharedEvent shared = std::move(event);
    if (replay_buffer_size_ > 0) {
      replay_.push_back(shared);
      if (replay_.size() > replay_buffer_size_) replay_.pop_front();
    }
    for (LinkEventStream* stream : streams_) {
      if (stream->Matches(change.name)) stream->Enqueue(shared, queue_limit);
    }
  }
}

bool EventHub::Subscribe(LinkEventStream* stream, const v1::StreamLinkEventsRequest& request) {
  bool accepted = false;
  engine_->WithModel([&](const PortModel& model) {
    absl::MutexLock lock(&mu_);
    if (shut_down_ || streams_.size() >= max_streams_.load()) return;
    std::vector<SharedEvent> initial;
    const uint64_t current = model.sequence();
    const uint64_t after = request.resume_after();
    std::string resync_reason;
    if (after > 0) {
      const uint64_t oldest = replay_.empty() ? current + 1 : replay_.front()->sequence();
      if (request.instance_id().empty()) {
        // Sequences restart with each instance: without one, N cannot be trusted.
        resync_reason = absl::StrCat("resume_after ", after, " without an instance_id; this is ",
                                     "instance ", instance_id_);
      } else if (request.instance_id() != instance_id_) {
        resync_reason = absl::StrCat("instance ", request.instance_id(),
                                     " is gone; this is instance ", instance_id_);
      } else if (after > current) {
        resync_reason =
            absl::StrCat("resume_after ", after, " is beyond the last sequence ", current);
      } else if (after + 1 < oldest) {
        resync_reason = absl::StrCat("events after ", after,
                                     " are no longer in the replay buffer (oldest ", oldest, ")");
      } else {
        for (const SharedEvent& e : replay_) {
          if (e->sequence() > after && stream->Matches(e->port().name())) initial.push_back(e);
        }
      }
      if (!resync_reason.empty()) {
        initial.push_back(MakeMarker(v1::LinkEvent::TYPE_RESYNC, current, resync_reason));
        AppendSnapshot(model, stream->filter(), initial);
      }
    } else {
      AppendSnapshot(model, stream->filter(), initial);
    }
    streams_.push_back(stream);
    stream->Start(std::move(initial), stream_queue_limit_.load());
    accepted = true;
  });
  return accepted;
}

void EventHub::Unregister(LinkEventStream* stream) {
  absl::MutexLock lock(&mu_);
  streams_.erase(std::remove(streams_.begin(), streams_.end(), stream), streams_.end());
}

grpc::ServerWriteReactor<v1::LinkEvent>* EventHub::StartStream(
    const v1::StreamLinkEventsRequest& request) {
  auto* stream = new LinkEventStream(this, request);
  for (const std::string& name : request.names()) {
    if (absl::Status s = ValidatePortName(name); !s.ok()) {
      stream->FinishWith(
          grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::string(s.message())));
      return stream;
    }
  }
  if (!Subscribe(stream, request)) {
    stream->FinishWith(grpc::Status(
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        absl::StrCat("portsyncd serves at most ", max_streams_.load(),
                     " StreamLinkEvents streams (grpc.max_streams), or is shutting down")));
  }
  return stream;
}

void EventHub::Shutdown() {
  absl::MutexLock lock(&mu_);
  shut_down_ = true;
  for (LinkEventStream* stream : streams_) {
    stream->FinishWith(grpc::Status(grpc::StatusCode::UNAVAILABLE, "portsyncd is shutting down"));
  }
}

}  // namespace portsyncd
