// LinkEventFeed on a real hub fed by a FakeEngine: what a StreamLinkEvents / WatchLinkEvents
// stream sends, call by call of the pump. No gRPC.
#include "server/portsync/link_event_feed.h"

#include <string>
#include <vector>

#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/fake_engine.h"
#include "tests/unit/stream_test_util.h"

namespace portsyncd {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using Type = v1::LinkEvent::Type;

// The events one Next() returned (a LinkEventBatch's, when batched).
std::vector<v1::LinkEvent> Events(const Outgoing& out, bool batched = false) {
  std::vector<v1::LinkEvent> events;
  for (const SharedBytes& m : out.messages) {
    if (batched) {
      v1::LinkEventBatch batch;
      EXPECT_TRUE(batch.ParseFromString(BytesOf(*m)));
      events.insert(events.end(), batch.events().begin(), batch.events().end());
    } else {
      EXPECT_TRUE(events.emplace_back().ParseFromString(BytesOf(*m)));
    }
  }
  return events;
}

std::vector<std::string> Summary(const std::vector<v1::LinkEvent>& events) {
  std::vector<std::string> out;
  for (const v1::LinkEvent& e : events) {
    std::string s = std::string(absl::StripPrefix(v1::LinkEvent::Type_Name(e.type()), "TYPE_"));
    if (e.has_port()) s += " " + e.port().name();
    out.push_back(s + " @" + std::to_string(e.sequence()));
  }
  return out;
}

v1::StreamLinkEventsRequest Request(std::vector<std::string> names = {}, uint64_t resume = 0,
                                    std::string instance = "") {
  v1::StreamLinkEventsRequest r;
  for (const std::string& n : names) r.add_names(n);
  r.set_resume_after(resume);
  r.set_instance_id(instance);
  return r;
}

class LinkEventFeedTest : public ::testing::Test {
 protected:
  explicit LinkEventFeedTest(EventHubOptions options = {}) : hub_(&engine_, "run1", options) {
    engine_.set_listener(&hub_);
  }
  FakeEngine engine_;
  EventHub hub_;
};

TEST_F(LinkEventFeedTest, WaitsForTheFirstDumpThenSendsTheSnapshotSyncedAndEachChange) {
  LinkEventFeed feed(&hub_, Request(), /*batched=*/false);
  feed.Start();
  EXPECT_TRUE(feed.Next().empty()) << "nothing before the model knows the kernel";
  engine_.InitialDump(FakeEngine::Ports(2));
  EXPECT_THAT(Summary(Events(feed.Next())),
              ElementsAre("SNAPSHOT Ethernet0 @2", "SNAPSHOT Ethernet4 @2", "SYNCED @2"));
  EXPECT_TRUE(feed.Next().empty());
  engine_.Read({FakeEngine::NewLink("Ethernet4", 101, /*up=*/false)});
  engine_.Read({FakeEngine::DelLink("Ethernet0", 100)});
  const std::vector<v1::LinkEvent> live = Events(feed.Next());
  EXPECT_THAT(Summary(live), ElementsAre("CHANGED Ethernet4 @3", "REMOVED Ethernet0 @4"))
      << "everything pending in one turn";
  EXPECT_EQ(live[0].port().oper_status(), v1::LINK_STATUS_DOWN);
  EXPECT_EQ(live[0].instance_id(), "run1");
}

TEST_F(LinkEventFeedTest, ANameFilterSendsOnlyThosePorts) {
  engine_.InitialDump(FakeEngine::Ports(3));
  LinkEventFeed feed(&hub_, Request({"Ethernet8"}), false);
  feed.Start();
  EXPECT_THAT(Summary(Events(feed.Next())), ElementsAre("SNAPSHOT Ethernet8 @3", "SYNCED @3"));
  engine_.Read(
      {FakeEngine::NewLink("Ethernet0", 100, false), FakeEngine::NewLink("Ethernet8", 102, false)});
  EXPECT_THAT(Summary(Events(feed.Next())), ElementsAre("CHANGED Ethernet8 @5"));
}

TEST_F(LinkEventFeedTest, WatchLinkEventsSendsTheSameEventsAsOneBatch) {
  engine_.InitialDump(FakeEngine::Ports(2));
  LinkEventFeed single(&hub_, Request(), false), batched(&hub_, Request(), true);
  single.Start();
  batched.Start();
  const Outgoing a = single.Next(), b = batched.Next();
  EXPECT_EQ(a.messages.size(), 3u);
  EXPECT_EQ(b.messages.size(), 1u);
  EXPECT_EQ(Summary(Events(a)), Summary(Events(b, /*batched=*/true)));
  engine_.Read({FakeEngine::NewLink("Ethernet0", 100, false)});
  engine_.Read({FakeEngine::NewLink("Ethernet0", 100, true)});
  EXPECT_EQ(Summary(Events(single.Next())), Summary(Events(batched.Next(), true)));
}

TEST_F(LinkEventFeedTest, ABatchHoldsAtMost1024EventsAndTheRestFollows) {
  engine_.InitialDump(FakeEngine::Ports(1500));
  LinkEventFeed feed(&hub_, Request(), true);
  feed.Start();
  const std::vector<v1::LinkEvent> first = Events(feed.Next(), true);
  const std::vector<v1::LinkEvent> second = Events(feed.Next(), true);
  EXPECT_EQ(first.size(), LinkEventFeed::kMaxEventsPerBatch);
  EXPECT_EQ(second.size(), 1500u + 1 - LinkEventFeed::kMaxEventsPerBatch);
  EXPECT_EQ(second.back().type(), v1::LinkEvent::TYPE_SYNCED);
}

TEST_F(LinkEventFeedTest, AResumeWithinTheBufferSendsOnlyTheChangesAfterIt) {
  engine_.InitialDump(FakeEngine::Ports(2));
  engine_.Read({FakeEngine::NewLink("Ethernet0", 100, false)});  // 3
  engine_.Read({FakeEngine::NewLink("Ethernet4", 101, false)});  // 4
  LinkEventFeed feed(&hub_, Request({}, 3, "run1"), false);
  feed.Start();
  EXPECT_THAT(Summary(Events(feed.Next())), ElementsAre("CHANGED Ethernet4 @4"));
}

TEST_F(LinkEventFeedTest, AResumeThatCannotBeServedStartsWithResyncThenASnapshot) {
  engine_.InitialDump(FakeEngine::Ports(1));
  for (const auto& [request, why] :
       std::vector<std::pair<v1::StreamLinkEventsRequest, std::string>>{
           {Request({}, 1, ""), "without an instance_id"},
           {Request({}, 1, "run0"), "instance run0 is gone"},
           {Request({}, 9, "run1"), "beyond the last sequence 1"}}) {
    LinkEventFeed feed(&hub_, request, false);
    feed.Start();
    const std::vector<v1::LinkEvent> events = Events(feed.Next());
    EXPECT_THAT(Summary(events), ElementsAre("RESYNC @1", "SNAPSHOT Ethernet0 @1", "SYNCED @1"));
    EXPECT_THAT(events[0].reason(), ::testing::HasSubstr(why));
  }
}

class SmallRingFeedTest : public LinkEventFeedTest {
 protected:
  SmallRingFeedTest() : LinkEventFeedTest(SmallRing()) {}
};

TEST_F(SmallRingFeedTest, AStreamTooFarBehindGetsResyncAndANewSnapshotNotAGap) {
  engine_.InitialDump(FakeEngine::Ports(2));
  LinkEventFeed feed(&hub_, Request(), false);
  feed.Start();
  feed.Next();  // the snapshot, at 2
  for (bool up : {false, true, false}) engine_.Read({FakeEngine::NewLink("Ethernet0", 100, up)});
  const std::vector<v1::LinkEvent> events = Events(feed.Next());
  EXPECT_THAT(Summary(events), ElementsAre("RESYNC @5", "SNAPSHOT Ethernet0 @5",
                                           "SNAPSHOT Ethernet4 @5", "SYNCED @5"));
  EXPECT_THAT(events[0].reason(), ::testing::HasSubstr("3 events queued"));
  EXPECT_EQ(events[1].port().oper_status(), v1::LINK_STATUS_DOWN) << "the latest state";
  engine_.Read({FakeEngine::NewLink("Ethernet0", 100, true)});
  EXPECT_THAT(Summary(Events(feed.Next())), ElementsAre("CHANGED Ethernet0 @6"));
}

TEST_F(SmallRingFeedTest, AResumeWhoseChangesLeftTheBufferResyncsNamingTheOldest) {
  engine_.InitialDump(FakeEngine::Ports(6));  // 1..6; the ring keeps 3..6
  LinkEventFeed feed(&hub_, Request({}, 1, "run1"), false);
  feed.Start();
  const std::vector<v1::LinkEvent> events = Events(feed.Next());
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events[0].type(), v1::LinkEvent::TYPE_RESYNC);
  EXPECT_THAT(events[0].reason(), ::testing::HasSubstr("oldest 3"));
}

}  // namespace
}  // namespace portsyncd
