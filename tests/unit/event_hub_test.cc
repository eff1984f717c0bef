// EventHub on a FakeEngine: the change log, snapshots, the kicker, registration. No gRPC.
#include "server/stream/event_hub.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/stream/port_names.h"
#include "tests/unit/fake_engine.h"
#include "tests/unit/stream_test_util.h"

namespace portsyncd {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

class CountingSubscriber : public HubSubscriber {
 public:
  void Pump() override {
    absl::MutexLock lock(&mu_);
    ++pumps_;
  }
  void Stop(grpc::Status status) override {
    absl::MutexLock lock(&mu_);
    stopped_ = status;
  }
  // Waits (no timeout: ctest's bounds it) until the kicker pumped at least `n` times.
  void AwaitPumps(int n) {
    std::pair<CountingSubscriber*, int> args(this, n);
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](std::pair<CountingSubscriber*, int>* a)
             ABSL_NO_THREAD_SAFETY_ANALYSIS { return a->first->pumps_ >= a->second; },
        &args));
  }
  std::optional<grpc::Status> stopped() {
    absl::MutexLock lock(&mu_);
    return stopped_;
  }

 private:
  absl::Mutex mu_;
  int pumps_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<grpc::Status> stopped_ ABSL_GUARDED_BY(mu_);
};

class EventHubTest : public ::testing::Test {
 protected:
  explicit EventHubTest(EventHubOptions options = {}) : hub_(&engine_, "run1", options) {
    engine_.set_listener(&hub_);
  }
  std::vector<uint64_t> Sequences(const std::vector<SharedRecord>& records) {
    std::vector<uint64_t> out;
    for (const SharedRecord& r : records) out.push_back(r->sequence);
    return out;
  }
  FakeEngine engine_;
  EventHub hub_;
};

TEST_F(EventHubTest, ARecordHoldsThePortRightBeforeAndRightAfterItsChange) {
  engine_.InitialDump({FakeEngine::NewLink("Ethernet0", 10)});
  engine_.Read({FakeEngine::NewLink("Ethernet0", 10, /*up=*/true, 1500)});
  uint64_t cursor = 0;
  std::vector<SharedRecord> records;
  ASSERT_EQ(hub_.TakeRecords(
                &cursor, [](const ChangeRecord&) { return true; }, 10, &records),
            EventHub::Gap::kNone);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0]->outcome, ApplyOutcome::kAdded);
  ASSERT_NE(records[0]->before, nullptr);
  EXPECT_FALSE(records[0]->before->in_kernel) << "before its netdev appeared";
  EXPECT_EQ(records[1]->port->mtu, 1500u);
  ASSERT_NE(records[1]->before, nullptr);
  EXPECT_EQ(records[1]->before->mtu, 9100u);
  EXPECT_EQ(records[1]->before, records[0]->port) << "shared while the first record lives";
  EXPECT_EQ(records[0]->port_index, records[1]->port_index);
}

TEST_F(EventHubTest, AnIdleHubHoldsNoCopyOfThePorts) {
  engine_.InitialDump(FakeEngine::Ports(3));
  SharedPortSnapshot snapshot = hub_.TakePortSnapshot();
  std::weak_ptr<const PortSnapshot> weak = snapshot;
  snapshot.reset();
  EXPECT_TRUE(weak.expired()) << "the last snapshot is not kept past its use";
  // The records hold the ports of their changes only while they are in the ring.
  uint64_t cursor = 0;
  std::vector<SharedRecord> records;
  ASSERT_EQ(hub_.TakeRecords(
                &cursor, [](const ChangeRecord&) { return true; }, 10, &records),
            EventHub::Gap::kNone);
  EXPECT_EQ(records[0]->port.use_count(), 1) << "no other copy of the port in the hub";
}

TEST_F(EventHubTest, TakeRecordsSkipsWhatTheStreamDoesNotWantAndStopsAtMax) {
  engine_.InitialDump(FakeEngine::Ports(4));  // sequences 1..4: Ethernet0, 4, 8, 12
  uint64_t cursor = 0;
  std::vector<SharedRecord> records;
  auto not_ethernet4 = [](const ChangeRecord& r) { return r.name() != "Ethernet4"; };
  EXPECT_EQ(hub_.TakeRecords(&cursor, not_ethernet4, 2, &records), EventHub::Gap::kNone);
  EXPECT_THAT(Sequences(records), ElementsAre(1, 3));
  EXPECT_EQ(cursor, 3u) << "past everything looked at, not past what is left";
  records.clear();
  EXPECT_EQ(hub_.TakeRecords(&cursor, not_ethernet4, 2, &records), EventHub::Gap::kNone);
  EXPECT_THAT(Sequences(records), ElementsAre(4));
  records.clear();
  EXPECT_EQ(hub_.TakeRecords(&cursor, not_ethernet4, 2, &records), EventHub::Gap::kNone);
  EXPECT_THAT(records, IsEmpty());
}

