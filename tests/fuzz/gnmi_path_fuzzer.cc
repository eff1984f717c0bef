// libFuzzer target: gNMI paths as a client sends them (server/gnmi/gnmi_paths.h).
// The input is a serialized gnmi.GetRequest (its prefix and paths are what Get and Subscribe
// parse); bytes that are not one are skipped. Every path must parse or be refused with one of
// gNMI's codes, select only leaves we serve, and, when it parses, encode in every encoding.
#include <cstddef>
#include <cstdint>

#include "gnmi/gnmi.pb.h"
#include "server/gnmi/gnmi_paths.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace portsyncd;
  gnmi::GetRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  for (const gnmi::Path& path : request.path()) {
    (void)PathToString(request.prefix(), path);
    absl::StatusOr<OcSelector> selector = ParseOcPath(request.prefix(), path);
    if (!selector.ok()) {
      const absl::StatusCode code = selector.status().code();
      FuzzCheck(code == absl::StatusCode::kInvalidArgument || code == absl::StatusCode::kNotFound ||
                code == absl::StatusCode::kUnimplemented);
      continue;
    }
    FuzzCheck(selector->leaves != 0 && (selector->leaves & ~kAllLeaves) == 0);
    Port port;
    port.name = selector->port.empty() ? "Ethernet0" : selector->port;
    port.in_kernel = true;
    for (gnmi::Encoding encoding : {gnmi::PROTO, gnmi::JSON, gnmi::JSON_IETF}) {
      gnmi::Notification n;
      BuildUpdate(OcLeavesOf(port), selector->leaves, 1, OcFormat{encoding, "", ""}, 0, &n);
      FuzzCheck(n.update_size() > 0);
    }
  }
  return 0;
}
