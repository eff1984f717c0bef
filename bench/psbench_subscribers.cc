#include "bench/psbench_subscribers.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>

#include "bench/psbench_common.h"
#include "gnmi/gnmi.grpc.pb.h"
#include "portsyncd/v1/portsyncd.grpc.pb.h"

namespace psbench {

namespace pb = ::portsyncd::v1;

// What either kind of stream shares: the pool, the call's context, the figures, and matching
// the generator's current expectation.
class SubscriberPool::AnyStream {
 public:
  explicit AnyStream(SubscriberPool* pool) : pool_(pool) {}
  virtual ~AnyStream() = default;
  void Cancel() {
    cancelled_ = true;
    ctx_.TryCancel();
  }
  const Stats& stats() const { return stats_; }

 protected:
  // The call ended (OnDone).
  void Ended() {
    if (!cancelled_) ++stats_.ended_early;
    pool_->Done();
  }
  void Synced() {
    if (!synced_) pool_->Synced();
    synced_ = true;
  }
  // The generator's current expectation; false when none (or it is being rewritten), or when
  // this stream already recorded it.
  bool Expected(uint64_t& id, int& port, int& field, uint32_t& value, int64_t& t0) const {
    ExpectedEvent* e = pool_->expected_;
    if (e == nullptr) return false;
    id = e->id.load(std::memory_order_acquire);
    if (id == 0 || id == last_id_) return false;
    port = e->port.load(std::memory_order_relaxed);
    field = e->field.load(std::memory_order_relaxed);
    value = e->value.load(std::memory_order_relaxed);
    t0 = e->t0_ns.load(std::memory_order_relaxed);
    return e->id.load(std::memory_order_acquire) == id;
  }
  // This stream received expectation `id` at `now`.
  void Record(uint64_t id, int64_t now, int64_t t0, std::vector<float>& latencies) {
    last_id_ = id;
    latencies.push_back(static_cast<float>((now - t0) / 1000.0));
    pool_->Received(id);
  }

  SubscriberPool* pool_;
  grpc::ClientContext ctx_;
  Stats stats_;
  bool synced_ = false;

 private:
  std::atomic<bool> cancelled_{false};
  uint64_t last_id_ = 0;
};

// What a StreamLinkEvents and a WatchLinkEvents subscriber do with each event.
class SubscriberPool::LinkEventReader : public AnyStream {
 public:
  using AnyStream::AnyStream;

 protected:
  void Handle(const pb::LinkEvent& event, int64_t now) {
    ++stats_.events;
    switch (event.type()) {
      case pb::LinkEvent::TYPE_SYNCED:
        Synced();
        next_sequence_ = event.sequence() + 1;
        break;
      case pb::LinkEvent::TYPE_RESYNC:
        ++stats_.resyncs;
        next_sequence_ = 0;  // a snapshot follows: no hole is a loss until its SYNCED
        break;
      case pb::LinkEvent::TYPE_SNAPSHOT: ++stats_.snapshots; break;
      case pb::LinkEvent::TYPE_CHANGED:
        ++stats_.changed;
        Match(event, now);
        Live(event);
        break;
      case pb::LinkEvent::TYPE_ADDED:
      case pb::LinkEvent::TYPE_REMOVED:
        Live(event);
        break;
      default: break;
    }
  }
  // Every port is subscribed, so every sequence after SYNCED must arrive, in order, unless a
  // RESYNC says the stream fell behind: a hole without one is a lost event.
  void Live(const pb::LinkEvent& event) {
    if (next_sequence_ == 0) return;
    if (event.sequence() != next_sequence_) {
      stats_.lost += event.sequence() > next_sequence_ ? event.sequence() - next_sequence_ : 1;
    }
    next_sequence_ = event.sequence() + 1;
  }
  uint64_t next_sequence_ = 0;

