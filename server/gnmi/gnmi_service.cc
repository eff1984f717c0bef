#include "server/gnmi/gnmi_service.h"

#include <algorithm>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "absl/synchronization/mutex.h"
#include "core/logging.h"
#include "server/gnmi/gnmi_paths.h"
#include "server/gnmi/gnmi_stream.h"
#include "server/grpc/grpc_status.h"

namespace portsyncd {
namespace {

int64_t Nanos(absl::Time t) { return absl::ToUnixNanos(t); }

}  // namespace

GnmiService::GnmiService(EventHub* hub, TimerQueue* timers, const Clock& clock, GnmiOptions options)
    : hub_(hub), timers_(timers), clock_(clock), options_(options) {}

grpc::ServerUnaryReactor* GnmiService::Capabilities(grpc::CallbackServerContext* context,
                                                    const gnmi::CapabilityRequest*,
                                                    gnmi::CapabilityResponse* response) {
  gnmi::ModelData* model = response->add_supported_models();
  model->set_name("openconfig-interfaces");
  model->set_organization("OpenConfig working group");
  model->set_version("3.8.0");
  response->add_supported_encodings(gnmi::JSON);
  response->add_supported_encodings(gnmi::JSON_IETF);
  response->add_supported_encodings(gnmi::PROTO);
  response->set_gnmi_version(
      gnmi::CapabilityRequest::descriptor()->file()->options().GetExtension(gnmi::gnmi_service));
  return FinishUnary(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* GnmiService::Get(grpc::CallbackServerContext* context,
                                           const gnmi::GetRequest* request,
                                           gnmi::GetResponse* response) {
  return FinishUnary(context, Values(*request, response));
}

grpc::Status GnmiService::Values(const gnmi::GetRequest& request,
                                 gnmi::GetResponse* response) const {
  if (absl::Status s = CheckEncoding(request.encoding()); !s.ok()) {
    return ToGrpc(s);
  }
  std::vector<OcSelector> selectors;
  if (request.path().empty()) {
    absl::StatusOr<OcSelector> all = ParseOcPath(request.prefix(), gnmi::Path());
    if (!all.ok()) return ToGrpc(all.status());
    selectors.push_back(*all);
  }
  for (const gnmi::Path& path : request.path()) {
    absl::StatusOr<OcSelector> selector = ParseOcPath(request.prefix(), path);
    if (!selector.ok()) return ToGrpc(selector.status());
    selectors.push_back(*std::move(selector));
  }
  // Every leaf we serve is state: a CONFIG request selects nothing.
  if (request.type() == gnmi::GetRequest::CONFIG) return grpc::Status::OK;
  SharedPortSnapshot snapshot = hub_->TakePortSnapshot();
  if (snapshot == nullptr) {
    return NotSyncedYet();
  }
  for (const OcSelector& selector : selectors) {
    if (selector.port.empty()) continue;
    const bool known = std::any_of(snapshot->ports.begin(), snapshot->ports.end(),
                                   [&](const PortSnapshot::Entry& e) {
                                     return e.port.name == selector.port && e.port.in_kernel;
                                   });
    if (!known) {
      return grpc::Status(
          grpc::StatusCode::NOT_FOUND,
          absl::StrCat("interface ", selector.port, " has no netdev in the kernel"));
    }
  }
  const OcFormat format{request.encoding(), request.prefix().origin(), request.prefix().target()};
  size_t bytes = 0;
  for (const PortSnapshot::Entry& entry : snapshot->ports) {
    if (!entry.port.in_kernel) continue;
    uint32_t leaves = 0;
    for (const OcSelector& s : selectors) {
      if (s.Matches(entry.port.name)) leaves |= s.leaves;
    }
    if (leaves == 0) continue;
    gnmi::Notification* notification = response->add_notification();
    BuildUpdate(OcLeavesOf(entry.port), leaves, Nanos(snapshot->taken), format, 0, notification);
    // Past what a gRPC client takes by default the answer would fail on the client's side, after
    // all the work: say what to do instead (docs/API.md, gNMI at scale).
    const size_t size = notification->ByteSizeLong();
    bytes += 1 + google::protobuf::io::CodedOutputStream::VarintSize64(size) + size;
    if (bytes > options_.max_get_response_bytes) {
      response->Clear();
      return grpc::Status(
          grpc::StatusCode::RESOURCE_EXHAUSTED,
          absl::StrCat("the answer is larger than ", options_.max_get_response_bytes,
                       " bytes (", snapshot->ports.size(),
                       " interfaces): use Subscribe with mode ONCE, which sends one notification "
                       "per interface, or Get fewer interfaces or leaves"));
    }
  }
  return grpc::Status::OK;
}

grpc::ServerUnaryReactor* GnmiService::Set(grpc::CallbackServerContext* context,
                                           const gnmi::SetRequest*, gnmi::SetResponse*) {
  return FinishUnary(
      context, grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                            "portsyncd's gNMI is read-only (Capabilities, Get, Subscribe): port "
                            "configuration belongs to CONFIG_DB"));
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* GnmiService::Subscribe(
    grpc::CallbackServerContext*) {
  return StartGnmiStream(hub_, timers_, clock_, options_);
}

}  // namespace portsyncd