class SmallHubTest : public EventHubTest {
 protected:
  SmallHubTest() : EventHubTest(SmallRing()) {}
};

TEST_F(SmallHubTest, ABeforeWhoseRecordLeftTheRingIsTheModelsCopy) {
  engine_.InitialDump({FakeEngine::NewLink("Ethernet0", 10)});  // 1
  engine_.Read({FakeEngine::NewLink("Ethernet4", 11), FakeEngine::NewLink("Ethernet8", 12),
                FakeEngine::NewLink("Ethernet12", 13), FakeEngine::NewLink("Ethernet16", 14)});
  // 2..5 fill the ring of 4: Ethernet0's record has left it, and nothing holds its port.
  engine_.Read({FakeEngine::NewLink("Ethernet0", 10, /*up=*/true, 1500)});  // 6
  uint64_t cursor = 5;
  std::vector<SharedRecord> records;
  ASSERT_EQ(hub_.TakeRecords(
                &cursor, [](const ChangeRecord&) { return true; }, 10, &records,
                /*replaying=*/true),
            EventHub::Gap::kNone);
  ASSERT_EQ(records.size(), 1u);
  ASSERT_NE(records[0]->before, nullptr);
  EXPECT_EQ(records[0]->before->mtu, 9100u);
  EXPECT_TRUE(records[0]->before->in_kernel);
}

TEST_F(SmallHubTest, AStreamTooFarBehindIsToldSoAndOneWhoseNextRecordLeftTheRingToo) {
  engine_.InitialDump(FakeEngine::Ports(3));  // 1..3
  uint64_t cursor = 0;
  std::vector<SharedRecord> records;
  size_t queued = 0;
  EXPECT_EQ(hub_.TakeRecords(
                &cursor, [](const ChangeRecord&) { return true; }, 10, &records,
                /*replaying=*/false, &queued),
            EventHub::Gap::kTooFarBehind);
  EXPECT_EQ(queued, 3u);
  EXPECT_THAT(records, IsEmpty());
  EXPECT_EQ(cursor, 0u);
  EXPECT_EQ(hub_.TakeRecords(
                &cursor, [](const ChangeRecord&) { return true; }, 10, &records,
                /*replaying=*/true),
            EventHub::Gap::kNone)
      << "a replay is never too far behind while its records are in the ring";
  EXPECT_EQ(records.size(), 3u);
  engine_.Read(FakeEngine::Ports(6));  // 3 more: 4..6; the ring keeps 4 (3..6)
  uint64_t old_cursor = 1;
  EXPECT_EQ(hub_.TakeRecords(
                &old_cursor, [](const ChangeRecord&) { return true; }, 10, &records,
                /*replaying=*/true),
            EventHub::Gap::kEvicted);
  const EventHub::Position at = hub_.position();
  EXPECT_EQ(at.head, 6u);
  EXPECT_EQ(at.evicted, 2u);
  EXPECT_EQ(at.oldest, 3u);
}

TEST_F(SmallHubTest, ABatchLargerThanTheRingKeepsItsNewestRecords) {
  engine_.InitialDump(FakeEngine::Ports(10));  // 1..10 in one batch; the ring keeps 4
  const EventHub::Position at = hub_.position();
  EXPECT_EQ(at.head, 10u);
  EXPECT_EQ(at.evicted, 6u);
  EXPECT_EQ(at.oldest, 7u);
  uint64_t cursor = 6;
  std::vector<SharedRecord> records;
  EXPECT_EQ(hub_.TakeRecords(
                &cursor, [](const ChangeRecord&) { return true; }, 10, &records,
                /*replaying=*/true),
            EventHub::Gap::kNone);
  EXPECT_THAT(Sequences(records), ElementsAre(7, 8, 9, 10));
  uint64_t behind = 5;
  EXPECT_EQ(hub_.TakeRecords(
                &behind, [](const ChangeRecord&) { return true; }, 10, &records,
                /*replaying=*/true),
            EventHub::Gap::kEvicted);
}

