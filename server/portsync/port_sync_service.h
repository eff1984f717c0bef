// PortSyncService: the portsyncd.v1.PortSync gRPC service on the callback API.
//
// Unary RPCs read the engine's model under its lock and answer at once; StreamLinkEvents is
// served by the EventHub. Reactions never block beyond that brief lock.
#ifndef PORTSYNCD_SERVER_PORTSYNC_PORT_SYNC_SERVICE_H_
#define PORTSYNCD_SERVER_PORTSYNC_PORT_SYNC_SERVICE_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/engine_view.h"
#include "portsyncd/v1/portsyncd.grpc.pb.h"
#include "server/config/reload_result.h"
#include "server/stream/event_hub.h"

namespace portsyncd {

struct ServiceInfo {
  std::string version;
  absl::Time start_time;
  // The config in effect, for GetHealth ("loaded from PATH (version V)").
  std::function<std::string()> describe_config;
};

// StreamLinkEvents and WatchLinkEvents are raw methods (the request parsed here, each event
// written as bytes serialized once for every stream); the unary RPCs are ordinary callback
// methods.
using PortSyncServiceBase = v1::PortSync::WithCallbackMethod_GetPortState<
    v1::PortSync::WithRawCallbackMethod_StreamLinkEvents<
        v1::PortSync::WithRawCallbackMethod_WatchLinkEvents<
            v1::PortSync::WithCallbackMethod_GetHealth<
                v1::PortSync::WithCallbackMethod_Reload<v1::PortSync::Service>>>>>;

class PortSyncService : public PortSyncServiceBase {
 public:
  // Not owned: `engine` and `hub` must outlive the service. `reload_token` authorizes Reload
  // (callers send "authorization: Bearer <token>"); empty refuses every Reload.
  PortSyncService(const EngineView* engine, EventHub* hub, ServiceInfo info, ReloadFunction reload,
                  std::string reload_token);

  grpc::ServerUnaryReactor* GetPortState(grpc::CallbackServerContext* context,
                                         const v1::GetPortStateRequest* request,
                                         v1::GetPortStateResponse* response) override;
  grpc::ServerWriteReactor<grpc::ByteBuffer>* StreamLinkEvents(
      grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) override;
  grpc::ServerWriteReactor<grpc::ByteBuffer>* WatchLinkEvents(
      grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) override;
  grpc::ServerUnaryReactor* GetHealth(grpc::CallbackServerContext* context,
                                      const v1::GetHealthRequest* request,
                                      v1::GetHealthResponse* response) override;
  grpc::ServerUnaryReactor* Reload(grpc::CallbackServerContext* context,
                                   const v1::ReloadRequest* request,
                                   v1::ReloadResponse* response) override;

  // The health GetHealth reports (also feeds grpc.health.v1).
  v1::GetHealthResponse Health() const;
  // GetPortState's answer: a page of at most kMaxPortPage ports (docs/API.md "Paging").
  static constexpr size_t kMaxPortPage = 10000;
  static constexpr absl::string_view kPageTokenPrefix = "after:";
  grpc::Status PortStates(const v1::GetPortStateRequest& request,
                          v1::GetPortStateResponse* response) const;

 private:
  grpc::ServerWriteReactor<grpc::ByteBuffer>* StartStream(const grpc::ByteBuffer* raw,
                                                          bool batched);

  const EngineView* const engine_;
  EventHub* const hub_;
  const ServiceInfo info_;
  const ReloadFunction reload_;
  const std::string reload_token_;
};

}  // namespace portsyncd

#endif  // PORTSYNCD_SERVER_PORTSYNC_PORT_SYNC_SERVICE_H_
