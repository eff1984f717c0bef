#include "server/grpc/grpc_server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/file_util.h"
#include "grpc/health/v1/health.pb.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"

namespace portsyncd {

bool SocketIsLive(const std::string& path) {
  sockaddr_un addr{};
  if (path.size() >= sizeof(addr.sun_path)) return false;
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const bool live = connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return live;
}

absl::StatusOr<std::unique_ptr<grpc::Server>> StartGrpcServer(
    const GrpcOptions& options, const std::string& unix_socket,
    const std::vector<grpc::Service*>& services) {
  grpc::EnableDefaultHealthCheckService(true);
  // gRPC's built-in health service carries no protobuf descriptors: reflection lists
  // grpc.health.v1.Health but finds neither its symbol nor its file unless our copy of
  // health.proto is in the generated pool. Using it here keeps the linker from dropping it.
  (void)grpc::health::v1::HealthCheckResponse::descriptor();
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  grpc::ServerBuilder builder;
  for (grpc::Service* service : services) builder.RegisterService(service);
  // Requests are small (a list of port names at most): 1 MiB holds thousands of names and
  // refuses anything larger with RESOURCE_EXHAUSTED before it is parsed.
  builder.SetMaxReceiveMessageSize(1 << 20);
  // Keepalive pings find clients that vanished without closing (a collector whose host died), so
  // their streams and queues are released within ~40 s rather than at the next write.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 30'000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10'000);
  // Long-lived streams are often idle (no link changes): keep pinging without calls and data.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  // Accept client keepalives down to 10 s (portsyncctl watch uses 20 s) without GOAWAY.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10'000);

  // A socket file left by a process that is gone would make bind fail; one that a live daemon
  // answers on must not be taken over.
  if (SocketIsLive(unix_socket)) {
    return absl::AlreadyExistsError(absl::StrCat(
        "another process is serving on ", unix_socket,
        "; is portsyncd already running? Stop it, or give this one another --runtime-dir"));
  }
  if (unlink(unix_socket.c_str()) != 0 && errno != ENOENT) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot remove old socket ", unix_socket, ": ", std::strerror(errno)));
  }
  builder.AddListeningPort(absl::StrCat("unix:", unix_socket), grpc::InsecureServerCredentials());

  int tcp_port = 0;
  if (!options.tcp_address.empty()) {
    std::shared_ptr<grpc::ServerCredentials> credentials;
    if (options.tcp_insecure) {
      credentials = grpc::InsecureServerCredentials();
    } else {
      grpc::SslServerCredentialsOptions ssl;
      absl::StatusOr<std::string> cert =
          ReadFileToString(options.tls_cert_file, "grpc.tls_cert_file");
      if (!cert.ok()) return cert.status();
      absl::StatusOr<std::string> key = ReadFileToString(options.tls_key_file, "grpc.tls_key_file");
      if (!key.ok()) return key.status();
      ssl.pem_key_cert_pairs.push_back({*key, *cert});
      if (!options.tls_client_ca_file.empty()) {
        absl::StatusOr<std::string> ca =
            ReadFileToString(options.tls_client_ca_file, "grpc.tls_client_ca_file");
        if (!ca.ok()) return ca.status();
        ssl.pem_root_certs = *ca;
        ssl.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
      }
      credentials = grpc::SslServerCredentials(ssl);
    }
    builder.AddListeningPort(options.tcp_address, credentials, &tcp_port);
  }

  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot start the gRPC server on unix:", unix_socket,
                     options.tcp_address.empty() ? "" : absl::StrCat(" and ", options.tcp_address),
                     " (is another portsyncd running, or the address in use?)"));
  }
  if (!options.tcp_address.empty() && tcp_port == 0) {
    server->Shutdown();
    return absl::UnavailableError(
        absl::StrCat("cannot listen on grpc.tcp_address ", options.tcp_address));
  }
  if (chmod(unix_socket.c_str(), static_cast<mode_t>(options.unix_socket_mode)) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot set the mode of ", unix_socket, ": ", std::strerror(errno)));
  }
  return server;
}

}  // namespace portsyncd
