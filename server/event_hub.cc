#include "server/event_hub.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/logging.h"
#include "core/thread_name.h"
#include "server/port_state_proto.h"
#include "server/stream/reactor_sink.h"
#include "server/stream/write_pump.h"

namespace portsyncd {

// One StreamLinkEvents or WatchLinkEvents call. It sends, in order: `prefix_` (a RESYNC marker),
// then `snapshot_`, then live events from the hub's ring after `cursor_`. The write pump
// (server/stream/write_pump.h) asks Next() for everything pending, up to kMaxEventsPerBatch:
// StreamLinkEvents writes those as one message each, back to back in one flush;
// WatchLinkEvents as one LinkEventBatch. Next() runs only as the pump's busy owner, one call at a
// time, so the fields it uses need no lock of their own; StartAt/StartAfterSync run before the
// stream is registered or pumped.
class LinkEventStream : public grpc::ServerWriteReactor<grpc::ByteBuffer>,
                        public HubSubscriber,
                        private StreamSource {
 public:
  LinkEventStream(EventHub* hub, const v1::StreamLinkEventsRequest& request, bool batched)
      : hub_(hub),
        filter_(request.names().begin(), request.names().end()),
        batched_(batched),
        sink_(this),
        pump_(&sink_, this) {}

  const absl::flat_hash_set<std::string>& filter() const { return filter_; }
  bool Matches(const std::string& name) const { return filter_.empty() || filter_.contains(name); }

  // Where the stream starts (before it is registered).
  void StartAt(uint64_t cursor, SharedEvent marker, EventHub::SharedSnapshot snapshot) {
    cursor_ = cursor;
    if (marker) prefix_.push_back(std::move(marker));
    snapshot_ = std::move(snapshot);
    snapshot_pos_ = 0;
  }
  // Starts from a snapshot taken once the hub is synced (RESYNC first when `reason` is set).
  void StartAfterSync(std::string reason) {
    awaiting_sync_ = true;
    awaiting_sync_reason_ = std::move(reason);
  }

  void Pump() override { pump_.Kick(); }
  void Stop(grpc::Status status) override { pump_.Finish(std::move(status)); }
  void FinishWith(grpc::Status status) { pump_.Finish(std::move(status)); }
  void OnWriteDone(bool ok) override { pump_.OnWriteDone(ok); }
  void OnCancel() override { pump_.Finish(grpc::Status::CANCELLED); }
  void OnDone() override {
    hub_->Unregister(this);
    delete this;
  }

 private:
  Outgoing Next() override {
    Outgoing out;
    if (awaiting_sync_ && !StartIfSynced()) return out;  // the hub kicks every stream when synced
    std::vector<SharedEvent>& events = out.messages;
    while (!prefix_.empty() && events.size() < kMaxEventsPerBatch) {
      events.push_back(std::move(prefix_.front()));
      prefix_.pop_front();
    }
    while (snapshot_ && events.size() < kMaxEventsPerBatch) {
      events.push_back(snapshot_->events[snapshot_pos_++]);
      if (snapshot_pos_ == snapshot_->events.size()) snapshot_.reset();  // free it early
    }
    if (events.size() < kMaxEventsPerBatch) {
      std::string resync;
      hub_->TakeLive(*this, &cursor_, kMaxEventsPerBatch - events.size(), &events, &resync);
      if (!resync.empty()) {
        // Too far behind (TakeLive took nothing): RESYNC and a new snapshot.
        events.push_back(Resync(std::move(resync)));
        while (snapshot_ && events.size() < kMaxEventsPerBatch) {
          events.push_back(snapshot_->events[snapshot_pos_++]);
          if (snapshot_pos_ == snapshot_->events.size()) snapshot_.reset();
        }
      }
    }
    if (batched_ && !events.empty()) events = {ConcatAsRepeatedField(1, events)};
    return out;
  }

  // A stream that started before the hub was synced takes its snapshot now, if the hub is.
  // Returns false while it must still wait.
  bool StartIfSynced() {
    if (!hub_->synced()) return false;
    EventHub::SharedSnapshot snapshot = hub_->TakeSnapshot(filter_);
    if (!awaiting_sync_reason_.empty()) {
      prefix_.push_back(
          hub_->MakeMarker(v1::LinkEvent::TYPE_RESYNC, snapshot->sequence, awaiting_sync_reason_));
    }
    awaiting_sync_ = false;
    cursor_ = snapshot->sequence;
    snapshot_ = std::move(snapshot);
    snapshot_pos_ = 0;
    return true;
  }

  // Too far behind: restart from a snapshot. Returns the RESYNC marker to write first.
  SharedEvent Resync(std::string why) {
    EventHub::SharedSnapshot snapshot = hub_->TakeSnapshot(filter_);
    SharedEvent marker =
        hub_->MakeMarker(v1::LinkEvent::TYPE_RESYNC, snapshot->sequence, std::move(why));
    cursor_ = snapshot->sequence;
    prefix_.clear();
    snapshot_ = std::move(snapshot);
    snapshot_pos_ = 0;
    return marker;
  }

  // Events per write (StreamLinkEvents: per flush): a LinkEvent is ~100-200 bytes, so a batch
  // stays far below gRPC's 4 MiB message limit, and a 100,000-port snapshot goes out in pieces
  // between which live events are not held up for long.
  static constexpr size_t kMaxEventsPerBatch = 1024;

  EventHub* const hub_;
  const absl::flat_hash_set<std::string> filter_;
  const bool batched_;  // WatchLinkEvents
  ReactorSink<grpc::ServerWriteReactor<grpc::ByteBuffer>> sink_;
  WritePump pump_;
  // The pump's busy owner's (see the class comment).
  std::deque<SharedEvent> prefix_;
  EventHub::SharedSnapshot snapshot_;
  size_t snapshot_pos_ = 0;
  uint64_t cursor_ = 0;  // live events after this one are next
  bool awaiting_sync_ = false;
  std::string awaiting_sync_reason_;
};

EventHub::EventHub(Engine* engine, std::string instance_id, EventHubOptions options)
    : engine_(engine),
      instance_id_(std::move(instance_id)),
      max_streams_(options.max_streams),
      stream_queue_limit_(options.stream_queue_limit),
      replay_buffer_size_(options.replay_buffer),
      ring_capacity_(std::max(options.replay_buffer, options.stream_queue_limit)) {
  kicker_ = std::thread([this] {
    SetThreadName("ps-kicker");
    KickerLoop();
  });
}

EventHub::~EventHub() {
  {
    absl::MutexLock lock(&mu_);
    stop_kicker_ = true;
  }
  kicker_.join();
}

void EventHub::KickStreams() {
  // Unregister waits for kick_mu_, so no stream in the copy is deleted while it is used.
  absl::MutexLock kick_lock(&kick_mu_);
  std::vector<std::pair<HubSubscriber*, Api>> streams;
  {
    absl::MutexLock lock(&mu_);
    kick_ = false;
    streams = streams_;
  }
  for (const auto& [stream, api] : streams) stream->Pump();
}

void EventHub::set_limits(size_t max_streams, size_t stream_queue_limit) {
  max_streams_.store(max_streams);
  stream_queue_limit_.store(stream_queue_limit);
  absl::MutexLock lock(&mu_);
  ring_capacity_ = std::max(ring_capacity_, stream_queue_limit);
}

size_t EventHub::subscribers() const { return subscribers(Api::kPortSync); }

size_t EventHub::CountLocked(Api api) const {
  return static_cast<size_t>(std::count_if(streams_.begin(), streams_.end(),
                                           [api](const auto& s) { return s.second == api; }));
}

SharedEvent EventHub::MakeMarker(v1::LinkEvent::Type type, uint64_t sequence,
                                 std::string reason) const {
  v1::LinkEvent event;
  event.set_type(type);
  event.set_sequence(sequence);
  event.set_instance_id(instance_id_);
  ToProto(absl::Now(), event.mutable_time());
  event.set_reason(std::move(reason));
  return SerializeShared(event);
}

EventHub::SharedSnapshot EventHub::TakeSnapshot(const absl::flat_hash_set<std::string>& filter) {
  SharedPortSnapshot ports = TakePortSnapshot();  // synced: streams take none before
  if (ports == nullptr) ports = std::make_shared<PortSnapshot>();
  if (filter.empty()) {
    // Only a current one: an older one followed by the events since would present those
    // events, long past, as live ones.
    absl::MutexLock lock(&mu_);
    if (shared_snapshot_ && shared_snapshot_->sequence == ports->sequence) return shared_snapshot_;
  }
  auto snapshot = std::make_shared<Snapshot>();
  snapshot->sequence = ports->sequence;
  snapshot->events.reserve(ports->ports.size() + 1);
  for (const PortSnapshot::Entry& entry : ports->ports) {
    if (!entry.tracked || (!filter.empty() && !filter.contains(entry.port.name))) continue;
    v1::LinkEvent event;
    event.set_type(v1::LinkEvent::TYPE_SNAPSHOT);
    event.set_sequence(ports->sequence);
    event.set_instance_id(instance_id_);
    ToProto(ports->taken, event.mutable_time());
    ToProto(entry.port, entry.pending, event.mutable_port());
    snapshot->events.push_back(SerializeShared(event));
  }
  snapshot->events.push_back(MakeMarker(v1::LinkEvent::TYPE_SYNCED, ports->sequence, ""));
  if (filter.empty()) {
    absl::MutexLock lock(&mu_);
    if (!shared_snapshot_ || shared_snapshot_->sequence < snapshot->sequence) {
      shared_snapshot_ = snapshot;
    }
  }
  return snapshot;
}

EventHub::SharedPortSnapshot EventHub::TakePortSnapshot() {
  {
    absl::MutexLock lock(&mu_);
    if (!synced_) return nullptr;
    if (shared_ports_ && shared_ports_->sequence == head_sequence_) return shared_ports_;
  }
  // Copies under the model lock (the hub's lock nests inside it, as in OnPortChanges, so the
  // sequence and the ring agree); sorted after it is released.
  auto snapshot = std::make_shared<PortSnapshot>();
  engine_->WithModel([&](const PortModel& model) {
    snapshot->sequence = model.sequence();
    snapshot->taken = absl::Now();
    absl::MutexLock lock(&mu_);
    for (const auto& [name, port] : model.ports()) {
      snapshot->ports.push_back(PortSnapshot::Entry{port, model.pending().contains(name),
                                                    PortIndexLocked(name), IsTracked(port)});
    }
  });
  std::sort(snapshot->ports.begin(), snapshot->ports.end(),
            [](const auto& a, const auto& b) { return NaturalLess(a.port.name, b.port.name); });
  absl::MutexLock lock(&mu_);
  if (!shared_ports_ || shared_ports_->sequence < snapshot->sequence) shared_ports_ = snapshot;
  return snapshot;
}

uint32_t EventHub::PortIndexLocked(const std::string& name) {
  auto [it, inserted] = port_index_.try_emplace(name, static_cast<uint32_t>(port_index_.size()));
  return it->second;
}

void EventHub::TakeLive(const LinkEventStream& stream, uint64_t* cursor, size_t max,
                        std::vector<SharedEvent>* out, std::string* resync) {
  std::vector<SharedRecord> records;
  {
    absl::MutexLock lock(&mu_);
    if (*cursor >= head_sequence_) return;
    if (*cursor < evicted_upto_) {
      *resync = absl::StrCat("subscriber fell behind: events after ", *cursor,
                             " left the buffer; restarting from a snapshot");
      return;
    }
    auto it = FirstAfterLocked(*cursor);
    const size_t behind = static_cast<size_t>(ring_.cend() - it);
    if (behind > stream_queue_limit_.load()) {
      *resync = absl::StrCat("subscriber fell behind: ", behind,
                             " events queued; restarting from a snapshot");
      return;
    }
    for (; it != ring_.end() && records.size() < max; ++it) {
      *cursor = (*it)->sequence;
      if (stream.Matches((*it)->name())) records.push_back(*it);
    }
  }
  for (const SharedRecord& record : records) out->push_back(EventOf(*record));
}

std::deque<std::shared_ptr<ChangeRecord>>::const_iterator EventHub::FirstAfterLocked(
    uint64_t cursor) const {
  // Sequences in the ring increase: find the first after the cursor.
  return std::upper_bound(ring_.begin(), ring_.end(), cursor,
                          [](uint64_t c, const auto& r) { return c < r->sequence; });
}

SharedRecord EventHub::NextRecord(uint64_t* cursor,
                                  absl::FunctionRef<bool(const ChangeRecord&)> wants, bool* behind,
                                  bool replaying) {
  absl::MutexLock lock(&mu_);
  if (*cursor >= head_sequence_) return nullptr;
  if (*cursor < evicted_upto_) {
    *behind = true;
    return nullptr;
  }
  auto it = FirstAfterLocked(*cursor);
  if (!replaying && static_cast<size_t>(ring_.cend() - it) > stream_queue_limit_.load()) {
    *behind = true;
    return nullptr;
  }
  for (; it != ring_.end(); ++it) {
    *cursor = (*it)->sequence;
    if (wants(**it)) return *it;
  }
  return nullptr;
}

absl::StatusOr<uint64_t> EventHub::SequenceBefore(absl::Time start) {
  absl::MutexLock lock(&mu_);
  // Every change after the last evicted one is in the ring; with nothing evicted, every change
  // since the hub started.
  const absl::Time available =
      evicted_upto_ == 0 ? created_ : (ring_.empty() ? absl::Now() : ring_.front()->time);
  if (start < available) {
    return absl::OutOfRangeError(absl::StrCat("history from ", absl::FormatTime(start),
                                              " is not in the replay buffer: it holds changes "
                                              "from ",
                                              absl::FormatTime(available),
                                              " (grpc.replay_buffer records)"));
  }
  uint64_t before = evicted_upto_;
  for (const auto& record : ring_) {
    if (record->time >= start) break;
    before = record->sequence;
  }
  return before;
}

SharedEvent EventHub::EventOf(const ChangeRecord& record) const {
  absl::MutexLock lock(&record.mu);
  if (record.link_event) return record.link_event;
  v1::LinkEvent event;
  event.set_sequence(record.sequence);
  event.set_instance_id(instance_id_);
  ToProto(record.time, event.mutable_time());
  event.set_type(record.outcome == ApplyOutcome::kAdded     ? v1::LinkEvent::TYPE_ADDED
                 : record.outcome == ApplyOutcome::kRemoved ? v1::LinkEvent::TYPE_REMOVED
                                                            : v1::LinkEvent::TYPE_CHANGED);
  ToProto(*record.port, record.pending, event.mutable_port());
  record.link_event = SerializeShared(event);
  return record.link_event;
}

void EventHub::OnPortChanges(const PortModel& model, std::vector<PortChange>&& changes) {
  if (changes.empty()) return;
  absl::MutexLock lock(&mu_);
  for (PortChange& change : changes) {
    head_sequence_ = change.sequence;
    auto record = std::make_shared<ChangeRecord>();
    record->outcome = change.outcome;
    record->sequence = change.sequence;
    record->time = change.time;
    record->pending = model.pending().contains(change.name);
    record->port_index = PortIndexLocked(change.name);
    record->port = std::make_shared<const Port>(std::move(change.port));
    if (record->port_index >= last_port_.size()) last_port_.resize(record->port_index + 1);
    record->before = std::exchange(last_port_[record->port_index], record->port);
    ring_.push_back(std::move(record));
  }
  while (ring_.size() > ring_capacity_) {
    evicted_upto_ = ring_.front()->sequence;
    ring_.pop_front();
  }
  if (!streams_.empty()) kick_ = true;
}

void EventHub::OnInitialSync() {
  absl::MutexLock lock(&mu_);
  synced_ = true;
  if (!streams_.empty()) kick_ = true;
}

bool EventHub::synced() const {
  absl::MutexLock lock(&mu_);
  return synced_;
}

void EventHub::KickerLoop() {
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](EventHub* hub)
               ABSL_NO_THREAD_SAFETY_ANALYSIS { return hub->kick_ || hub->stop_kicker_; },
          this));
      if (stop_kicker_) return;
    }
    KickStreams();
  }
}

