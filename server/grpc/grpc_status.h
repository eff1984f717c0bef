// Small pieces both gRPC services use: absl::Status to grpc::Status, finishing a unary call at
// once, and the answer before the first link dump.
#ifndef PORTSYNCD_SERVER_GRPC_GRPC_STATUS_H_
#define PORTSYNCD_SERVER_GRPC_GRPC_STATUS_H_

#include <string>

#include "absl/status/status.h"
#include "grpcpp/grpcpp.h"

namespace portsyncd {

inline grpc::Status ToGrpc(const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

// Finishes a unary callback RPC with `status` (its response, if OK, already filled).
inline grpc::ServerUnaryReactor* FinishUnary(grpc::CallbackServerContext* context,
                                             grpc::Status status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(std::move(status));
  return reactor;
}

// Before the first link dump the model does not know the kernel (every port would look absent):
// state requests get this instead of a state nobody observed. portsyncctl retries on it.
inline grpc::Status NotSyncedYet() {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                      "portsyncd is starting: the first link dump is not applied yet (GetHealth "
                      "says what it waits for); retry shortly");
}

}  // namespace portsyncd

#endif  // PORTSYNCD_SERVER_GRPC_GRPC_STATUS_H_