 private:
  // Records the latency when this event is the one the generator is waiting for.
  void Match(const pb::LinkEvent& event, int64_t now) {
    uint64_t id;
    int port, field;
    uint32_t value;
    int64_t t0;
    if (!Expected(id, port, field, value, t0)) return;
    const pb::PortState& p = event.port();
    if (p.name() != "Ethernet" + std::to_string(port)) return;
    bool match = false;
    auto status = value ? pb::LINK_STATUS_UP : pb::LINK_STATUS_DOWN;
    if (field == ExpectedEvent::kAdmin) match = p.admin_status() == status;
    if (field == ExpectedEvent::kOper) match = p.oper_status() == status;
    if (field == ExpectedEvent::kMtu) match = p.mtu() == value;
    if (!match) return;
    Record(id, now, t0, stats_.latency_us);
  }
};

class SubscriberPool::Stream : public grpc::ClientReadReactor<pb::LinkEvent>,
                               public LinkEventReader {
 public:
  Stream(pb::PortSync::Stub* stub, SubscriberPool* pool) : LinkEventReader(pool) {
    stub->async()->StreamLinkEvents(&ctx_, &request_, this);
    StartRead(&event_);
    StartCall();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;
    ++stats_.messages;
    Handle(event_, NowNs());
    StartRead(&event_);
  }

  void OnDone(const grpc::Status&) override { Ended(); }

 private:
  pb::StreamLinkEventsRequest request_;
  pb::LinkEvent event_;
};

// WatchLinkEvents: the same events, several per message.
class SubscriberPool::WatchStream : public grpc::ClientReadReactor<pb::LinkEventBatch>,
                                    public LinkEventReader {
 public:
  WatchStream(pb::PortSync::Stub* stub, SubscriberPool* pool) : LinkEventReader(pool) {
    stub->async()->WatchLinkEvents(&ctx_, &request_, this);
    StartRead(&batch_);
    StartCall();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;
    ++stats_.messages;
    const int64_t now = NowNs();
    for (const pb::LinkEvent& event : batch_.events()) Handle(event, now);
    StartRead(&batch_);
  }

  void OnDone(const grpc::Status&) override { Ended(); }

 private:
  pb::StreamLinkEventsRequest request_;
  pb::LinkEventBatch batch_;
};

// A gNMI Subscribe: STREAM of every interface's state, ON_CHANGE, PROTO (what a collector asks).
class SubscriberPool::GnmiStream
    : public grpc::ClientBidiReactor<gnmi::SubscribeRequest, gnmi::SubscribeResponse>,
      public AnyStream {
 public:
  GnmiStream(gnmi::gNMI::Stub* stub, SubscriberPool* pool) : AnyStream(pool) {
    gnmi::SubscriptionList* list = request_.mutable_subscribe();
    list->set_mode(gnmi::SubscriptionList::STREAM);
    list->set_encoding(gnmi::PROTO);
    gnmi::Subscription* sub = list->add_subscription();
    sub->set_mode(gnmi::ON_CHANGE);
    sub->mutable_path()->add_elem()->set_name("interfaces");
    stub->async()->Subscribe(&ctx_, this);
    StartWrite(&request_);
    StartRead(&response_);
    StartCall();
  }

  void OnWriteDone(bool) override {}

  void OnReadDone(bool ok) override {
    if (!ok) return;
    ++stats_.events;
    ++stats_.messages;
    if (response_.has_sync_response()) {
      Synced();
    } else if (synced_) {
      ++stats_.changed;
      for (const gnmi::Update& u : response_.update().update()) {
        if (u.duplicates() > 0) ++stats_.resyncs;  // coalesced: counted as a resync
      }
      Match(NowNs());
    } else {
      ++stats_.snapshots;
    }
    StartRead(&response_);
  }

  void OnDone(const grpc::Status&) override { Ended(); }

 private:
  void Match(int64_t now) {
    uint64_t id;
    int port, field;
    uint32_t value;
    int64_t t0;
    if (!Expected(id, port, field, value, t0)) return;
    const gnmi::Notification& n = response_.update();
    if (n.prefix().elem_size() < 2) return;
    auto key = n.prefix().elem(1).key().find("name");
    if (key == n.prefix().elem(1).key().end() || key->second != "Ethernet" + std::to_string(port))
      return;
    static const char* kLeaf[] = {"admin-status", "oper-status", "mtu"};
    bool match = false;
    for (const gnmi::Update& u : n.update()) {
      const auto& elems = u.path().elem();
      if (elems.empty() || elems[elems.size() - 1].name() != kLeaf[field]) continue;
      match = field == ExpectedEvent::kMtu ? u.val().uint_val() == value
                                           : u.val().string_val() == (value ? "UP" : "DOWN");
    }
    if (!match) return;
    Record(id, now, t0, stats_.gnmi_latency_us);
  }

  gnmi::SubscribeRequest request_;
  gnmi::SubscribeResponse response_;
};

SubscriberPool::SubscriberPool(const std::string& grpc_socket, int count, ExpectedEvent* expected,
                               int gnmi_count, bool batched)
    : expected_(expected) {
  for (int i = 0; i < count + gnmi_count; ++i) {
    if (i % 100 == 0) {
      // One connection per 100 streams: a local subchannel pool keeps channels apart.
      grpc::ChannelArguments ch_args;
      ch_args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      auto channel = grpc::CreateCustomChannel("unix:" + grpc_socket,
                                               grpc::InsecureChannelCredentials(), ch_args);
      channels_.push_back(channel);
      stubs_.push_back(pb::PortSync::NewStub(channel));
      gnmi_stubs_.push_back(gnmi::gNMI::NewStub(channel));
    }
    // With both kinds, alternate them (the daemon serves streams in the order they came), so
    // neither API's figures gain from going first.
    const int paired = 2 * std::min(count, gnmi_count);
    const bool gnmi = i < paired ? i % 2 == 1 : gnmi_count > count;
    if (!gnmi && batched) {
      streams_.push_back(std::make_unique<WatchStream>(stubs_.back().get(), this));
    } else if (!gnmi) {
      streams_.push_back(std::make_unique<Stream>(stubs_.back().get(), this));
    } else {
      streams_.push_back(std::make_unique<GnmiStream>(gnmi_stubs_.back().get(), this));
    }
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
    total.messages += st.messages;
    total.changed += st.changed;
    total.resyncs += st.resyncs;
    total.snapshots += st.snapshots;
    total.ended_early += st.ended_early;
    total.lost += st.lost;
    total.latency_us.insert(total.latency_us.end(), st.latency_us.begin(), st.latency_us.end());
    total.gnmi_latency_us.insert(total.gnmi_latency_us.end(), st.gnmi_latency_us.begin(),
                                 st.gnmi_latency_us.end());
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
