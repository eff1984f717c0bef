// KernelFollower fed by a fake event source and a FakeClock, one Step at a time: the initial
// dump, overflow recovery, interrupted and refused dumps, a dump that stalls. Which ports a
// resync removes, and when, is decided here by the test, not by a storm's timing (the same
// paths run on the real kernel in test_resilience.NetlinkOverflowTest and
// test_faults.OverflowHealthTest).
#include "core/kernel_follower.h"

#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstring>
#include <deque>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/fake_netlink.h"
#include "tests/unit/redis_socketpair.h"

namespace portsyncd {
namespace {

class FakeEvents : public LinkEventSource {
 public:
  int fd() const override { return -1; }
  absl::StatusOr<uint32_t> RequestDump() override {
    if (refuse_next_dump) {
      refuse_next_dump = false;
      return absl::UnavailableError("fake: ENOBUFS");
    }
    dumps.push_back(++seq_);
    return seq_;
  }
  absl::StatusOr<ReadResult> ReadAvailable(absl::FunctionRef<void(const nlmsghdr*)> on_message,
                                           int max_datagrams) override {
    ReadResult result;
    // Reading is I/O: the model's lock must not be held across it (core/engine.h).
    if (model_lock != nullptr) {
      const bool free = model_lock->TryLock();
      if (free) model_lock->Unlock();
      if (!free) ++reads_under_lock;
    }
    while (!queue.empty() && result.datagrams < max_datagrams) {
      Datagram d = std::move(queue.front());
      queue.pop_front();
      Deliver(d, on_message, result);
    }
    result.overflow = std::exchange(overflow, false);
    return result;
  }
  uint64_t malformed_headers() const override { return 0; }
  int effective_receive_buffer() const override { return 1 << 20; }

  uint32_t last_dump() const { return dumps.empty() ? 0 : dumps.back(); }

  std::deque<Datagram> queue;
  std::vector<uint32_t> dumps;
  absl::Mutex* model_lock = nullptr;
  int reads_under_lock = 0;
  bool overflow = false;
  bool refuse_next_dump = false;

 private:
  uint32_t seq_ = 100;
};

class KernelFollowerTest : public ::testing::Test {
 protected:
  KernelFollowerTest() {
    options_.direct_writes = false;
    events_.model_lock = &shared_.mu;
    absl::MutexLock lock(&shared_.mu);
    for (const char* name : {"Ethernet0", "Ethernet4", "Ethernet8"}) {
      shared_.model.SetInApplDb(name);
    }
  }
  // A complete dump of `names` (ifindex 10, 11, ...) answering the last request.
  void AnswerDump(std::vector<const char*> names, uint16_t flags_of_first = 0) {
    const uint32_t seq = events_.last_dump();
    int32_t ifindex = 10;
    for (const char* name : names) {
      events_.queue.push_back(Link(RTM_NEWLINK, seq, name, ifindex++,
                                   NLM_F_MULTI | (name == names.front() ? flags_of_first : 0)));
    }
    events_.queue.push_back(Control(NLMSG_DONE, seq, 0));
  }
  bool InKernel(const char* name) {
    absl::MutexLock lock(&shared_.mu);
    const Port* port = shared_.model.Find(name);
    return port != nullptr && port->in_kernel;
  }
  bool InitialDumpDone() {
    absl::MutexLock lock(&shared_.mu);
    return shared_.initial_dump_done;
  }
  void Synced() {
    follower_.Begin(events_);
    AnswerDump({"Ethernet0", "Ethernet4"});
    follower_.Step();
    ASSERT_TRUE(follower_.initial_sync_done());
  }

