// K StreamLinkEvents subscribers and G gNMI Subscribe (STREAM, ON_CHANGE, PROTO) subscribers in
// one process (gRPC callback API, one channel per 100 streams), for the streaming and footprint
// scenarios. Each records, for the event the latency generator is currently waiting for, the
// time from the kernel change to its own receipt.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "gnmi/gnmi.grpc.pb.h"
#include "portsyncd/v1/portsyncd.grpc.pb.h"

namespace psbench {

// What the generator changed last: the subscribers compare every CHANGED event with it.
// Written as a seqlock by one thread (the generator), read by the gRPC callback threads.
struct ExpectedEvent {
  enum Field { kAdmin, kOper, kMtu };
  std::atomic<uint64_t> id{0};  // 0 while being rewritten
  std::atomic<int> port{-1};
  std::atomic<int> field{kAdmin};
  std::atomic<uint32_t> value{0};  // 1/0 for up/down, or the MTU
  std::atomic<int64_t> t0_ns{0};
};

class SubscriberPool {
 public:
  // `count` portsyncd.v1 streams (WatchLinkEvents when `batched`, else StreamLinkEvents) and
  // `gnmi_count` gNMI Subscribe streams.
  SubscriberPool(const std::string& grpc_socket, int count, ExpectedEvent* expected,
                 int gnmi_count = 0, bool batched = false);
  ~SubscriberPool();

  // Waits until every stream delivered SYNCED; false on timeout.
  bool WaitSynced(int timeout_ms);
  // Waits until every stream recorded event `id`; returns how many did.
  int WaitReceived(uint64_t id, int timeout_ms);
  // Cancels every stream and waits for them to end.
  void Stop();

  struct Stats {
    uint64_t events = 0, changed = 0, resyncs = 0, snapshots = 0, ended_early = 0;
    uint64_t messages = 0;  // gRPC messages read (a WatchLinkEvents batch is one)
    // Live events missing from a portsyncd.v1 stream with no RESYNC to say so (must be 0).
    uint64_t lost = 0;
    std::vector<float> latency_us;  // every (event, subscriber) pair recorded
    std::vector<float> gnmi_latency_us;  // the same, of the gNMI subscribers
  };
  Stats Collect() const;  // after Stop()

  class Stream;
  class WatchStream;
  class LinkEventReader;
  class GnmiStream;
  class AnyStream;

 private:
  friend class Stream;
  void Received(uint64_t id);
  void Synced();
  void Done();

  ExpectedEvent* expected_;
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  std::vector<std::unique_ptr<portsyncd::v1::PortSync::Stub>> stubs_;
  std::vector<std::unique_ptr<gnmi::gNMI::Stub>> gnmi_stubs_;
  bool stopped_ = false;
  std::vector<std::unique_ptr<AnyStream>> streams_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int synced_ = 0;
  int done_ = 0;
  uint64_t received_id_ = 0;
  int received_ = 0;
};

}  // namespace psbench
