#include "server/portsync/port_sync_service.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "core/logging.h"
#include "server/grpc/grpc_status.h"
#include "server/portsync/link_event_stream.h"
#include "server/portsync/port_page.h"
#include "server/portsync/port_state_proto.h"

namespace portsyncd {
namespace {

// Compares without an early exit, so timing does not reveal how much of a token matched.
bool TokenEquals(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

void AddComponent(v1::GetHealthResponse& health, std::string name, v1::ServingStatus status,
                  std::string message, absl::Time since) {
  v1::ComponentHealth* c = health.add_components();
  c->set_name(std::move(name));
  c->set_status(status);
  c->set_message(std::move(message));
  if (since != absl::InfinitePast() && since != absl::UnixEpoch())
    ToProto(since, c->mutable_since());
  // Overall: the worst component (NOT_SERVING > DEGRADED > SERVING).
  if (static_cast<int>(status) > static_cast<int>(health.status())) health.set_status(status);
}

}  // namespace

PortSyncService::PortSyncService(const EngineView* engine, EventHub* hub, ServiceInfo info,
                                 ReloadFunction reload, std::string reload_token)
    : engine_(engine),
      hub_(hub),
      info_(std::move(info)),
      reload_(std::move(reload)),
      reload_token_(std::move(reload_token)) {}

grpc::ServerUnaryReactor* PortSyncService::GetPortState(grpc::CallbackServerContext* context,
                                                        const v1::GetPortStateRequest* request,
                                                        v1::GetPortStateResponse* response) {
  return FinishUnary(context, PortStates(*request, response));
}

grpc::Status PortSyncService::PortStates(const v1::GetPortStateRequest& request,
                                         v1::GetPortStateResponse* response) const {
  for (const std::string& name : request.names()) {
    if (absl::Status s = ValidatePortName(name); !s.ok()) return ToGrpc(s);
  }
  if (request.page_size() < 0) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "page_size must not be negative");
  }
  const size_t page_size =
      request.page_size() == 0 ? kMaxPortPage : std::min<size_t>(request.page_size(), kMaxPortPage);
  // The token is the name of the last port of the previous page: this page starts after it in
  // natural order, so a port present on both calls is neither missed nor repeated.
  std::string after;
  if (!request.page_token().empty()) {
    if (!absl::StartsWith(request.page_token(), kPageTokenPrefix) ||
        !ValidatePortName(request.page_token().substr(kPageTokenPrefix.size())).ok()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "page_token is not one this daemon returned");
    }
    after = request.page_token().substr(kPageTokenPrefix.size());
  }
  if (!hub_->synced()) {
    // Before the first link dump the model does not know the kernel: every port would look
    // absent. Say so instead of answering with a state nobody observed.
    return NotSyncedYet();
  }
  // The page's ports are copied under the model lock; the messages are built after it.
  const std::vector<std::string> names(request.names().begin(), request.names().end());
  absl::StatusOr<PortPage> page;
  engine_->WithModel([&](const PortModel& model) {
    page = SelectPortPage(model, {.names = names,
                                  .pattern = request.name_pattern(),
                                  .after = after,
                                  .page_size = page_size});
  });
  if (!page.ok()) return ToGrpc(page.status());
  response->set_sequence(page->sequence);
  response->set_mode(page->sonic ? "sonic" : "host");
  response->mutable_ports()->Reserve(static_cast<int>(page->ports.size()));
  for (const auto& [port, pending] : page->ports) ToProto(port, pending, response->add_ports());
  if (page->more) {
    response->set_next_page_token(absl::StrCat(kPageTokenPrefix, page->ports.back().first.name));
  }
  response->set_total_size(static_cast<int32_t>(page->total));
  response->set_instance_id(hub_->instance_id());
  return grpc::Status::OK;
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* PortSyncService::StreamLinkEvents(
    grpc::CallbackServerContext*, const grpc::ByteBuffer* raw) {
  return StartStream(raw, /*batched=*/false);
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* PortSyncService::WatchLinkEvents(
    grpc::CallbackServerContext*, const grpc::ByteBuffer* raw) {
  return StartStream(raw, /*batched=*/true);
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* PortSyncService::StartStream(
    const grpc::ByteBuffer* raw, bool batched) {
  v1::StreamLinkEventsRequest request;
  grpc::ByteBuffer copy(*raw);
  if (!grpc::SerializationTraits<v1::StreamLinkEventsRequest>::Deserialize(&copy, &request).ok()) {
    // A proto3 `string` that is not UTF-8, or bytes that are not the message at all.
    class Refused : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
     public:
      Refused() {
        Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                            "the StreamLinkEventsRequest is not valid protobuf (a name that is "
                            "not UTF-8?)"));
      }
      void OnDone() override { delete this; }
    };
    return new Refused();
  }
  return StartLinkEventStream(hub_, request, batched);
}

