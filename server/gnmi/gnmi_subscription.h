// GnmiSubscription: what one gNMI Subscribe stream sends next; the source of its write pump
// (server/stream/write_pump.h). No gRPC reactor here (server/gnmi/gnmi_stream.h is that):
// tests/unit/gnmi_subscription_test drives it over a hub fed by hand, a fake clock and a timer
// queue run by hand.
//
// It reads the same change log and snapshots as StreamLinkEvents (EventHub), with a cursor into
// the hub's ring; each change's notification is built once per format (encoding, leaves, prefix)
// and shared by every stream that wants the same bytes. Next() returns the queued responses (the
// initial fill, Poll answers, samples, heartbeats), then live changes, up to 1,024 responses. A
// stream more than stream_queue_limit changes behind, or whose next change left the ring, is
// coalesced: it gets the latest value of each port that changed meanwhile, with
// Update.duplicates saying how many changes were folded into it; never a silent gap. SAMPLE
// intervals, heartbeats and History ends run on the TimerQueue, and kick the pump.
//
// Threads: OnRequest on gRPC's read callbacks, timers on the TimerQueue's thread, Next() on
// whichever thread owns the pump; the state they share is under the subscription's mutex.
#ifndef PORTSYNCD_SERVER_GNMI_GNMI_SUBSCRIPTION_H_
#define PORTSYNCD_SERVER_GNMI_GNMI_SUBSCRIPTION_H_

#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "core/clock.h"
#include "gnmi/gnmi.pb.h"
#include "server/stream/event_hub.h"
#include "server/stream/timer_queue.h"
#include "server/stream/write_pump.h"

namespace portsyncd {

struct GnmiOptions {
  // The shortest SAMPLE and heartbeat interval served; 0 in a request means this one. Shorter
  // requests are refused (INVALID_ARGUMENT), never silently stretched.
  absl::Duration min_interval = absl::Milliseconds(100);
  // A Get whose answer would be larger is refused (RESOURCE_EXHAUSTED, pointing to Subscribe
  // ONCE): past gRPC's default 4 MiB receive limit the client would fail on it anyway.
  size_t max_get_response_bytes = 4 * 1024 * 1024 - 64 * 1024;
};

class GnmiSubscription : public StreamSource {
 public:
  // Not owned, must outlive the subscription: hub, timers, clock. `kick` asks the stream's pump
  // to call Next() (a timer fell due); it may be called on the timer thread.
  static std::unique_ptr<GnmiSubscription> Create(EventHub* hub, TimerQueue* timers,
                                                  const Clock& clock, const GnmiOptions& options,
                                                  std::function<void()> kick);
  // The client's requests, in order: the first must hold the SubscriptionList, later ones are
  // Polls. An error (gNMI's codes, naming the path) ends the stream.
  virtual absl::Status OnRequest(const gnmi::SubscribeRequest& request) = 0;
  // Cancels the timers, waiting for one that runs: call before the stream goes away (the
  // destructor does too).
  virtual void StopTimers() = 0;
};

}  // namespace portsyncd

#endif  // PORTSYNCD_SERVER_GNMI_GNMI_SUBSCRIPTION_H_
