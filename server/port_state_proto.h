// Conversions between the engine's model and the API's messages, and the API's name rules.
// Pure functions; call with the model lock held (Engine::WithModel or a PortChangeListener).
#ifndef PORTSYNCD_SERVER_PORT_STATE_PROTO_H_
#define PORTSYNCD_SERVER_PORT_STATE_PROTO_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/port_model.h"
#include "google/protobuf/timestamp.pb.h"
#include "portsyncd/v1/portsyncd.pb.h"

namespace portsyncd {

// INVALID_ARGUMENT naming the problem: empty, longer than 15 bytes, control characters or
// whitespace.
[[nodiscard]] absl::Status ValidatePortName(absl::string_view name);

// Natural port order: alphabetic prefix, then the number: Ethernet4 < Ethernet8 < Ethernet100.
bool NaturalLess(absl::string_view a, absl::string_view b);

// A port the API lists: in the kernel, or configured (CONFIG_DB / APPL_DB).
bool IsTracked(const Port& port);

void ToProto(const PortModel& model, const Port& port, v1::PortState* out);
// The same from a copy of the port, taken with the model lock (`pending`: in the pending set).
void ToProto(const Port& port, bool pending, v1::PortState* out);
void ToProto(absl::Time time, google::protobuf::Timestamp* out);

}  // namespace portsyncd

#endif  // PORTSYNCD_SERVER_PORT_STATE_PROTO_H_