size_t EventHub::subscribers(Api api) const {
  absl::MutexLock lock(&mu_);
  return CountLocked(api);
}

bool EventHub::Register(HubSubscriber* stream, Api api) {
  absl::MutexLock lock(&mu_);
  if (shut_down_ || CountLocked(api) >= max_streams_.load()) return false;
  streams_.emplace_back(stream, api);
  return true;
}

bool EventHub::Subscribe(LinkEventStream* stream, const v1::StreamLinkEventsRequest& request) {
  std::string resync_reason;
  bool replay = false;
  {
    absl::MutexLock lock(&mu_);
    if (shut_down_ || CountLocked(Api::kPortSync) >= max_streams_.load()) return false;
    const uint64_t current = head_sequence_;
    const uint64_t after = request.resume_after();
    if (after > 0) {
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
      } else if (after < evicted_upto_ ||
                 after < current - std::min<uint64_t>(current, replay_buffer_size_)) {
        const uint64_t oldest = ring_.empty() ? current + 1 : ring_.front()->sequence;
        resync_reason = absl::StrCat("events after ", after,
                                     " are no longer in the replay buffer (oldest ", oldest, ")");
      } else {
        replay = true;  // everything after `after` is still in the ring
        stream->StartAt(after, nullptr, nullptr);
        streams_.emplace_back(stream, Api::kPortSync);
      }
    }
  }
  if (!replay && !synced()) {
    stream->StartAfterSync(std::move(resync_reason));
    if (!Register(stream, Api::kPortSync)) return false;
  } else if (!replay) {
    SharedSnapshot snapshot = TakeSnapshot(stream->filter());
    const uint64_t sequence = snapshot->sequence;
    SharedEvent marker = resync_reason.empty()
                             ? nullptr
                             : MakeMarker(v1::LinkEvent::TYPE_RESYNC, sequence, resync_reason);
    stream->StartAt(sequence, std::move(marker), std::move(snapshot));
    if (!Register(stream, Api::kPortSync)) return false;
  }
  stream->Pump();
  return true;
}

