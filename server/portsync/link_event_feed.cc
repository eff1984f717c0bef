#include "server/portsync/link_event_feed.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/portsync/port_state_proto.h"

namespace portsyncd {
namespace {

// portsyncd.v1's keys in the hub's encoding caches (gNMI's are below 2^63).
constexpr uint64_t kLinkEventKey = uint64_t{1} << 63;

SharedBytes Marker(const std::string& instance_id, v1::LinkEvent::Type type, uint64_t sequence,
                   std::string reason) {
  v1::LinkEvent event;
  event.set_type(type);
  event.set_sequence(sequence);
  event.set_instance_id(instance_id);
  ToProto(absl::Now(), event.mutable_time());
  event.set_reason(std::move(reason));
  return SerializeShared(event);
}

// The record's LinkEvent, serialized the first time a stream takes it (so with no subscriber no
// proto is ever built), then shared.
SharedBytes EventOf(const std::string& instance_id, const ChangeRecord& record) {
  return record.encoded.Get<grpc::ByteBuffer>(kLinkEventKey, [&] {
    v1::LinkEvent event;
    event.set_sequence(record.sequence);
    event.set_instance_id(instance_id);
    ToProto(record.time, event.mutable_time());
    event.set_type(record.outcome == ApplyOutcome::kAdded     ? v1::LinkEvent::TYPE_ADDED
                   : record.outcome == ApplyOutcome::kRemoved ? v1::LinkEvent::TYPE_REMOVED
                                                              : v1::LinkEvent::TYPE_CHANGED);
    ToProto(*record.port, record.pending, event.mutable_port());
    return SerializeShared(event);
  });
}

using SnapshotEvents = std::vector<SharedBytes>;

// SNAPSHOT events for every tracked port matching `feed` (natural order), then SYNCED, all at
// the snapshot's sequence. Without a filter, built once per snapshot and shared.
std::shared_ptr<const SnapshotEvents> EventsOf(const std::string& instance_id,
                                               const PortSnapshot& ports, const LinkEventFeed& feed,
                                               bool filtered) {
  auto build = [&] {
    auto events = std::make_shared<SnapshotEvents>();
    events->reserve(ports.ports.size() + 1);
    for (const PortSnapshot::Entry& entry : ports.ports) {
      if (!entry.tracked || !feed.Matches(entry.port.name)) continue;
      v1::LinkEvent event;
      event.set_type(v1::LinkEvent::TYPE_SNAPSHOT);
      event.set_sequence(ports.sequence);
      event.set_instance_id(instance_id);
      ToProto(ports.taken, event.mutable_time());
      ToProto(entry.port, entry.pending, event.mutable_port());
      events->push_back(SerializeShared(event));
    }
    events->push_back(Marker(instance_id, v1::LinkEvent::TYPE_SYNCED, ports.sequence, ""));
    return std::shared_ptr<const SnapshotEvents>(std::move(events));
  };
  if (filtered) return build();
  return ports.encoded.Get<SnapshotEvents>(kLinkEventKey, build);
}

}  // namespace

LinkEventFeed::LinkEventFeed(EventHub* hub, const v1::StreamLinkEventsRequest& request,
                             bool batched)
    : hub_(hub),
      filter_(request.names().begin(), request.names().end()),
      resume_after_(request.resume_after()),
      resume_instance_(request.instance_id()),
      batched_(batched) {}

void LinkEventFeed::Start() {
  const uint64_t after = resume_after_;
  if (after > 0) {
    const EventHub::Position at = hub_->position();
    const std::string& instance = hub_->instance_id();
    if (resume_instance_.empty()) {
      // Sequences restart with each instance: without one, N cannot be trusted.
      resync_reason_ = absl::StrCat("resume_after ", after, " without an instance_id; this is ",
                                    "instance ", instance);
    } else if (resume_instance_ != instance) {
      resync_reason_ =
          absl::StrCat("instance ", resume_instance_, " is gone; this is instance ", instance);
    } else if (after > at.head) {
      resync_reason_ =
          absl::StrCat("resume_after ", after, " is beyond the last sequence ", at.head);
    } else if (after < at.evicted ||
               after < at.head - std::min<uint64_t>(at.head, hub_->replay_buffer())) {
      resync_reason_ = absl::StrCat("events after ", after,
                                    " are no longer in the replay buffer (oldest ", at.oldest, ")");
    } else {
      cursor_ = after;  // everything after it is still in the ring (else Next resyncs)
      return;
    }
  }
  awaiting_snapshot_ = true;
}

bool LinkEventFeed::TakeSnapshotIfSynced() {
  SharedPortSnapshot ports = hub_->TakePortSnapshot();
  if (ports == nullptr) return false;  // the hub kicks every stream once it is synced
  awaiting_snapshot_ = false;
  StartFromSnapshot(ports, std::move(resync_reason_));
  return true;
}

void LinkEventFeed::StartFromSnapshot(const SharedPortSnapshot& ports, std::string resync_reason) {
  prefix_.clear();
  if (!resync_reason.empty()) {
    prefix_.push_back(Marker(hub_->instance_id(), v1::LinkEvent::TYPE_RESYNC, ports->sequence,
                             std::move(resync_reason)));
  }
  snapshot_ = EventsOf(hub_->instance_id(), *ports, *this, !filter_.empty());
  snapshot_pos_ = 0;
  cursor_ = ports->sequence;
}

void LinkEventFeed::Resync(std::string why) {
  SharedPortSnapshot ports = hub_->TakePortSnapshot();  // synced: a live stream took one
  StartFromSnapshot(ports, std::move(why));
}

void LinkEventFeed::TakeQueued(std::vector<SharedBytes>* out) {
  while (!prefix_.empty() && out->size() < kMaxEventsPerBatch) {
    out->push_back(std::move(prefix_.front()));
    prefix_.pop_front();
  }
  while (snapshot_ && out->size() < kMaxEventsPerBatch) {
    out->push_back((*snapshot_)[snapshot_pos_++]);
    if (snapshot_pos_ == snapshot_->size()) snapshot_.reset();  // free it early
  }
}

Outgoing LinkEventFeed::Next() {
  Outgoing out;
  if (awaiting_snapshot_ && !TakeSnapshotIfSynced()) return out;
  std::vector<SharedBytes>& events = out.messages;
  TakeQueued(&events);
  if (events.size() < kMaxEventsPerBatch) {
    std::vector<SharedRecord> records;
    size_t queued = 0;
    switch (hub_->TakeRecords(
        &cursor_, [this](const ChangeRecord& r) { return Matches(r.name()); },
        kMaxEventsPerBatch - events.size(), &records, /*replaying=*/false, &queued)) {
      case EventHub::Gap::kNone:
        for (const SharedRecord& r : records) events.push_back(EventOf(hub_->instance_id(), *r));
        break;
      case EventHub::Gap::kEvicted:
        Resync(absl::StrCat("subscriber fell behind: events after ", cursor_,
                            " left the buffer; restarting from a snapshot"));
        TakeQueued(&events);
        break;
      case EventHub::Gap::kTooFarBehind:
        Resync(absl::StrCat("subscriber fell behind: ", queued,
                            " events queued; restarting from a snapshot"));
        TakeQueued(&events);
        break;
    }
  }
  if (batched_ && !events.empty()) events = {ConcatAsRepeatedField(1, events)};
  return out;
}

}  // namespace portsyncd
