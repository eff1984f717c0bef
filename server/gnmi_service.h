// GnmiService: gNMI (gnmi.gNMI) on the daemon's gRPC server, beside portsyncd.v1.PortSync:
// Capabilities, Get and Subscribe of the OpenConfig interface state leaves (server/gnmi_paths.h,
// docs/GNMI.md); Set answers UNIMPLEMENTED.
//
// Subscribe streams read the same change log and snapshots as StreamLinkEvents (EventHub): each
// stream keeps a cursor into the hub's ring, and each change's notification is built once per
// format (encoding, leaves, prefix) and shared by every stream that wants the same. A stream
// more than stream_queue_limit changes behind, or whose next change left the ring, is coalesced:
// it gets the latest value of each port that changed meanwhile, with Update.duplicates saying
// how many changes were folded into it; never a silent gap. SAMPLE intervals, heartbeats and
// History ends run on a TimerQueue.
//
// Threads: gRPC's callback threads, the hub's kicker, and the timer thread; a stream's state is
// under its own mutex, never held while it calls the hub.
#ifndef PORTSYNCD_SERVER_GNMI_SERVICE_H_
#define PORTSYNCD_SERVER_GNMI_SERVICE_H_

#include "absl/time/time.h"
#include "core/clock.h"
#include "core/engine.h"
#include "gnmi/gnmi.grpc.pb.h"
#include "server/event_hub.h"
#include "server/timer_queue.h"

namespace portsyncd {

struct GnmiOptions {
  // The shortest SAMPLE and heartbeat interval served; 0 in a request means this one. Shorter
  // requests are refused (INVALID_ARGUMENT), never silently stretched.
  absl::Duration min_interval = absl::Milliseconds(100);
};

// Subscribe is a raw method (ByteBuffers in and out), so that one serialized notification is
// written to every stream that sends it; the unary RPCs are ordinary callback methods.
using GnmiServiceBase = gnmi::gNMI::WithCallbackMethod_Capabilities<
    gnmi::gNMI::WithCallbackMethod_Get<gnmi::gNMI::WithCallbackMethod_Set<
        gnmi::gNMI::WithRawCallbackMethod_Subscribe<gnmi::gNMI::Service>>>>;

class GnmiService : public GnmiServiceBase {
 public:
  // Not owned; must outlive the service and every stream.
  GnmiService(EventHub* hub, TimerQueue* timers, const Clock& clock, GnmiOptions options = {});

  grpc::ServerUnaryReactor* Capabilities(grpc::CallbackServerContext* context,
                                         const gnmi::CapabilityRequest* request,
                                         gnmi::CapabilityResponse* response) override;
  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* context,
                                const gnmi::GetRequest* request,
                                gnmi::GetResponse* response) override;
  grpc::ServerUnaryReactor* Set(grpc::CallbackServerContext* context,
                                const gnmi::SetRequest* request,
                                gnmi::SetResponse* response) override;
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* Subscribe(
      grpc::CallbackServerContext* context) override;

 private:
  EventHub* const hub_;
  TimerQueue* const timers_;
  const Clock& clock_;
  const GnmiOptions options_;
};

}  // namespace portsyncd

#endif  // PORTSYNCD_SERVER_GNMI_SERVICE_H_
