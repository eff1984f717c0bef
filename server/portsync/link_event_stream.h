// LinkEventStream: one StreamLinkEvents or WatchLinkEvents call, as a gRPC callback reactor. What
// it sends is its LinkEventFeed's; how, its WritePump's. It deletes itself when gRPC is done
// with it (OnDone), after leaving the hub.
#ifndef PORTSYNCD_SERVER_PORTSYNC_LINK_EVENT_STREAM_H_
#define PORTSYNCD_SERVER_PORTSYNC_LINK_EVENT_STREAM_H_

#include "grpcpp/grpcpp.h"
#include "portsyncd/v1/portsyncd.pb.h"
#include "server/stream/event_hub.h"

namespace portsyncd {

// Starts a stream (`batched`: WatchLinkEvents); refuses it (INVALID_ARGUMENT, or
// RESOURCE_EXHAUSTED at grpc.max_streams or during shutdown) through the reactor itself.
grpc::ServerWriteReactor<grpc::ByteBuffer>* StartLinkEventStream(
    EventHub* hub, const v1::StreamLinkEventsRequest& request, bool batched);

}  // namespace portsyncd

#endif  // PORTSYNCD_SERVER_PORTSYNC_LINK_EVENT_STREAM_H_
