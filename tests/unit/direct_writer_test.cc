// DirectWriter over a socketpair: the test plays Redis on the other end, so it decides when
// (and whether) each reply arrives. Real hiredis parses the replies; nothing depends on timing:
// the clock is the `now` the test passes.
#include "core/direct_writer.h"

#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/redis_socketpair.h"

namespace portsyncd {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);

class DirectWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(pair_.context, nullptr);
    writer_.Want();
    EXPECT_TRUE(shared_.direct.wanted());
    shared_.direct.Offer(std::move(pair_.context));
    {
      absl::MutexLock lock(&shared_.mu);
      shared_.initial_dump_done = true;
    }
    writer_.Adopt();
    ASSERT_TRUE(writer_.active());
  }

  void AddPort(const std::string& name, int32_t ifindex, uint32_t mtu) {
    LinkEvent e;
    e.ifindex = ifindex;
    e.name = name;
    e.flags = IFF_UP | IFF_RUNNING;
    e.mtu = mtu;
    e.has_mtu = true;
    absl::MutexLock lock(&shared_.mu);
    shared_.model.SetInApplDb(name);
    shared_.model.Apply(e, kT0);
  }
  // What the daemon sent so far, as Redis received it.
  std::string Received() {
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = read(redis_, buf, sizeof(buf))) > 0) out.append(buf, n);
    return out;
  }
  void Reply(const std::string& resp) {
    ASSERT_EQ(write(redis_, resp.data(), resp.size()), static_cast<ssize_t>(resp.size()));
  }
  portsyncd::Port Find(const std::string& name) {
    absl::MutexLock lock(&shared_.mu);
    return *shared_.model.Find(name);
  }
  bool TakeWriterWake() { return shared_.writer.TakeWake(); }

  EngineOptions options_;  // redis_timeout 2 s
  SharedModel shared_;
  EngineCounters counters_;
  DirectWriter writer_{options_, "PORT_TABLE|", shared_, counters_, nullptr};
  RedisSocketPair pair_;
  const int redis_ = pair_.redis;
};

TEST_F(DirectWriterTest, WritesABatchAndRecordsItWhenRedisAnswers) {
  AddPort("Ethernet0", 10, 9100);
  AddPort("Ethernet4", 11, 1500);
  ASSERT_TRUE(writer_.Send(kT0));
  EXPECT_TRUE(writer_.busy());
  const std::string sent = Received();
  EXPECT_THAT(sent, ::testing::HasSubstr("PORT_TABLE|Ethernet0"));
  EXPECT_THAT(sent, ::testing::HasSubstr("9100"));
  EXPECT_FALSE(Find("Ethernet0").state_db_in_sync());  // in flight
  Reply(":4\r\n");                                     // the first HSET's reply only
  writer_.OnReady(POLLIN, kT0 + absl::Microseconds(50));
  EXPECT_TRUE(writer_.busy());
  Reply(":4\r\n");
  writer_.OnReady(POLLIN, kT0 + absl::Microseconds(80));
  EXPECT_FALSE(writer_.busy());
  EXPECT_TRUE(Find("Ethernet0").state_db_in_sync());
  EXPECT_TRUE(Find("Ethernet4").state_db_in_sync());
  EXPECT_EQ(counters_.state_db_writes.load(), 2u);
  EXPECT_EQ(counters_.redis_round_trip.count(), 1u);
}

TEST_F(DirectWriterTest, APortInFlightIsSentAgainWhenItsReplyComes) {
  AddPort("Ethernet0", 10, 9100);
  ASSERT_TRUE(writer_.Send(kT0));
  Received();
  AddPort("Ethernet0", 10, 1500);  // while the first write is in flight
  // Nothing for the writer thread: the port waits for its reply, here.
  EXPECT_TRUE(writer_.Send(kT0));
  EXPECT_EQ(writer_.batches_in_flight(), 1u);
  EXPECT_EQ(Received(), "");
  {
    absl::MutexLock lock(&shared_.mu);  // the writer thread could not take the port either
    EXPECT_FALSE(shared_.model.HasDirty());
    EXPECT_TRUE(shared_.model.TakeDirty().empty());
  }
  Reply(":4\r\n");
  writer_.OnReady(POLLIN, kT0 + absl::Microseconds(50));
  // Completing the batch sends what became dirty meanwhile.
  EXPECT_TRUE(writer_.busy());
  EXPECT_THAT(Received(), ::testing::HasSubstr("1500"));
  Reply(":0\r\n");
  writer_.OnReady(POLLIN, kT0 + absl::Microseconds(90));
  EXPECT_FALSE(writer_.busy());
  EXPECT_TRUE(Find("Ethernet0").state_db_in_sync());
  EXPECT_EQ(Find("Ethernet0").written->mtu, 1500u);
  EXPECT_FALSE(TakeWriterWake());
}

