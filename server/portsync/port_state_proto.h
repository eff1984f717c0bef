// Conversions between the engine's model and portsyncd.v1's messages (the name rules every API
// shares: server/stream/port_names.h).
// Pure functions; call with the model lock held (Engine::WithModel or a PortChangeListener).
#ifndef PORTSYNCD_SERVER_PORTSYNC_PORT_STATE_PROTO_H_
#define PORTSYNCD_SERVER_PORTSYNC_PORT_STATE_PROTO_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/port_model.h"
#include "google/protobuf/timestamp.pb.h"
#include "portsyncd/v1/portsyncd.pb.h"
#include "server/stream/port_names.h"

namespace portsyncd {

// A port as PortState (`pending`: in the model's pending set when the port was read).
void ToProto(const Port& port, bool pending, v1::PortState* out);
void ToProto(absl::Time time, google::protobuf::Timestamp* out);

}  // namespace portsyncd

#endif  // PORTSYNCD_SERVER_PORTSYNC_PORT_STATE_PROTO_H_
