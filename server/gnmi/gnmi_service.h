// GnmiService: gNMI (gnmi.gNMI) on the daemon's gRPC server, beside portsyncd.v1.PortSync:
// Capabilities, Get and Subscribe of the OpenConfig interface state leaves
// (server/gnmi/gnmi_paths.h, docs/GNMI.md); Set answers UNIMPLEMENTED.
//
// Each Subscribe call is a GnmiStream (server/gnmi/gnmi_stream.h) whose content is a
// GnmiSubscription (server/gnmi/gnmi_subscription.h). Get answers from the hub's snapshot.
#ifndef PORTSYNCD_SERVER_GNMI_GNMI_SERVICE_H_
#define PORTSYNCD_SERVER_GNMI_GNMI_SERVICE_H_

#include "absl/time/time.h"
#include "core/clock.h"
#include "gnmi/gnmi.grpc.pb.h"
#include "server/gnmi/gnmi_subscription.h"
#include "server/stream/event_hub.h"
#include "server/stream/timer_queue.h"

namespace portsyncd {

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

  // Get's answer.
  grpc::Status Values(const gnmi::GetRequest& request, gnmi::GetResponse* response) const;

 private:
  EventHub* const hub_;
  TimerQueue* const timers_;
  const Clock& clock_;
  const GnmiOptions options_;
};

}  // namespace portsyncd

#endif  // PORTSYNCD_SERVER_GNMI_GNMI_SERVICE_H_
