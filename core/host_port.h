// "host:port" listen addresses, as the config file gives them ([v6]:port for IPv6).
#ifndef PORTSYNCD_CORE_HOST_PORT_H_
#define PORTSYNCD_CORE_HOST_PORT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace portsyncd {

// "host:port", "[v6]:port": the host without brackets and a port in 1..65535; the one parser
// of addresses for every listener (grpc.tcp_address, metrics.listen).
struct HostPort {
  std::string host;
  int port = 0;
};
[[nodiscard]] absl::StatusOr<HostPort> ParseHostPort(absl::string_view address);

}  // namespace portsyncd

#endif  // PORTSYNCD_CORE_HOST_PORT_H_