TEST_F(EventHubTest, NoSnapshotBeforeTheFirstDumpThenOneSharedWhileNoChangeFollowsIt) {
  engine_.Read(FakeEngine::Ports(2));  // applied, but not a complete dump yet
  EXPECT_EQ(hub_.TakePortSnapshot(), nullptr);
  EXPECT_FALSE(hub_.synced());
  engine_.InitialDump({});
  SharedPortSnapshot first = hub_.TakePortSnapshot();
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->sequence, 2u);
  ASSERT_EQ(first->ports.size(), 2u);
  EXPECT_EQ(first->ports[0].port.name, "Ethernet0");
  EXPECT_EQ(hub_.TakePortSnapshot(), first) << "shared while current";
  engine_.Read({FakeEngine::NewLink("Ethernet0", 100, /*up=*/false)});
  SharedPortSnapshot second = hub_.TakePortSnapshot();
  EXPECT_NE(second, first) << "a snapshot followed by a change is not current";
  EXPECT_EQ(second->sequence, 3u);
  EXPECT_FALSE(second->ports[0].port.fields().oper_up);
}

TEST_F(EventHubTest, SnapshotsListPortsInNaturalOrder) {
  engine_.InitialDump({FakeEngine::NewLink("Ethernet100", 1), FakeEngine::NewLink("Ethernet8", 2),
                       FakeEngine::NewLink("Ethernet12", 3)});
  SharedPortSnapshot snapshot = hub_.TakePortSnapshot();
  std::vector<std::string> names;
  for (const auto& e : snapshot->ports) names.push_back(e.port.name);
  EXPECT_THAT(names, ElementsAre("Ethernet8", "Ethernet12", "Ethernet100"));
}

// Snapshots copied two ports per hold of the model lock, with a ring of four changes.
class SlicedSnapshotTest : public EventHubTest {
 protected:
  SlicedSnapshotTest()
      : EventHubTest(EventHubOptions{
            .replay_buffer = 4, .stream_queue_limit = 4, .max_streams = 64, .snapshot_slice = 2}) {
    // The model's order is natural: Ethernet0, Ethernet4, Ethernet8, Ethernet12, Ethernet16.
    engine_.InitialDump(FakeEngine::Ports(5));
  }
  // What a snapshot should hold: the model now, in natural order.
  std::vector<std::string> Model() {
    std::vector<std::string> out;
    engine_.WithModel([&](const PortModel& model) {
      for (const auto& [name, port] : model.ports()) out.push_back(Describe(port));
    });
    std::sort(out.begin(), out.end(), [](const std::string& a, const std::string& b) {
      return NaturalLess(a.substr(0, a.find(' ')), b.substr(0, b.find(' ')));
    });
    return out;
  }
  static std::vector<std::string> Describe(const PortSnapshot& snapshot) {
    std::vector<std::string> out;
    for (const auto& e : snapshot.ports) out.push_back(Describe(e.port));
    return out;
  }
  static std::string Describe(const Port& port) {
    return absl::StrCat(port.name, " kernel=", port.in_kernel, " up=", port.fields().oper_up,
                        " mtu=", port.mtu);
  }
};

TEST_F(SlicedSnapshotTest, PortsChangedBetweenSlicesAreCopiedAgain) {
  int calls = 0;
  engine_.set_after_with_model([&](int n) {
    calls = n;
    if (n != 1) return;
    // After the first slice (Ethernet0, Ethernet4): change a copied port, add one where the copy
    // has passed, take one out of the kernel, and change one not copied yet. Each has a change
    // record (the ring holds all four), so only they are copied again.
    engine_.Read({FakeEngine::NewLink("Ethernet0", 100, /*up=*/false),
                  FakeEngine::NewLink("Ethernet2", 106), FakeEngine::DelLink("Ethernet12", 103),
                  FakeEngine::NewLink("Ethernet8", 102, /*up=*/true, 1500)});
  });
  SharedPortSnapshot snapshot = hub_.TakePortSnapshot();
  engine_.set_after_with_model(nullptr);
  EXPECT_EQ(calls, 3) << "two ports per hold: Ethernet0 and 4, Ethernet8 and 12, Ethernet16";
  EXPECT_EQ(snapshot->sequence, engine_.sequence());
  EXPECT_EQ(Describe(*snapshot), Model());
  EXPECT_THAT(
      Describe(*snapshot),
      ElementsAre("Ethernet0 kernel=1 up=0 mtu=9100", "Ethernet2 kernel=1 up=1 mtu=9100",
                  "Ethernet4 kernel=1 up=1 mtu=9100", "Ethernet8 kernel=1 up=1 mtu=1500",
                  "Ethernet12 kernel=0 up=1 mtu=9100", "Ethernet16 kernel=1 up=1 mtu=9100"));
}