v1::GetHealthResponse PortSyncService::Health() const {
  v1::GetHealthResponse health;
  health.set_status(v1::SERVING_STATUS_SERVING);
  const absl::Time now = absl::Now();
  const EngineCounters& c = engine_->counters();
  const EngineStatus st = engine_->status();

  AddComponent(
      health, "netlink", v1::SERVING_STATUS_SERVING,
      absl::StrCat("following ", st.selection, "; receive buffer ", st.netlink_receive_buffer,
                   " bytes; ", c.netlink_overflows.load(), " overruns recovered by ",
                   c.netlink_dumps.load() > 0 ? c.netlink_dumps.load() - 1 : 0, " re-dumps; ",
                   c.netlink_parse_errors.load(), " malformed messages skipped"),
      info_.start_time);
  if (!st.redis_enabled) {
    AddComponent(health, "redis", v1::SERVING_STATUS_SERVING,
                 "disabled: host mode (redis.enabled = false); the kernel is the only source "
                 "and nothing is written",
                 info_.start_time);
  } else if (st.redis_connected) {
    AddComponent(health, "redis", v1::SERVING_STATUS_SERVING,
                 st.keyspace_active
                     ? "connected; keyspace notifications subscribed"
                     : "connected; keyspace notifications not in use (polling; the log says why)",
                 st.redis_since);
  } else {
    AddComponent(health, "redis", v1::SERVING_STATUS_DEGRADED,
                 "unreachable: STATE_DB lags the kernel until it returns; the model keeps "
                 "following the kernel",
                 st.redis_since);
  }
  if (st.initial_sync_done) {
    AddComponent(health, "initial_sync", v1::SERVING_STATUS_SERVING,
                 absl::StrCat(st.redis_enabled ? StartModeName(st.start_mode) : "host mode",
                              st.redis_enabled ? " start" : "", "; the first link dump is applied"),
                 st.initial_sync_time);
  } else {
    AddComponent(health, "initial_sync", v1::SERVING_STATUS_NOT_SERVING,
                 st.start_decided
                     ? "starting: waiting for the first link dump"
                     : absl::StrCat("starting: waiting for Redis (", st.startup_waiting_for,
                                    "); start mode not decided yet"),
                 info_.start_time);
  }
  uint32_t tracked = 0, in_sync = 0;
  // The first ten ports PortInitDone waits for, in natural order (not a copy of them all: at
  // startup that can be every port, and this runs under the model's lock).
  constexpr size_t kShown = 10;
  std::vector<std::string> pending;
  size_t pending_count = 0;
  engine_->WithModel([&](const PortModel& model) {
    for (const auto& [name, port] : model.ports()) {
      if (!IsTracked(port)) continue;
      ++tracked;
      if (st.redis_enabled && port.state_db_in_sync()) ++in_sync;
    }
    if (st.port_init_done || !st.redis_enabled) return;
    pending_count = model.pending().size();
    auto later = [](const std::string* x, const std::string* y) { return NaturalLess(*x, *y); };
    std::vector<const std::string*> first;  // a max-heap of the naturally first kShown
    for (const std::string& name : model.pending()) {
      if (first.size() < kShown) {
        first.push_back(&name);
        std::push_heap(first.begin(), first.end(), later);
      } else if (NaturalLess(name, *first.front())) {
        std::pop_heap(first.begin(), first.end(), later);
        first.back() = &name;
        std::push_heap(first.begin(), first.end(), later);
      }
    }
    std::sort_heap(first.begin(), first.end(), later);
    for (const std::string* name : first) pending.push_back(*name);
  });
  if (!st.redis_enabled) {
    // No PortInitDone without a database: no component for it.
  } else if (st.port_init_done) {
    AddComponent(health, "port_init_done", v1::SERVING_STATUS_SERVING, "PortInitDone published",
                 st.port_init_done_time);
  } else {
    if (pending_count > kShown) pending.push_back("...");
    AddComponent(
        health, "port_init_done", v1::SERVING_STATUS_DEGRADED,
        absl::StrCat("waiting for ports to get their netdev: ",
                     pending.empty() ? "(none; about to publish)" : absl::StrJoin(pending, " ")),
        info_.start_time);
  }
  AddComponent(health, "config", v1::SERVING_STATUS_SERVING, info_.describe_config(),
               info_.start_time);

  health.set_version(info_.version);
  const absl::Duration uptime = now - info_.start_time;
  health.mutable_uptime()->set_seconds(absl::ToInt64Seconds(uptime));
  health.mutable_uptime()->set_nanos(
      static_cast<int32_t>(absl::ToInt64Nanoseconds(uptime % absl::Seconds(1))));
  health.set_instance_id(hub_->instance_id());
  health.set_mode(st.redis_enabled ? "sonic" : "host");
  health.set_start_mode(!st.redis_enabled  ? "host"
                        : st.start_decided ? std::string(StartModeName(st.start_mode))
                                           : "pending");
  health.set_ports_tracked(tracked);
  health.set_ports_in_sync(in_sync);
  v1::HealthCounters* out = health.mutable_counters();
  out->set_netlink_messages(c.netlink_messages.load());
  out->set_netlink_parse_errors(c.netlink_parse_errors.load());
  out->set_netlink_overruns(c.netlink_overflows.load());
  out->set_netlink_resyncs(c.netlink_dumps.load() > 0 ? c.netlink_dumps.load() - 1 : 0);
  out->set_ports_written(c.state_db_writes.load());
  out->set_ports_deleted(c.state_db_deletes.load());
  out->set_writes_merged(st.merged_writes);
  out->set_redis_reconnects(c.redis_connects.load());
  out->set_drift_repairs(c.drift_repairs.load());
  out->set_stream_subscribers(hub_->subscribers(EventHub::Api::kPortSync));
  out->set_gnmi_subscribers(static_cast<uint32_t>(hub_->subscribers(EventHub::Api::kGnmi)));
  out->set_state_db_batches(c.state_db_batches.load());
  out->set_netdev_renames(st.netdev_renames);
  out->set_keyspace_events(c.keyspace_events.load());
  out->set_keyspace_checks(c.keyspace_checks.load());
  return health;
}

