// The port rules every API shares: which names a request may carry and which ports are listed
// at all (the order they are listed in is core/natural_order.h's). Pure functions.
#ifndef PORTSYNCD_SERVER_STREAM_PORT_NAMES_H_
#define PORTSYNCD_SERVER_STREAM_PORT_NAMES_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "core/natural_order.h"
#include "core/port_model.h"

namespace portsyncd {

// INVALID_ARGUMENT naming the problem: empty, longer than 15 bytes, control characters or
// whitespace.
[[nodiscard]] absl::Status ValidatePortName(absl::string_view name);

// The order ports are listed in: NaturalLess (core/natural_order.h), the model's own order.

// A port the API lists: in the kernel, or configured (CONFIG_DB / APPL_DB).
bool IsTracked(const Port& port);

}  // namespace portsyncd

#endif  // PORTSYNCD_SERVER_STREAM_PORT_NAMES_H_