TEST_F(SlicedSnapshotTest, APortAddedWithoutARecordBetweenSlicesIsInTheSnapshot) {
  engine_.set_after_with_model([&](int n) {
    // After the first slice (Ethernet0, Ethernet4): a configured port, loaded with no change
    // record, whose name falls where the copy has already passed.
    if (n == 1) engine_.Configure({"Ethernet1"}, {});
  });
  SharedPortSnapshot snapshot = hub_.TakePortSnapshot();
  engine_.set_after_with_model(nullptr);
  EXPECT_EQ(Describe(*snapshot), Model());
  EXPECT_EQ(Describe(*snapshot)[0], "Ethernet0 kernel=1 up=1 mtu=9100");
  EXPECT_EQ(Describe(*snapshot)[1], "Ethernet1 kernel=0 up=0 mtu=0");
}

TEST_F(SlicedSnapshotTest, MoreChangesThanTheRingDuringTheCopyTakeTheWholeModelAgain) {
  engine_.set_after_with_model([&](int n) {
    if (n != 1) return;
    // Six changes: the ring keeps the last four, so the first two (ports already copied) are
    // known only to the model.
    engine_.Read({FakeEngine::NewLink("Ethernet0", 100, /*up=*/true, 1000),
                  FakeEngine::NewLink("Ethernet12", 103, /*up=*/true, 1200)});
    engine_.Read({FakeEngine::NewLink("Ethernet4", 101, /*up=*/true, 1400),
                  FakeEngine::NewLink("Ethernet8", 102, /*up=*/true, 1800),
                  FakeEngine::NewLink("Ethernet16", 104, /*up=*/true, 1600),
                  FakeEngine::NewLink("Ethernet4", 101, /*up=*/true, 1401)});
  });
  SharedPortSnapshot snapshot = hub_.TakePortSnapshot();
  engine_.set_after_with_model(nullptr);
  EXPECT_EQ(snapshot->sequence, engine_.sequence());
  EXPECT_EQ(Describe(*snapshot), Model());
  EXPECT_EQ(Describe(*snapshot)[0], "Ethernet0 kernel=1 up=1 mtu=1000");
}

TEST_F(EventHubTest, TheKickerPumpsEveryRegisteredStreamAfterAChange) {
  CountingSubscriber a, b;
  ASSERT_TRUE(hub_.Register(&a, EventHub::Api::kPortSync));
  ASSERT_TRUE(hub_.Register(&b, EventHub::Api::kGnmi));
  engine_.InitialDump(FakeEngine::Ports(1));
  a.AwaitPumps(1);
  b.AwaitPumps(1);
  engine_.Read({FakeEngine::NewLink("Ethernet0", 100, /*up=*/false)});
  a.AwaitPumps(2);
  b.AwaitPumps(2);
  hub_.Unregister(&a);
  hub_.Unregister(&b);
}

TEST_F(SmallHubTest, StreamsAreLimitedPerApiAndRefusedAfterShutdownWhichStopsThem) {
  CountingSubscriber a, b, c, d;
  EXPECT_TRUE(hub_.Register(&a, EventHub::Api::kPortSync));
  EXPECT_FALSE(hub_.Register(&b, EventHub::Api::kPortSync)) << "max_streams 1 per API";
  EXPECT_TRUE(hub_.Register(&c, EventHub::Api::kGnmi));
  EXPECT_EQ(hub_.subscribers(EventHub::Api::kPortSync), 1u);
  EXPECT_EQ(hub_.subscribers(EventHub::Api::kGnmi), 1u);
  hub_.Shutdown();
  ASSERT_TRUE(a.stopped().has_value());
  EXPECT_EQ(a.stopped()->error_code(), grpc::StatusCode::UNAVAILABLE);
  ASSERT_TRUE(c.stopped().has_value());
  EXPECT_FALSE(b.stopped().has_value());
  hub_.Unregister(&a);
  EXPECT_FALSE(hub_.Register(&d, EventHub::Api::kPortSync)) << "refused after shutdown";
  hub_.Unregister(&c);
}

TEST_F(EventHubTest, SequenceBeforeFindsWhereAReplayFromATimeStarts) {
  engine_.InitialDump(FakeEngine::Ports(1), absl::Now());
  const absl::Time later = absl::Now() + absl::Hours(1);
  engine_.Read({FakeEngine::NewLink("Ethernet0", 100, false)}, later);
  absl::StatusOr<uint64_t> before = hub_.SequenceBefore(later);
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_EQ(*before, 1u);
  EXPECT_EQ(hub_.SequenceBefore(absl::Now() - absl::Hours(1)).status().code(),
            absl::StatusCode::kOutOfRange)
      << "before the hub started";
}

}  // namespace
}  // namespace portsyncd