grpc::ServerUnaryReactor* PortSyncService::GetHealth(grpc::CallbackServerContext* context,
                                                     const v1::GetHealthRequest*,
                                                     v1::GetHealthResponse* response) {
  *response = Health();
  return FinishUnary(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* PortSyncService::Reload(grpc::CallbackServerContext* context,
                                                  const v1::ReloadRequest*,
                                                  v1::ReloadResponse* response) {
  const auto& metadata = context->client_metadata();
  auto it = metadata.find("authorization");
  const std::string presented =
      it == metadata.end() ? "" : std::string(it->second.data(), it->second.size());
  if (reload_token_.empty() || !absl::StartsWith(presented, "Bearer ") ||
      !TokenEquals(absl::string_view(presented).substr(7), reload_token_)) {
    PSLOG_RATE_LIMITED(LogLevel::kWarn, "Reload refused: caller ", context->peer(),
                       " is not authorized");
    return FinishUnary(
        context, grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                              "Reload needs authorization: send 'authorization: Bearer <token>' "
                              "with the token from the daemon's reload token file"));
  }
  absl::StatusOr<ReloadResult> result = reload_();
  if (!result.ok()) return FinishUnary(context, ToGrpc(result.status()));
  response->set_config_version(result->config_version);
  for (const std::string& key : result->changed_keys) response->add_changed_keys(key);
  for (const std::string& key : result->restart_required_keys) {
    response->add_restart_required_keys(key);
  }
  return FinishUnary(context, grpc::Status::OK);
}

}  // namespace portsyncd