  EngineOptions options_;
  SharedModel shared_;
  EngineCounters counters_;
  std::atomic<bool> stopping_{false};
  FakeClock clock_;
  FakeEvents events_;
  KernelFollower follower_{options_,  shared_,       counters_, -1,    -1,
                           stopping_, "PORT_TABLE|", nullptr,   clock_};
};

TEST_F(KernelFollowerTest, TheFirstCompleteDumpIsTheInitialSync) {
  follower_.Begin(events_);
  EXPECT_EQ(events_.dumps.size(), 1u);
  events_.queue.push_back(Link(RTM_NEWLINK, events_.last_dump(), "Ethernet0", 10, NLM_F_MULTI));
  follower_.Step();  // half a dump: not synced yet
  EXPECT_FALSE(InitialDumpDone());
  EXPECT_TRUE(InKernel("Ethernet0"));
  events_.queue.push_back(Control(NLMSG_DONE, events_.last_dump(), 0));
  follower_.Step();
  EXPECT_TRUE(InitialDumpDone());
  EXPECT_TRUE(follower_.initial_sync_done());
  EXPECT_EQ(events_.dumps.size(), 1u);
}

TEST_F(KernelFollowerTest, TheInitialDumpRewritesNothingAResyncRewritesEveryPort) {
  auto write_dirty = [&] {
    absl::MutexLock lock(&shared_.mu);
    std::vector<StateWrite> writes = shared_.model.TakeDirty();
    for (const StateWrite& w : writes) shared_.model.CompleteWrite(w, /*ok=*/true);
    return writes.size();
  };
  follower_.Begin(events_);
  events_.queue.push_back(Link(RTM_NEWLINK, events_.last_dump(), "Ethernet0", 10, NLM_F_MULTI));
  follower_.Step();
  EXPECT_EQ(write_dirty(), 1u);  // written while the dump goes on (StateWriter)
  events_.queue.push_back(Link(RTM_NEWLINK, events_.last_dump(), "Ethernet4", 11, NLM_F_MULTI));
  events_.queue.push_back(Control(NLMSG_DONE, events_.last_dump(), 0));
  follower_.Step();
  ASSERT_TRUE(InitialDumpDone());
  EXPECT_EQ(write_dirty(), 1u) << "Ethernet4 only: Ethernet0 was written from this very dump";
  // An overflow's re-dump rewrites every port (COMPATIBILITY 7.1).
  events_.overflow = true;
  follower_.Step();
  AnswerDump({"Ethernet0", "Ethernet4"});
  follower_.Step();
  EXPECT_EQ(write_dirty(), 2u);
}

TEST_F(KernelFollowerTest, ANewSelectionDuringADumpGetsADumpOfItsOwnCountedApart) {
  follower_.Begin(events_);
  const uint32_t first = events_.last_dump();
  // The dump passes eth0 while it is not followed yet...
  events_.queue.push_back(Link(RTM_NEWLINK, first, "eth0", 2, NLM_F_MULTI));
  events_.queue.push_back(Link(RTM_NEWLINK, first, "Ethernet0", 10, NLM_F_MULTI));
  follower_.Step();
  EXPECT_FALSE(InKernel("eth0"));
  // ...then a reload takes eth0 in (Engine::SetPortSelection).
  {
    absl::MutexLock lock(&shared_.mu);
    absl::StatusOr<PortSelection> s = PortSelection::Create({"Ethernet*", "eth*"}, {});
    ASSERT_TRUE(s.ok());
    (void)shared_.model.SetSelection(*s, clock_.Now());
  }
  follower_.RequestDump();
  events_.queue.push_back(Control(NLMSG_DONE, first, 0));
  follower_.Step();
  EXPECT_TRUE(follower_.initial_sync_done());
  ASSERT_EQ(events_.dumps.size(), 2u) << "the dump that ran cannot show what it passed";
  AnswerDump({"Ethernet0", "eth0"});
  follower_.Step();
  EXPECT_TRUE(InKernel("eth0"));
  EXPECT_TRUE(InKernel("Ethernet0"));
  // Not a resync: health and /metrics count netlink_dumps - 1 as resyncs.
  EXPECT_EQ(counters_.netlink_dumps.load(), 1u);
  EXPECT_EQ(counters_.selection_dumps.load(), 1u);
  EXPECT_EQ(events_.dumps.size(), 2u);
}

TEST_F(KernelFollowerTest, AnOverflowReDumpsAndTheDumpRemovesWhatWasLost) {
  Synced();
  // Ethernet4's DELLINK is lost in an overflow.
  events_.overflow = true;
  follower_.Step();
  EXPECT_EQ(counters_.netlink_overflows.load(), 1u);
  ASSERT_EQ(events_.dumps.size(), 2u);
  EXPECT_TRUE(InKernel("Ethernet4"));  // nothing is removed before the dump says so
  AnswerDump({"Ethernet0"});
  follower_.Step();
  EXPECT_FALSE(InKernel("Ethernet4"));
  EXPECT_TRUE(InKernel("Ethernet0"));
  EXPECT_EQ(counters_.ports_removed_by_resync.load(), 1u);
  EXPECT_EQ(events_.dumps.size(), 2u);
}

TEST_F(KernelFollowerTest, AnOverflowDuringADumpMakesItIncompleteAndAnotherIsRequested) {
  Synced();
  events_.overflow = true;
  follower_.Step();
  ASSERT_EQ(events_.dumps.size(), 2u);
  // The dump's first half, then another overflow: the NEWLINK of a port it had already passed
  // may be lost, so this dump cannot tell what is gone.
  events_.queue.push_back(Link(RTM_NEWLINK, events_.last_dump(), "Ethernet0", 10, NLM_F_MULTI));
  events_.overflow = true;
  follower_.Step();
  events_.queue.push_back(Control(NLMSG_DONE, events_.dumps[1], 0));
  follower_.Step();
  EXPECT_TRUE(InKernel("Ethernet4"));  // not removed by the incomplete dump
  EXPECT_EQ(counters_.ports_removed_by_resync.load(), 0u);
  ASSERT_EQ(events_.dumps.size(), 3u);
  AnswerDump({"Ethernet0"});
  follower_.Step();
  EXPECT_FALSE(InKernel("Ethernet4"));
}

TEST_F(KernelFollowerTest, ADumpTheKernelMarksInterruptedIsRepeated) {
  Synced();
  events_.overflow = true;
  follower_.Step();
  AnswerDump({"Ethernet0"}, NLM_F_DUMP_INTR);
  follower_.Step();
  EXPECT_TRUE(InKernel("Ethernet4"));
  ASSERT_EQ(events_.dumps.size(), 3u);
  AnswerDump({"Ethernet0"});
  follower_.Step();
  EXPECT_FALSE(InKernel("Ethernet4"));
}

TEST_F(KernelFollowerTest, ARefusedOrFailedDumpIsRequestedAgain) {
  events_.refuse_next_dump = true;
  follower_.Begin(events_);
  EXPECT_TRUE(events_.dumps.empty());
  follower_.Step();  // the loop's next turn (100 ms later) asks again
  ASSERT_EQ(events_.dumps.size(), 1u);
  events_.queue.push_back(Control(NLMSG_ERROR, events_.last_dump(), -EBUSY));
  follower_.Step();
  ASSERT_EQ(events_.dumps.size(), 2u);
  events_.queue.push_back(Control(NLMSG_DONE, events_.last_dump(), -EINTR));  // ended early
  follower_.Step();
  EXPECT_FALSE(InitialDumpDone());
  ASSERT_EQ(events_.dumps.size(), 3u);
  AnswerDump({"Ethernet0"});
  follower_.Step();
  EXPECT_TRUE(InitialDumpDone());
}

// Linux answers a dump request ENOBUFS when our buffer is full for the dump's first part, but
// keeps the dump running (it goes on at our next reads) with the same sequence: asking again
// would be refused (EBUSY) by an ack a full buffer can drop, leaving a stall of kDumpStall (seen
// in bench/run.py --scenarios scale: 4 s to converge after an overflow, 2 runs in 3).
TEST_F(KernelFollowerTest, ADumpRefusedForAFullBufferGoesOnAndIsNotAskedAgain) {
  follower_.Begin(events_);
  ASSERT_EQ(events_.dumps.size(), 1u);
  events_.queue.push_back(Control(NLMSG_ERROR, events_.last_dump(), -ENOBUFS));
  follower_.Step();
  follower_.Step();
  EXPECT_EQ(events_.dumps.size(), 1u);
  AnswerDump({"Ethernet0"});
  follower_.Step();
  EXPECT_TRUE(InitialDumpDone());
  EXPECT_TRUE(InKernel("Ethernet0"));
}

// Linux may give a notification the sequence number of the request that caused it (another
// process's `ip link`): only multipart replies are a dump's.
TEST_F(KernelFollowerTest, ALiveMessageIsAppliedWhateverSequenceItCarries) {
  Synced();
  events_.queue.push_back(Link(RTM_NEWLINK, 1700000000, "Ethernet8", 12));
  events_.queue.push_back(Link(RTM_NEWLINK, events_.dumps[0], "Ethernet4", 11, 0, IFF_UP));
  follower_.Step();
  EXPECT_TRUE(InKernel("Ethernet8"));
  absl::MutexLock lock(&shared_.mu);
  EXPECT_FALSE(shared_.model.Find("Ethernet4")->fields().oper_up)
      << "even one with the sequence of one of our dumps";
}

// What is still queued when the kernel reports an overflow is older than what it dropped. Read
// after the re-dump began, it would count as newer than the dump and keep the port at its state
// before the lost messages, for good once the links stop changing (bench.e2e_smoke: a storm
// with gNMI subscribers, one overflow, all 16 ports stale).
TEST_F(KernelFollowerTest, AReDumpIsAskedForOnlyOnceEverythingQueuedIsRead) {
  Synced();
  events_.overflow = true;  // dropped: Ethernet0's changes after mtu 1069, ending at 2000
  for (int i = 0; i < 70; ++i) {
    events_.queue.push_back(
        Link(RTM_NEWLINK, 0, "Ethernet0", 10, 0, IFF_UP | IFF_RUNNING, 1000 + i));
  }
  follower_.Step();  // 64 datagrams and the overflow
  follower_.Step();  // the other 6
  ASSERT_EQ(events_.dumps.size(), 2u);
  const uint32_t seq = events_.last_dump();
  events_.queue.push_back(
      Link(RTM_NEWLINK, seq, "Ethernet0", 10, NLM_F_MULTI, IFF_UP | IFF_RUNNING, 2000));
  events_.queue.push_back(Link(RTM_NEWLINK, seq, "Ethernet4", 11, NLM_F_MULTI));
  events_.queue.push_back(Control(NLMSG_DONE, seq, 0));
  follower_.Step();
  absl::MutexLock lock(&shared_.mu);
  EXPECT_EQ(shared_.model.Find("Ethernet0")->mtu, 2000u) << "the dump is the newest state";
}

TEST_F(KernelFollowerTest, RepliesOfAnAbandonedDumpAreNotLiveEvents) {
  follower_.Begin(events_);
  events_.queue.push_back(Control(NLMSG_ERROR, events_.last_dump(), -EBUSY));
  follower_.Step();
  ASSERT_EQ(events_.dumps.size(), 2u);
  // The first dump's entries, late: no newer than the second dump, and not live.
  events_.queue.push_back(Link(RTM_NEWLINK, events_.dumps[0], "Ethernet8", 12, NLM_F_MULTI));
  follower_.Step();
  EXPECT_FALSE(InKernel("Ethernet8"));
  AnswerDump({"Ethernet0"});
  follower_.Step();
  EXPECT_TRUE(InitialDumpDone());
  EXPECT_FALSE(InKernel("Ethernet8"));
}

TEST_F(KernelFollowerTest, ADumpThatSendsNothingForFiveSecondsIsRequestedAgain) {
  follower_.Begin(events_);
  clock_.Advance(KernelFollower::kDumpStall);
  follower_.Step();
  EXPECT_EQ(events_.dumps.size(), 1u);  // 5 s exactly: still waiting
  clock_.Advance(absl::Milliseconds(1));
  follower_.Step();
  ASSERT_EQ(events_.dumps.size(), 2u);
  // The abandoned dump's late replies count for nothing; the new one's do.
  events_.queue.push_back(Control(NLMSG_DONE, events_.dumps[0], 0));
  follower_.Step();
  EXPECT_FALSE(InitialDumpDone());
  AnswerDump({"Ethernet0"});
  follower_.Step();
  EXPECT_TRUE(InitialDumpDone());
}

TEST_F(KernelFollowerTest, LiveChangesWakeTheWriterWithoutADirectConnection) {
  Synced();
  (void)shared_.writer.TakeWake();
  {
    absl::MutexLock lock(&shared_.mu);
    (void)shared_.model.TakeDirty();
  }
  events_.queue.push_back(Link(RTM_NEWLINK, 0, "Ethernet8", 12));
  follower_.Step();
  EXPECT_TRUE(InKernel("Ethernet8"));
  EXPECT_TRUE(shared_.writer.TakeWake());
}

// The direct connection at its limit of batches in flight: what is dirty waits for the oldest
// reply, and the writer thread is not woken for it (a socketpair plays Redis).
TEST_F(KernelFollowerTest, AtTheDirectConnectionsLimitTheWriterIsNotWoken) {
  options_.direct_writes = true;
  RedisSocketPair pair;  // nothing answers: every batch stays in flight
  ASSERT_NE(pair.context, nullptr);
  const size_t limit = DirectWriter::kMaxBatchesInFlight;
  {
    absl::MutexLock lock(&shared_.mu);
    for (size_t i = 0; i <= limit; ++i)
      shared_.model.SetInApplDb(absl::StrCat("Ethernet", 100 + i));
  }
  shared_.port_init_done.store(true);  // nothing else for the writer thread
  Synced();
  shared_.direct.Offer(std::move(pair.context));
  follower_.Step();  // adopts it
  (void)shared_.writer.TakeWake();
  for (size_t i = 0; i <= limit; ++i) {
    events_.queue.push_back(Link(RTM_NEWLINK, 0, absl::StrCat("Ethernet", 100 + i).c_str(),
                                 static_cast<int32_t>(20 + i)));
    follower_.Step();  // one batch each, until the limit
  }
  {
    absl::MutexLock lock(&shared_.mu);
    const Port* last = shared_.model.Find(absl::StrCat("Ethernet", 100 + limit));
    ASSERT_NE(last, nullptr);
    EXPECT_TRUE(last->dirty);       // not sent: the limit
    EXPECT_FALSE(last->in_flight);  // and not taken by anyone
  }
  EXPECT_FALSE(shared_.writer.TakeWake());
}

TEST_F(KernelFollowerTest, NetlinkIsReadWithoutTheModelLock) {
  Synced();
  events_.queue.push_back(Link(RTM_NEWLINK, 0, "Ethernet8", 12));
  follower_.Step();
  EXPECT_TRUE(InKernel("Ethernet8"));
  EXPECT_EQ(events_.reads_under_lock, 0);
}

}  // namespace
}  // namespace portsyncd
