#include "core/write_tracker.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace portsyncd {
namespace {

using ::testing::ElementsAre;
using Verdict = WriteTracker::Verdict;

StateWrite Set(const std::string& name, bool del = false) {
  StateWrite w;
  w.name = name;
  w.del = del;
  w.set = StateFields{true, true, 1500};
  return w;
}

TEST(WriteTrackerTest, OurWritesAreCountedOneNotificationEach) {
  WriteTracker t;
  t.ExpectWrites({Set("Ethernet0"), Set("Ethernet0")});
  EXPECT_EQ(t.OnEvent(WatchTag::kState, "Ethernet0", "hset"), Verdict::kOurs);
  EXPECT_EQ(t.OnEvent(WatchTag::kState, "Ethernet0", "hset"), Verdict::kOurs);
  EXPECT_EQ(t.OnEvent(WatchTag::kState, "Ethernet0", "hset"), Verdict::kSuspect);
  EXPECT_THAT(t.Take().suspects, ElementsAre("Ethernet0"));
}

TEST(WriteTrackerTest, ADelAndSetWriteExpectsBothEvents) {
  WriteTracker t;
  t.ExpectWrites({Set("Ethernet4", /*del=*/true)});
  EXPECT_EQ(t.expected(/*del=*/true, "Ethernet4"), 1u);
  EXPECT_EQ(t.expected(/*del=*/false, "Ethernet4"), 1u);
  // Another event on our key (hdel, expired...) is never ours.
  EXPECT_EQ(t.OnEvent(WatchTag::kState, "Ethernet4", "hdel"), Verdict::kSuspect);
  EXPECT_EQ(t.OnEvent(WatchTag::kState, "Ethernet4", "del"), Verdict::kOurs);
  EXPECT_EQ(t.OnEvent(WatchTag::kState, "Ethernet4", "hset"), Verdict::kOurs);
}

TEST(WriteTrackerTest, TakingBackAnUnusedExpectationIsQuiet) {
  WriteTracker t;
  t.ExpectDeletes({"Ethernet8"});
  EXPECT_FALSE(t.TakeBack(/*del=*/true, "Ethernet8"));
  EXPECT_TRUE(t.Take().empty());
  // ... and afterwards someone else's DEL is someone else's.
  EXPECT_EQ(t.OnEvent(WatchTag::kState, "Ethernet8", "del"), Verdict::kSuspect);
}

TEST(WriteTrackerTest, TakingBackAnExpectationSomeoneElseUsedMakesASuspect) {
  WriteTracker t;
  t.ExpectDeletes({"Ethernet8"});
  EXPECT_EQ(t.OnEvent(WatchTag::kState, "Ethernet8", "del"), Verdict::kOurs);  // theirs, really
  EXPECT_TRUE(t.TakeBack(/*del=*/true, "Ethernet8"));
  EXPECT_THAT(t.Take().suspects, ElementsAre("Ethernet8"));
}

TEST(WriteTrackerTest, ClearForgetsEveryExpectation) {
  WriteTracker t;
  t.ExpectWrites({Set("Ethernet0")});
  t.Clear();
  EXPECT_EQ(t.OnEvent(WatchTag::kState, "Ethernet0", "hset"), Verdict::kSuspect);
}

TEST(WriteTrackerTest, WhatIsNotAPortOrNotOurLoggerKeyIsIgnored) {
  WriteTracker t;
  EXPECT_EQ(t.OnEvent(WatchTag::kState, "Vlan100", "hset"), Verdict::kIgnored);
  EXPECT_EQ(t.OnEvent(WatchTag::kAppl, "PortConfigDone", "hset"), Verdict::kIgnored);
  EXPECT_EQ(t.OnEvent(WatchTag::kLogger, "-other", "hset"), Verdict::kIgnored);
  EXPECT_TRUE(t.Take().empty());
  EXPECT_EQ(t.OnEvent(WatchTag::kAppl, "Ethernet0", "hset"), Verdict::kAppl);
  EXPECT_EQ(t.OnEvent(WatchTag::kLogger, "", "hset"), Verdict::kLogger);
  t.OnSubscribed();
  WriteTracker::Work work = t.Take();
  EXPECT_TRUE(work.appl);
  EXPECT_TRUE(work.logger);
  EXPECT_TRUE(work.resync);
  EXPECT_TRUE(t.Take().empty());
}

}  // namespace
}  // namespace portsyncd