void EventHub::Unregister(HubSubscriber* stream) {
  absl::MutexLock kick_lock(&kick_mu_);
  absl::MutexLock lock(&mu_);
  streams_.erase(std::remove_if(streams_.begin(), streams_.end(),
                                [stream](const auto& s) { return s.first == stream; }),
                 streams_.end());
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* EventHub::StartStream(
    const v1::StreamLinkEventsRequest& request, bool batched) {
  auto* stream = new LinkEventStream(this, request, batched);
  for (const std::string& name : request.names()) {
    if (absl::Status s = ValidatePortName(name); !s.ok()) {
      stream->FinishWith(
          grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::string(s.message())));
      return stream;
    }
  }
  if (!Subscribe(stream, request)) {
    stream->FinishWith(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                    absl::StrCat("portsyncd serves at most ", max_streams_.load(),
                                                 " StreamLinkEvents and WatchLinkEvents streams "
                                                 "(grpc.max_streams), or is shutting down")));
  }
  return stream;
}

void EventHub::Shutdown() {
  absl::MutexLock lock(&mu_);
  shut_down_ = true;
  for (const auto& [stream, api] : streams_) {
    stream->Stop(grpc::Status(grpc::StatusCode::UNAVAILABLE, "portsyncd is shutting down"));
  }
}

}  // namespace portsyncd
