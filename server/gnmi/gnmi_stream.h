// GnmiStream: one gNMI Subscribe call, as a gRPC callback reactor. It reads the client's requests
// into its GnmiSubscription and writes what that gives through a WritePump; it deletes itself when
// gRPC is done with it (OnDone), after stopping its timers and leaving the hub.
#ifndef PORTSYNCD_SERVER_GNMI_GNMI_STREAM_H_
#define PORTSYNCD_SERVER_GNMI_GNMI_STREAM_H_

#include "core/clock.h"
#include "grpcpp/grpcpp.h"
#include "server/gnmi/gnmi_subscription.h"
#include "server/stream/event_hub.h"
#include "server/stream/timer_queue.h"

namespace portsyncd {

// Not owned, must outlive every stream: hub, timers, clock.
grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* StartGnmiStream(
    EventHub* hub, TimerQueue* timers, const Clock& clock, const GnmiOptions& options);

}  // namespace portsyncd

#endif  // PORTSYNCD_SERVER_GNMI_GNMI_STREAM_H_
