// The OpenConfig interface leaves portsyncd serves over gNMI (docs/GNMI.md): which paths name
// which leaves, each port's leaf values, and how they are encoded into gNMI messages.
//
// Pure functions: no locks, no clock, no I/O. The service (server/gnmi/gnmi_service.h) and the
// subscriptions (server/gnmi/gnmi_subscription.h) call them; tests/unit/gnmi_paths_test.cc
// checks them.
#ifndef PORTSYNCD_SERVER_GNMI_GNMI_PATHS_H_
#define PORTSYNCD_SERVER_GNMI_GNMI_PATHS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/port_model.h"
#include "gnmi/gnmi.pb.h"
#include "server/stream/wire_bytes.h"

namespace portsyncd {

// One bit per leaf under /interfaces/interface[name=X]/state/.
enum OcLeaf : uint32_t {
  kLeafName = 1u << 0,                  // name
  kLeafOperStatus = 1u << 1,            // oper-status
  kLeafAdminStatus = 1u << 2,           // admin-status
  kLeafMtu = 1u << 3,                   // mtu
  kLeafIfindex = 1u << 4,               // ifindex
  kLeafLastChange = 1u << 5,            // last-change
  kLeafCarrierTransitions = 1u << 6,    // counters/carrier-transitions
  kLeafInterfaceTransitions = 1u << 7,  // counters/interface-transitions
  kLeafLastClear = 1u << 8,             // counters/last-clear
};
inline constexpr uint32_t kAllLeaves = (1u << 9) - 1;
inline constexpr uint32_t kCounterLeaves =
    kLeafCarrierTransitions | kLeafInterfaceTransitions | kLeafLastClear;

// A port's leaf values, as a gNMI client sees them.
struct OcLeaves {
  std::string name;
  bool oper_up = false;
  bool admin_up = false;
  uint32_t mtu = 0;
  uint32_t ifindex = 0;
  uint64_t last_change_ns = 0;  // ns since the epoch; 0 when unknown
  uint64_t carrier_transitions = 0;
  uint64_t interface_transitions = 0;
  uint64_t last_clear_ns = 0;
  bool operator==(const OcLeaves&) const = default;
};
OcLeaves OcLeavesOf(const Port& port);
// The leaves whose values differ.
uint32_t ChangedLeaves(const OcLeaves& a, const OcLeaves& b);

// What one path selects: one port (or every port) and some of its leaves.
struct OcSelector {
  std::string port;  // empty: every port
  uint32_t leaves = 0;
  bool Matches(absl::string_view name) const { return port.empty() || port == name; }
};

// `prefix` + `path` as a selector. Errors, as gNMI wants them: INVALID_ARGUMENT for a malformed
// path (an empty element, the deprecated `element` field, keys where there are none, a bad port
// name, two different origins), UNIMPLEMENTED for an origin we do not serve, NOT_FOUND for a path
// outside the leaves we serve. The message names the path.
absl::StatusOr<OcSelector> ParseOcPath(const gnmi::Path& prefix, const gnmi::Path& path);
// "/interfaces/interface[name=Ethernet0]/state/mtu", for messages.
std::string PathToString(const gnmi::Path& prefix, const gnmi::Path& path);

// The encodings we serve: PROTO, JSON and JSON_IETF (UNIMPLEMENTED for the others).
absl::Status CheckEncoding(gnmi::Encoding encoding);

// How notifications are written for one client: the encoding, and the prefix's origin and
// target, echoed from its request.
struct OcFormat {
  gnmi::Encoding encoding = gnmi::PROTO;
  std::string origin;
  std::string target;
  bool operator==(const OcFormat&) const = default;
};

// A notification of `leaves` of one port: prefix /interfaces/interface[name=X], one update per
// leaf (path state/<leaf>), each with `duplicates`.
void BuildUpdate(const OcLeaves& port, uint32_t leaves, int64_t timestamp_ns,
                 const OcFormat& format, uint32_t duplicates, gnmi::Notification* out);
// BuildUpdate's notification as a SubscribeResponse, encoded straight into the bytes gRPC writes:
// byte for byte what serializing BuildUpdate's message gives, without building the message (a
// snapshot of 100,000 ports encodes 100,000 of them; the message objects cost ~3.5 us each).
SharedBytes EncodeUpdateResponse(const OcLeaves& port, uint32_t leaves, int64_t timestamp_ns,
                                 const OcFormat& format, uint32_t duplicates);
// A notification that the port's netdev is gone: delete of /interfaces/interface[name=X].
void BuildDelete(const std::string& name, int64_t timestamp_ns, const OcFormat& format,
                 gnmi::Notification* out);

}  // namespace portsyncd

#endif  // PORTSYNCD_SERVER_GNMI_GNMI_PATHS_H_
