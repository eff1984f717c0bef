// LinkEventFeed: what one StreamLinkEvents or WatchLinkEvents stream sends next; the source of its
// write pump (server/stream/write_pump.h). No gRPC reactor here: tests/unit/link_event_feed_test
// drives it over a hub fed by hand.
//
// A stream sends, in order: a RESYNC marker when a resume was asked for and cannot be served,
// then a snapshot (SNAPSHOT per tracked port, then SYNCED) once the hub is synced, then every
// change after it; or, for a resume the hub can still serve, the changes after resume_after.
// Next() returns everything pending, up to kMaxEventsPerBatch events: StreamLinkEvents writes
// them as one message each, WatchLinkEvents as one LinkEventBatch. A stream that falls too far
// behind gets RESYNC and a new snapshot.
//
// Each change's LinkEvent, and an unfiltered snapshot's events, are serialized once and shared by
// every stream (EncodingCache). Not thread-safe: the pump calls Next() one call at a time.
#ifndef PORTSYNCD_SERVER_PORTSYNC_LINK_EVENT_FEED_H_
#define PORTSYNCD_SERVER_PORTSYNC_LINK_EVENT_FEED_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "portsyncd/v1/portsyncd.pb.h"
#include "server/stream/event_hub.h"
#include "server/stream/wire_bytes.h"
#include "server/stream/write_pump.h"

namespace portsyncd {

class LinkEventFeed : public StreamSource {
 public:
  // Events per write (StreamLinkEvents: per turn of the pump): a LinkEvent is ~100-200 bytes,
  // so a batch stays far below gRPC's 4 MiB message limit, and a 100,000-port snapshot goes out
  // in pieces between which live events are not held up for long.
  static constexpr size_t kMaxEventsPerBatch = 1024;

  // `hub` is not owned and must outlive the feed. `batched`: WatchLinkEvents.
  LinkEventFeed(EventHub* hub, const v1::StreamLinkEventsRequest& request, bool batched);

  // Decides where the stream starts (a resume the hub can serve, or a snapshot). Call once,
  // before the stream is registered with the hub.
  void Start();
  Outgoing Next() override;

  bool Matches(const std::string& name) const { return filter_.empty() || filter_.contains(name); }

 private:
  // A stream waiting for its snapshot takes it now, if the hub is synced; false while it must
  // still wait.
  bool TakeSnapshotIfSynced();
  // Too far behind: RESYNC with `why`, then a new snapshot.
  void Resync(std::string why);
  void StartFromSnapshot(const SharedPortSnapshot& ports, std::string resync_reason);
  // Moves prefix and snapshot events to `out`, up to the batch limit.
  void TakeQueued(std::vector<SharedBytes>* out);

  EventHub* const hub_;
  const absl::flat_hash_set<std::string> filter_;
  // Where the request asked to resume (0: nowhere), and the instance it came from.
  const uint64_t resume_after_;
  const std::string resume_instance_;
  const bool batched_;
  std::deque<SharedBytes> prefix_;
  std::shared_ptr<const std::vector<SharedBytes>> snapshot_;
  size_t snapshot_pos_ = 0;
  uint64_t cursor_ = 0;  // live events after this one are next
  bool awaiting_snapshot_ = false;
  std::string resync_reason_;  // for the RESYNC before the awaited snapshot
};

}  // namespace portsyncd

#endif  // PORTSYNCD_SERVER_PORTSYNC_LINK_EVENT_FEED_H_
