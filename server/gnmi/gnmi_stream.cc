#include "server/gnmi/gnmi_stream.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "gnmi/gnmi.pb.h"
#include "grpcpp/impl/codegen/proto_utils.h"
#include "server/grpc/grpc_status.h"
#include "server/stream/reactor_sink.h"
#include "server/stream/write_pump.h"

namespace portsyncd {
namespace {

class GnmiStream : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>,
                   public HubSubscriber {
 public:
  GnmiStream(EventHub* hub, TimerQueue* timers, const Clock& clock, const GnmiOptions& options)
      : hub_(hub),
        subscription_(GnmiSubscription::Create(hub, timers, clock, options, [this] { Pump(); })),
        sink_(this),
        pump_(&sink_, subscription_.get()) {
    StartRead(&raw_request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // the client is done writing (or gone): streams go on until cancelled
    gnmi::SubscribeRequest request;
    absl::Status status =
        grpc::SerializationTraits<gnmi::SubscribeRequest>::Deserialize(&raw_request_, &request).ok()
            ? subscription_->OnRequest(request)
            : absl::InvalidArgumentError("the SubscribeRequest is not valid protobuf");
    if (status.ok() && !registered_) {
      if (!hub_->Register(this, EventHub::Api::kGnmi)) {
        status = absl::ResourceExhaustedError(
            absl::StrCat("portsyncd serves at most ", hub_->max_streams(),
                         " gNMI Subscribe streams (grpc.max_streams), or is shutting down"));
      } else {
        registered_ = true;
      }
    }
    if (!status.ok()) {
      pump_.Finish(ToGrpc(status));
      return;
    }
    if (pump_.finishing()) return;
    StartRead(&raw_request_);
    Pump();
  }

  void Pump() override {
    if (registered_) pump_.Kick();
  }
  void Stop(grpc::Status status) override { pump_.Finish(std::move(status)); }
  void OnWriteDone(bool ok) override { pump_.OnWriteDone(ok); }
  void OnCancel() override { pump_.Finish(grpc::Status::CANCELLED); }
  void OnDone() override {
    subscription_->StopTimers();
    if (registered_) hub_->Unregister(this);
    delete this;
  }

 private:
  EventHub* const hub_;
  const std::unique_ptr<GnmiSubscription> subscription_;
  ReactorSink<grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>> sink_;
  WritePump pump_;
  grpc::ByteBuffer raw_request_;
  // Set by the first read, before the stream can be kicked by the hub; reads never overlap.
  std::atomic<bool> registered_{false};
};

}  // namespace

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* StartGnmiStream(
    EventHub* hub, TimerQueue* timers, const Clock& clock, const GnmiOptions& options) {
  return new GnmiStream(hub, timers, clock, options);
}

}  // namespace portsyncd
