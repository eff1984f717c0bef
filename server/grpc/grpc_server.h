// Builds and starts the gRPC server: PortSync, gNMI, grpc.health.v1 and reflection, on the
// unix socket and, when configured, a TCP listener (TLS, or insecure on loopback only).
#ifndef PORTSYNCD_SERVER_GRPC_GRPC_SERVER_H_
#define PORTSYNCD_SERVER_GRPC_GRPC_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"
#include "server/config/daemon_config.h"

namespace portsyncd {

// A process accepts connections on the unix socket at `path`.
bool SocketIsLive(const std::string& path);

// `unix_socket` is the resolved path. `services` are not owned and must outlive the server;
// every listener serves all of them.
[[nodiscard]] absl::StatusOr<std::unique_ptr<grpc::Server>> StartGrpcServer(
    const GrpcOptions& options, const std::string& unix_socket,
    const std::vector<grpc::Service*>& services);

}  // namespace portsyncd

#endif  // PORTSYNCD_SERVER_GRPC_GRPC_SERVER_H_
