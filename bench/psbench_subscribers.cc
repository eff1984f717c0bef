#include "bench/psbench_subscribers.h"

#include <grpcpp/grpcpp.h>

#include <chrono>

#include "bench/psbench_common.h"
#include "portsyncd/v1/portsyncd.grpc.pb.h"

namespace psbench {

namespace pb = ::portsyncd::v1;

class SubscriberPool::Stream : public grpc::ClientReadReactor<pb::LinkEvent> {
 public:
  Stream(pb::PortSync::Stub* stub, SubscriberPool* pool) : pool_(pool) {
    stub->async()->StreamLinkEvents(&ctx_, &request_, this);
    StartRead(&event_);
    StartCall();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;
    ++stats_.events;
    switch (event_.type()) {
      case pb::LinkEvent::TYPE_SYNCED:
        if (!synced_) pool_->Synced();
        synced_ = true;
        break;
      case pb::LinkEvent::TYPE_RESYNC: ++stats_.resyncs; break;
      case pb::LinkEvent::TYPE_SNAPSHOT: ++stats_.snapshots; break;
      case pb::LinkEvent::TYPE_CHANGED:
        ++stats_.changed;
        Match(NowNs());
        break;
      default: break;
    }
    StartRead(&event_);
  }

  void OnDone(const grpc::Status&) override {
    if (!cancelled_) ++stats_.ended_early;
    pool_->Done();
  }

  void Cancel() {
    cancelled_ = true;
    ctx_.TryCancel();
  }
  const Stats& stats() const { return stats_; }

 private:
  // Records the latency when this event is the one the generator is waiting for.
  void Match(int64_t now) {
    ExpectedEvent* e = pool_->expected_;
    if (e == nullptr) return;
    uint64_t id = e->id.load(std::memory_order_acquire);
    if (id == 0 || id == last_id_) return;
    int port = e->port.load(std::memory_order_relaxed);
    int field = e->field.load(std::memory_order_relaxed);
    uint32_t value = e->value.load(std::memory_order_relaxed);
    int64_t t0 = e->t0_ns.load(std::memory_order_relaxed);
    if (e->id.load(std::memory_order_acquire) != id) return;
    const pb::PortState& p = event_.port();
    if (p.name() != "Ethernet" + std::to_string(port)) return;
    bool match = false;
    auto status = value ? pb::LINK_STATUS_UP : pb::LINK_STATUS_DOWN;
    if (field == ExpectedEvent::kAdmin) match = p.admin_status() == status;
    if (field == ExpectedEvent::kOper) match = p.oper_status() == status;
    if (field == ExpectedEvent::kMtu) match = p.mtu() == value;
    if (!match) return;
    last_id_ = id;
    stats_.latency_us.push_back(static_cast<float>((now - t0) / 1000.0));
    pool_->Received(id);
  }

  SubscriberPool* pool_;
  grpc::ClientContext ctx_;
  pb::StreamLinkEventsRequest request_;
  pb::LinkEvent event_;
  Stats stats_;
  bool synced_ = false;
  std::atomic<bool> cancelled_{false};
  uint64_t last_id_ = 0;
};

SubscriberPool::SubscriberPool(const std::string& grpc_socket, int count,
                               ExpectedEvent* expected)
    : expected_(expected) {
  for (int i = 0; i < count; ++i) {
    if (i % 100 == 0) {
      // One connection per 100 streams: a local subchannel pool keeps channels apart.
      grpc::ChannelArguments ch_args;
      ch_args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      auto channel = grpc::CreateCustomChannel("unix:" + grpc_socket,
                                               grpc::InsecureChannelCredentials(), ch_args);
      channels_.push_back(channel);
      stubs_.push_back(pb::PortSync::NewStub(channel));
    }
    streams_.push_back(std::make_unique<Stream>(stubs_.back().get(), this));
  }
}

SubscriberPool::~SubscriberPool() { Stop(); }

bool SubscriberPool::WaitSynced(int timeout_ms) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] {
    return synced_ + done_ >= static_cast<int>(streams_.size());
  }) && done_ == 0;
}

int SubscriberPool::WaitReceived(uint64_t id, int timeout_ms) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] {
    return received_id_ == id && received_ >= static_cast<int>(streams_.size());
  });
  return received_id_ == id ? received_ : 0;
}

void SubscriberPool::Stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& s : streams_) s->Cancel();
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, std::chrono::seconds(10),
               [&] { return done_ >= static_cast<int>(streams_.size()); });
}

SubscriberPool::Stats SubscriberPool::Collect() const {
  Stats total;
  for (const auto& s : streams_) {
    const Stats& st = s->stats();
    total.events += st.events;
    total.changed += st.changed;
    total.resyncs += st.resyncs;
    total.snapshots += st.snapshots;
    total.ended_early += st.ended_early;
    total.latency_us.insert(total.latency_us.end(), st.latency_us.begin(), st.latency_us.end());
  }
  return total;
}

void SubscriberPool::Received(uint64_t id) {
  std::lock_guard lock(mu_);
  if (received_id_ != id) {
    received_id_ = id;
    received_ = 0;
  }
  if (++received_ >= static_cast<int>(streams_.size())) cv_.notify_all();
}

void SubscriberPool::Synced() {
  std::lock_guard lock(mu_);
  ++synced_;
  cv_.notify_all();
}

void SubscriberPool::Done() {
  std::lock_guard lock(mu_);
  ++done_;
  cv_.notify_all();
}

}  // namespace psbench
