#include "server/portsync/link_event_stream.h"

#include "absl/strings/str_cat.h"
#include "server/portsync/link_event_feed.h"
#include "server/stream/port_names.h"
#include "server/stream/reactor_sink.h"
#include "server/stream/write_pump.h"

namespace portsyncd {
namespace {

class LinkEventStream : public grpc::ServerWriteReactor<grpc::ByteBuffer>, public HubSubscriber {
 public:
  LinkEventStream(EventHub* hub, const v1::StreamLinkEventsRequest& request, bool batched)
      : hub_(hub), feed_(hub, request, batched), sink_(this), pump_(&sink_, &feed_) {}

  // Starts the feed and joins the hub; false when the hub refuses another stream.
  bool Join() {
    feed_.Start();
    if (!hub_->Register(this, EventHub::Api::kPortSync)) return false;
    joined_ = true;
    return true;
  }

  void Pump() override { pump_.Kick(); }
  void Stop(grpc::Status status) override { pump_.Finish(std::move(status)); }
  void OnWriteDone(bool ok) override { pump_.OnWriteDone(ok); }
  void OnCancel() override { pump_.Finish(grpc::Status::CANCELLED); }
  void OnDone() override {
    if (joined_) hub_->Unregister(this);
    delete this;
  }

 private:
  EventHub* const hub_;
  LinkEventFeed feed_;
  ReactorSink<grpc::ServerWriteReactor<grpc::ByteBuffer>> sink_;
  WritePump pump_;
  bool joined_ = false;  // set before the stream can be pumped or done
};

}  // namespace

grpc::ServerWriteReactor<grpc::ByteBuffer>* StartLinkEventStream(
    EventHub* hub, const v1::StreamLinkEventsRequest& request, bool batched) {
  auto* stream = new LinkEventStream(hub, request, batched);
  for (const std::string& name : request.names()) {
    if (absl::Status s = ValidatePortName(name); !s.ok()) {
      stream->Stop(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::string(s.message())));
      return stream;
    }
  }
  if (!stream->Join()) {
    stream->Stop(grpc::Status(
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        absl::StrCat("portsyncd serves at most ", hub->max_streams(),
                     " StreamLinkEvents and WatchLinkEvents streams (grpc.max_streams), or is "
                     "shutting down")));
    return stream;
  }
  stream->Pump();
  return stream;
}

}  // namespace portsyncd