TEST_F(DirectWriterTest, AnotherPortGoesOutAtOnceBehindTheBatchInFlight) {
  AddPort("Ethernet0", 10, 9100);
  ASSERT_TRUE(writer_.Send(kT0));
  EXPECT_THAT(Received(), ::testing::HasSubstr("PORT_TABLE|Ethernet0"));
  AddPort("Ethernet4", 11, 1500);
  ASSERT_TRUE(writer_.Send(kT0 + absl::Microseconds(10)));
  EXPECT_EQ(writer_.batches_in_flight(), 2u);
  EXPECT_THAT(Received(), ::testing::HasSubstr("PORT_TABLE|Ethernet4"));
  // The oldest batch sets the deadline.
  EXPECT_EQ(writer_.deadline(), kT0 + options_.redis_timeout);
  Reply(":4\r\n");
  writer_.OnReady(POLLIN, kT0 + absl::Microseconds(50));
  EXPECT_EQ(writer_.batches_in_flight(), 1u);
  EXPECT_TRUE(Find("Ethernet0").state_db_in_sync());
  EXPECT_FALSE(Find("Ethernet4").state_db_in_sync());
  EXPECT_EQ(writer_.deadline(), kT0 + absl::Microseconds(10) + options_.redis_timeout);
  Reply(":4\r\n");
  writer_.OnReady(POLLIN, kT0 + absl::Microseconds(70));
  EXPECT_FALSE(writer_.busy());
  EXPECT_TRUE(Find("Ethernet4").state_db_in_sync());
  EXPECT_EQ(counters_.redis_round_trip.count(), 2u);
  EXPECT_FALSE(TakeWriterWake());
}

TEST_F(DirectWriterTest, BeyondTheLimitDirtyPortsWaitForTheOldestReply) {
  for (size_t i = 0; i < DirectWriter::kMaxBatchesInFlight; ++i) {
    AddPort(absl::StrCat("Ethernet", i * 4), 10 + i, 9100);
    ASSERT_TRUE(writer_.Send(kT0));
  }
  Received();
  EXPECT_EQ(writer_.batches_in_flight(), DirectWriter::kMaxBatchesInFlight);
  AddPort("Ethernet400", 200, 1500);
  EXPECT_TRUE(writer_.Send(kT0));  // waits: not sent, and not the writer thread's
  EXPECT_EQ(writer_.batches_in_flight(), DirectWriter::kMaxBatchesInFlight);
  EXPECT_EQ(Received(), "");
  Reply(":4\r\n");
  writer_.OnReady(POLLIN, kT0 + absl::Microseconds(50));
  EXPECT_EQ(writer_.batches_in_flight(), DirectWriter::kMaxBatchesInFlight);
  EXPECT_THAT(Received(), ::testing::HasSubstr("PORT_TABLE|Ethernet400"));
  EXPECT_FALSE(TakeWriterWake());
}

TEST_F(DirectWriterTest, NoReplyWithinTheTimeoutHandsEveryBatchToTheWriterThread) {
  AddPort("Ethernet0", 10, 9100);
  ASSERT_TRUE(writer_.Send(kT0));
  AddPort("Ethernet4", 11, 1500);
  ASSERT_TRUE(writer_.Send(kT0 + absl::Milliseconds(1)));
  EXPECT_EQ(writer_.batches_in_flight(), 2u);
  Received();
  EXPECT_EQ(writer_.deadline(), kT0 + options_.redis_timeout);
  writer_.CheckTimeout(kT0 + options_.redis_timeout - absl::Milliseconds(1));
  EXPECT_TRUE(writer_.active());
  TakeWriterWake();
  writer_.CheckTimeout(kT0 + options_.redis_timeout);
  EXPECT_FALSE(writer_.active());
  EXPECT_TRUE(TakeWriterWake());
  absl::MutexLock lock(&shared_.mu);
  EXPECT_TRUE(shared_.direct.wanted());  // and a new connection is asked for
  EXPECT_TRUE(shared_.model.HasDirty());
  std::vector<StateWrite> again = shared_.model.TakeDirty();  // the writer thread's turn
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(again[0].set->mtu, 9100u);
  EXPECT_EQ(again[1].set->mtu, 1500u);
}

TEST_F(DirectWriterTest, AClosedConnectionHandsEveryBatchInFlightToTheWriterThread) {
  AddPort("Ethernet0", 10, 9100);
  ASSERT_TRUE(writer_.Send(kT0));
  AddPort("Ethernet4", 11, 1500);
  ASSERT_TRUE(writer_.Send(kT0));
  Received();
  Reply(":4\r\n:4");  // the first batch answered, the second's reply cut short
  shutdown(redis_, SHUT_RDWR);
  writer_.OnReady(POLLIN | POLLHUP, kT0);  // what arrived before the end
  EXPECT_TRUE(Find("Ethernet0").state_db_in_sync());
  EXPECT_EQ(writer_.batches_in_flight(), 1u);
  writer_.OnReady(POLLIN | POLLHUP, kT0);  // the end
  EXPECT_FALSE(writer_.active());
  EXPECT_EQ(counters_.redis_errors.load(), 1u);
  absl::MutexLock lock(&shared_.mu);
  std::vector<StateWrite> again = shared_.model.TakeDirty();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].name, "Ethernet4");
}

TEST_F(DirectWriterTest, ARefusedWriteKeepsTheConnectionAndIsNotRecorded) {
  AddPort("Ethernet0", 10, 9100);
  ASSERT_TRUE(writer_.Send(kT0));
  Received();
  Reply("-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
  writer_.OnReady(POLLIN, kT0);
  EXPECT_TRUE(writer_.active());
  EXPECT_FALSE(writer_.busy());
  EXPECT_FALSE(Find("Ethernet0").written.has_value());  // the audit retries it
  EXPECT_EQ(counters_.redis_errors.load(), 1u);
  EXPECT_FALSE(writer_.busy());  // and it is not retried here in a loop
}

TEST_F(DirectWriterTest, AReplyNobodyAskedForGivesTheConnectionUp) {
  Reply(":1\r\n");
  writer_.OnReady(POLLIN, kT0);
  EXPECT_FALSE(writer_.active());
}

}  // namespace
}  // namespace portsyncd
