// portsyncctl's parts without gRPC calls: the command line, rendering, and the watch session's
// resume and reconnect logic, driven with events by hand.
#include <getopt.h>

#include <sstream>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "client/options.h"
#include "client/render.h"
#include "client/watch_session.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/argv.h"

namespace portsyncd::ctl {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct Parsed {
  std::optional<int> exit;
  ParsedArgs args;
  std::string out, err;
};

Parsed Parse(std::vector<std::string> args) {
  Argv argv("portsyncctl", std::move(args));
  Parsed p;
  std::ostringstream out, err;
  p.exit = ParseArgs(argv.argc(), argv.argv(), &p.args, out, err);
  p.out = out.str();
  p.err = err.str();
  return p;
}

TEST(PortsyncctlOptionsTest, GlobalOptionsThenTheCommandAndItsArguments) {
  Parsed p = Parse({"-j", "--timeout", "2.5", "-n", "asic3", "watch", "Ethernet0", "Ethernet4"});
  ASSERT_FALSE(p.exit.has_value()) << p.err;
  EXPECT_TRUE(p.args.options.json);
  EXPECT_EQ(p.args.options.timeout_s, 2.5);
  EXPECT_EQ(p.args.command, "watch");
  EXPECT_EQ(p.args.args, (std::vector<std::string>{"Ethernet0", "Ethernet4"}));
  EXPECT_EQ(NamespaceTarget(p.args.options, *AsicNumber(p.args.options.ns)),
            "unix:/var/run/redis3/portsyncd.sock");
}

TEST(PortsyncctlOptionsTest, BadUsageSaysWhyAndExitsTwo) {
  for (const auto& [args, says] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{}, "missing command"},
           {{"frobnicate"}, "unknown command 'frobnicate'"},
           {{"-n", "asicX", "ports"}, "expected an ASIC namespace"},
           {{"-n", "all", "watch"}, "-n all works with ports and health"},
           {{"-n", "asic1", "--target", "/s", "ports"}, "give one"},
           {{"--timeout", "0", "ports"}, "positive number"},
           {{"--cert", "c.pem", "ports"}, "--cert needs --key"},
           {{"health", "extra"}, "takes no arguments"},
           {{"ports", "--json"}, "global options go before the command"}}) {
    Parsed p = Parse(args);
    EXPECT_EQ(p.exit, kUsage) << (args.empty() ? "" : args[0]);
    EXPECT_THAT(p.err, HasSubstr(says));
  }
}

TEST(PortsyncctlOptionsTest, HelpForTheToolAndForEachCommand) {
  Parsed p = Parse({"--help"});
  EXPECT_EQ(p.exit, kOk);
  EXPECT_THAT(p.out, HasSubstr("Commands:"));
  p = Parse({"watch", "--help"});
  EXPECT_EQ(p.exit, kOk);
  EXPECT_THAT(p.out, HasSubstr("reconnects and resumes"));
}

v1::PortState Port(const std::string& name, bool up, uint32_t mtu = 9100) {
  v1::PortState p;
  p.set_name(name);
  p.set_in_kernel(true);
  p.set_admin_status(v1::LINK_STATUS_UP);
  p.set_oper_status(up ? v1::LINK_STATUS_UP : v1::LINK_STATUS_DOWN);
  p.set_mtu(mtu);
  p.set_ifindex(7);
  return p;
}

TEST(PortsyncctlRenderTest, DescribeSaysWhatChangedForPeople) {
  const v1::PortState before = Port("Ethernet0", true), after = Port("Ethernet0", false, 1500);
  EXPECT_EQ(Describe(&before, after), "oper up -> down, mtu 9100 -> 1500");
  EXPECT_EQ(Describe(&before, before), "no visible change");
  EXPECT_EQ(Describe(nullptr, after), "admin up, oper down, mtu 1500, ifindex 7");
  v1::PortState gone;
  gone.set_name("Ethernet0");
  EXPECT_EQ(Describe(&before, gone), "netdev deleted");
  google::protobuf::Timestamp t;
  t.set_seconds(1000);
  EXPECT_EQ(Ago(t, absl::FromUnixSeconds(1090)), "1m ago");
  EXPECT_EQ(Ago(google::protobuf::Timestamp(), absl::Now()), "never");
}

v1::LinkEvent Event(v1::LinkEvent::Type type, uint64_t sequence, const std::string& instance,
                    std::optional<v1::PortState> port = std::nullopt) {
  v1::LinkEvent e;
  e.set_type(type);
  e.set_sequence(sequence);
  e.set_instance_id(instance);
  if (port) *e.mutable_port() = *port;
  return e;
}

class WatchSessionTest : public ::testing::Test {
 protected:
  std::ostringstream out_, err_;
  WatchSession session_{{"Ethernet0"}, false, out_, err_, absl::UTCTimeZone()};
};

