// GnmiSubscription on a real hub fed by a FakeEngine, a FakeClock and a TimerQueue run by hand:
// what a gNMI Subscribe stream sends, call by call of its pump. No gRPC, no sleeps.
#include "server/gnmi/gnmi_subscription.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/fake_engine.h"
#include "tests/unit/stream_test_util.h"

namespace portsyncd {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// "Ethernet0 state/oper-status,state/mtu", "Ethernet0 state/mtu x3" (duplicates),
// "DELETE Ethernet0", "SYNC".
std::vector<std::string> Summary(const Outgoing& out) {
  std::vector<std::string> lines;
  for (const SharedBytes& m : out.messages) {
    gnmi::SubscribeResponse r;
    EXPECT_TRUE(r.ParseFromString(BytesOf(*m)));
    if (r.has_sync_response()) {
      lines.push_back("SYNC");
      continue;
    }
    const gnmi::Notification& n = r.update();
    for (const gnmi::Path& d : n.delete_()) lines.push_back("DELETE " + d.elem(1).key().at("name"));
    if (n.update_size() == 0) continue;
    std::vector<std::string> leaves;
    uint32_t duplicates = 0;
    for (const gnmi::Update& u : n.update()) {
      std::vector<std::string> elems;
      for (const gnmi::PathElem& e : u.path().elem()) elems.push_back(e.name());
      leaves.push_back(absl::StrJoin(elems, "/"));
      duplicates = u.duplicates();
    }
    lines.push_back(n.prefix().elem(1).key().at("name") + " " + absl::StrJoin(leaves, ",") +
                    (duplicates ? " x" + std::to_string(duplicates) : ""));
  }
  return lines;
}

gnmi::Path Path(const std::string& port, std::vector<std::string> leaf = {}) {
  gnmi::Path p;
  p.add_elem()->set_name("interfaces");
  gnmi::PathElem* i = p.add_elem();
  i->set_name("interface");
  if (!port.empty()) (*i->mutable_key())["name"] = port;
  if (!leaf.empty()) p.add_elem()->set_name("state");
  for (const std::string& l : leaf) p.add_elem()->set_name(l);
  return p;
}

gnmi::SubscribeRequest Subscribe(gnmi::SubscriptionList::Mode mode,
                                 std::vector<gnmi::Subscription> subs) {
  gnmi::SubscribeRequest r;
  gnmi::SubscriptionList* list = r.mutable_subscribe();
  list->set_mode(mode);
  list->set_encoding(gnmi::PROTO);
  for (gnmi::Subscription& s : subs) *list->add_subscription() = std::move(s);
  return r;
}

gnmi::Subscription OnChange(gnmi::Path path) {
  gnmi::Subscription s;
  *s.mutable_path() = std::move(path);
  s.set_mode(gnmi::ON_CHANGE);
  return s;
}

gnmi::Subscription Sample(gnmi::Path path, absl::Duration interval, bool suppress = false) {
  gnmi::Subscription s;
  *s.mutable_path() = std::move(path);
  s.set_mode(gnmi::SAMPLE);
  s.set_sample_interval(absl::ToInt64Nanoseconds(interval));
  s.set_suppress_redundant(suppress);
  return s;
}

class GnmiSubscriptionTest : public ::testing::Test {
 protected:
  explicit GnmiSubscriptionTest(EventHubOptions options = {})
      : hub_(&engine_, "run1", options), timers_(clock_) {
    engine_.set_listener(&hub_);
  }
  std::unique_ptr<GnmiSubscription> Make() {
    return GnmiSubscription::Create(&hub_, &timers_, clock_, GnmiOptions{}, [this] { ++kicks_; });
  }
  FakeEngine engine_;
  EventHub hub_;
  FakeClock clock_;
  TimerQueue timers_;
  int kicks_ = 0;
};

TEST_F(GnmiSubscriptionTest, OnceSendsEveryValueThenSyncAndEnds) {
  engine_.InitialDump(FakeEngine::Ports(2));
  auto sub = Make();
  ASSERT_TRUE(
      sub->OnRequest(Subscribe(gnmi::SubscriptionList::ONCE, {OnChange(Path("", {"oper-status"}))}))
          .ok());
  const Outgoing out = sub->Next();
  EXPECT_THAT(Summary(out),
              ElementsAre("Ethernet0 state/oper-status", "Ethernet4 state/oper-status", "SYNC"));
  ASSERT_TRUE(out.finish.has_value());
  EXPECT_TRUE(out.finish->ok());
}

TEST_F(GnmiSubscriptionTest, WaitsForTheFirstDumpBeforeItsInitialValues) {
  auto sub = Make();
  ASSERT_TRUE(sub->OnRequest(Subscribe(gnmi::SubscriptionList::STREAM,
                                       {OnChange(Path("Ethernet0", {"mtu"}))}))
                  .ok());
  EXPECT_TRUE(sub->Next().empty());
  engine_.InitialDump(FakeEngine::Ports(1));
  EXPECT_THAT(Summary(sub->Next()), ElementsAre("Ethernet0 state/mtu", "SYNC"));
}

TEST_F(GnmiSubscriptionTest, OnChangeSendsOnlyTheLeavesThatChangedAndDeletes) {
  engine_.InitialDump(FakeEngine::Ports(2));
  auto sub = Make();
  ASSERT_TRUE(
      sub->OnRequest(Subscribe(gnmi::SubscriptionList::STREAM,
                               {OnChange(Path("", {"oper-status"})), OnChange(Path("", {"mtu"}))}))
          .ok());
  sub->Next();  // initial values + SYNC
  engine_.Read({FakeEngine::NewLink("Ethernet0", 100, /*up=*/true, 1500)});  // MTU only
  engine_.Read({FakeEngine::NewLink("Ethernet4", 101, /*up=*/true, 9100)});  // nothing selected
  engine_.Read({FakeEngine::DelLink("Ethernet4", 101)});
  EXPECT_THAT(Summary(sub->Next()), ElementsAre("Ethernet0 state/mtu", "DELETE Ethernet4"));
}

class SmallRingGnmiTest : public GnmiSubscriptionTest {
 protected:
  SmallRingGnmiTest() : GnmiSubscriptionTest(SmallRing()) {}
};

TEST_F(SmallRingGnmiTest, AStreamThatFellBehindGetsTheLatestValuesWithDuplicates) {
  engine_.InitialDump(FakeEngine::Ports(2));
  auto sub = Make();
  ASSERT_TRUE(
      sub->OnRequest(Subscribe(gnmi::SubscriptionList::STREAM, {OnChange(Path("", {"mtu"}))}))
          .ok());
  sub->Next();
  for (uint32_t mtu : {1500u, 1600u, 1700u, 1800u}) {
    engine_.Read({FakeEngine::NewLink("Ethernet0", 100, true, mtu)});
  }
  EXPECT_THAT(Summary(sub->Next()), ElementsAre("Ethernet0 state/mtu x3"))
      << "four changes folded into one update: three duplicates; Ethernet4 did not change";
  engine_.Read({FakeEngine::NewLink("Ethernet0", 100, true, 1900)});
  EXPECT_THAT(Summary(sub->Next()), ElementsAre("Ethernet0 state/mtu")) << "live again";
}

TEST_F(GnmiSubscriptionTest, SampleTicksOnTheClockAndSuppressRedundantSkipsWhatDidNotChange) {
  engine_.InitialDump(FakeEngine::Ports(1));
  auto sub = Make();
  ASSERT_TRUE(sub->OnRequest(Subscribe(gnmi::SubscriptionList::STREAM,
                                       {Sample(Path("Ethernet0", {"mtu"}), absl::Seconds(1),
                                               /*suppress=*/true)}))
                  .ok());
  EXPECT_THAT(Summary(sub->Next()), ElementsAre("Ethernet0 state/mtu", "SYNC"));
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(timers_.RunDue(), 1u);
  EXPECT_EQ(kicks_, 1) << "a tick kicks the pump";
  EXPECT_THAT(Summary(sub->Next()), ElementsAre("Ethernet0 state/mtu"))
      << "the first sample is sent whatever it holds";
  clock_.Advance(absl::Seconds(1));
  timers_.RunDue();
  EXPECT_THAT(Summary(sub->Next()), IsEmpty()) << "suppressed: nothing changed";
  engine_.Read({FakeEngine::NewLink("Ethernet0", 100, true, 1500)});
  sub->Next();  // SAMPLE subscriptions send no ON_CHANGE updates
  clock_.Advance(absl::Seconds(1));
  timers_.RunDue();
  EXPECT_THAT(Summary(sub->Next()), ElementsAre("Ethernet0 state/mtu"));
}

TEST_F(GnmiSubscriptionTest, PollAnswersWithTheCurrentValuesAndSync) {
  engine_.InitialDump(FakeEngine::Ports(1));
  auto sub = Make();
  ASSERT_TRUE(sub->OnRequest(Subscribe(gnmi::SubscriptionList::POLL,
                                       {OnChange(Path("Ethernet0", {"mtu"}))}))
                  .ok());
  EXPECT_THAT(Summary(sub->Next()), ElementsAre("Ethernet0 state/mtu", "SYNC"));
  engine_.Read({FakeEngine::NewLink("Ethernet0", 100, true, 1500)});
  EXPECT_THAT(Summary(sub->Next()), IsEmpty()) << "POLL sends only when polled";
  gnmi::SubscribeRequest poll;
  poll.mutable_poll();
  ASSERT_TRUE(sub->OnRequest(poll).ok());
  EXPECT_THAT(Summary(sub->Next()), ElementsAre("Ethernet0 state/mtu", "SYNC"));
}

TEST_F(GnmiSubscriptionTest, BadRequestsAreRefusedWithGnmisCodes) {
  engine_.InitialDump(FakeEngine::Ports(1));
  EXPECT_EQ(Make()->OnRequest(gnmi::SubscribeRequest()).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Make()
                ->OnRequest(Subscribe(gnmi::SubscriptionList::STREAM,
                                      {Sample(Path("", {"mtu"}), absl::Milliseconds(1))}))
                .code(),
            absl::StatusCode::kInvalidArgument)
      << "shorter than the shortest interval served";
  auto sub = Make();
  ASSERT_TRUE(
      sub->OnRequest(Subscribe(gnmi::SubscriptionList::STREAM, {OnChange(Path("", {"mtu"}))}))
          .ok());
  gnmi::SubscribeRequest poll;
  poll.mutable_poll();
  EXPECT_THAT(std::string(sub->OnRequest(poll).message()), HasSubstr("not POLL"));
}

// The use-after-free of the old SAMPLE streams, at this level: a tick that is running when the
// stream ends must have returned before StopTimers does (the stream is deleted right after),
// and no tick runs after it. The interleaving is ordered by hand: the tick's kick blocks until
// StopTimers is about to wait for it.
TEST_F(GnmiSubscriptionTest, StopTimersWaitsForARunningTickAndNoTickRunsAfter) {
  engine_.InitialDump(FakeEngine::Ports(1));
  absl::Notification in_tick, release;
  std::atomic<bool> kick_done{false};
  auto sub = GnmiSubscription::Create(&hub_, &timers_, clock_, GnmiOptions{}, [&] {
    in_tick.Notify();
    release.WaitForNotification();
    kick_done = true;
  });
  ASSERT_TRUE(sub->OnRequest(Subscribe(gnmi::SubscriptionList::STREAM,
                                       {Sample(Path("", {"mtu"}), absl::Seconds(1))}))
                  .ok());
  sub->Next();  // schedules the timer
  timers_.set_cancel_wait_hook_for_test([&] { release.Notify(); });
  clock_.Advance(absl::Seconds(1));
  std::thread runner([&] { timers_.RunDue(); });
  in_tick.WaitForNotification();
  sub->StopTimers();
  const bool tick_finished = kick_done.load();
  if (!release.HasBeenNotified()) release.Notify();  // StopTimers did not wait: let it end
  runner.join();
  EXPECT_TRUE(tick_finished) << "StopTimers returned while a tick still ran";
  EXPECT_EQ(timers_.NextDeadline(), absl::InfiniteFuture()) << "the periodic tick was not stopped";
  clock_.Advance(absl::Seconds(5));
  EXPECT_EQ(timers_.RunDue(), 0u);
}

}  // namespace
}  // namespace portsyncd
