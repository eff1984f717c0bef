// Builds and starts the gRPC server: the PortSync service, grpc.health.v1 and reflection, on the
// unix socket and, when configured, a TCP listener (TLS, or insecure on loopback only).
#ifndef PORTSYNCD_SERVER_GRPC_SERVER_H_
#define PORTSYNCD_SERVER_GRPC_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"
#include "server/daemon_config.h"

namespace portsyncd {

// A process accepts connections on the unix socket at `path`.
bool SocketIsLive(const std::string& path);

// `unix_socket` is the resolved path. `service` is not owned and must outlive the server.
[[nodiscard]] absl::StatusOr<std::unique_ptr<grpc::Server>> StartGrpcServer(
    const GrpcOptions& options, const std::string& unix_socket, grpc::Service* service);

}  // namespace portsyncd

#endif  // PORTSYNCD_SERVER_GRPC_SERVER_H_