TEST_F(WatchSessionTest, ResumesAfterTheLastLiveEventOrSyncedNeverMidSnapshot) {
  EXPECT_EQ(session_.Request().resume_after(), 0u);
  EXPECT_EQ(session_.Request().names(0), "Ethernet0");
  session_.OnEvent(Event(v1::LinkEvent::TYPE_SNAPSHOT, 5, "run1", Port("Ethernet0", true)));
  EXPECT_EQ(session_.Request().resume_after(), 0u) << "a broken snapshot is asked for again";
  session_.OnEvent(Event(v1::LinkEvent::TYPE_SYNCED, 5, "run1"));
  EXPECT_EQ(session_.Request().resume_after(), 5u);
  EXPECT_EQ(session_.Request().instance_id(), "run1");
  session_.OnEvent(Event(v1::LinkEvent::TYPE_CHANGED, 9, "run1", Port("Ethernet0", false)));
  EXPECT_EQ(session_.Request().resume_after(), 9u);
  EXPECT_THAT(out_.str(), HasSubstr("watching 1 ports (1 oper up), instance run1, sequence 5"));
  EXPECT_THAT(out_.str(), HasSubstr("Ethernet0      CHANGED  oper up -> down"));
}

TEST_F(WatchSessionTest, ALostConnectionReconnectsWithBackoffAndSaysSoOnce) {
  session_.OnEvent(Event(v1::LinkEvent::TYPE_SYNCED, 5, "run1"));
  const grpc::Status lost(grpc::StatusCode::UNAVAILABLE, "socket closed");
  EXPECT_EQ(session_.OnCallEnd(lost), WatchSession::Next::kReconnect);
  EXPECT_TRUE(session_.reconnecting());
  EXPECT_EQ(session_.backoff(), absl::Milliseconds(200));
  EXPECT_EQ(session_.OnCallEnd(lost), WatchSession::Next::kReconnect);
  EXPECT_EQ(session_.backoff(), absl::Milliseconds(400));
  for (int i = 0; i < 10; ++i) session_.OnCallEnd(lost);
  EXPECT_EQ(session_.backoff(), absl::Seconds(5)) << "capped";
  EXPECT_THAT(err_.str(), HasSubstr("connection lost (socket closed); reconnecting, and resuming "
                                    "after sequence 5"));
  EXPECT_EQ(err_.str().find("connection lost"), err_.str().rfind("connection lost"))
      << "said once per outage";
  session_.OnEvent(Event(v1::LinkEvent::TYPE_CHANGED, 6, "run1", Port("Ethernet0", false)));
  EXPECT_THAT(err_.str(), HasSubstr("reconnected; resuming after sequence 5"));
  EXPECT_FALSE(session_.reconnecting());
  EXPECT_EQ(session_.backoff(), absl::Milliseconds(200)) << "back to the start once events flow";
}

TEST_F(WatchSessionTest, AResyncAfterAnOutageReportsWhatChangedMeanwhile) {
  session_.OnEvent(Event(v1::LinkEvent::TYPE_SNAPSHOT, 5, "run1", Port("Ethernet0", true)));
  session_.OnEvent(Event(v1::LinkEvent::TYPE_SYNCED, 5, "run1"));
  session_.OnCallEnd(grpc::Status(grpc::StatusCode::UNAVAILABLE, "gone"));
  session_.OnEvent(Event(v1::LinkEvent::TYPE_RESYNC, 1, "run2"));
  session_.OnEvent(Event(v1::LinkEvent::TYPE_SNAPSHOT, 1, "run2", Port("Ethernet0", false)));
  session_.OnEvent(Event(v1::LinkEvent::TYPE_SYNCED, 1, "run2"));
  EXPECT_THAT(out_.str(), HasSubstr("events were missed"));
  EXPECT_THAT(out_.str(), HasSubstr("CHANGED  oper up -> down (while disconnected)"));
  EXPECT_EQ(session_.Request().instance_id(), "run2");
  EXPECT_EQ(session_.Request().resume_after(), 1u);
}

TEST_F(WatchSessionTest, GivesUpOnRefusalsAndBeforeTheFirstEventAndFallsBackForAnOlderDaemon) {
  std::ostringstream out, err;
  WatchSession fresh({}, false, out, err);
  EXPECT_EQ(fresh.OnCallEnd(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "")),
            WatchSession::Next::kCallAgain);
  EXPECT_FALSE(fresh.batched()) << "StreamLinkEvents from now on";
  EXPECT_EQ(fresh.OnCallEnd(grpc::Status(grpc::StatusCode::UNAVAILABLE, "")),
            WatchSession::Next::kGiveUp)
      << "never connected";
  fresh.OnEvent(Event(v1::LinkEvent::TYPE_SYNCED, 1, "run1"));
  EXPECT_EQ(fresh.OnCallEnd(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad name")),
            WatchSession::Next::kGiveUp);
}

}  // namespace
}  // namespace portsyncd::ctl
