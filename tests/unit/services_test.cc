// The services' answers on a FakeEngine (the EngineView) and a real hub: GetPortState,
// GetHealth (PortSyncService) and Get (GnmiService), without gRPC (their RPC methods only
// hand these answers to gRPC).
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/gnmi/gnmi_service.h"
#include "server/portsync/port_sync_service.h"
#include "server/stream/port_names.h"
#include "tests/unit/fake_engine.h"

namespace portsyncd {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class ServicesTest : public ::testing::Test {
 protected:
  ServicesTest()
      // Snapshots (gNMI Get's) in slices of 8 ports: more ports are copied in several holds.
      : hub_(&engine_, "run1", EventHubOptions{.snapshot_slice = 8}),
        timers_(RealClock()),
        portsync_(
            &engine_, &hub_,
            ServiceInfo{"1.2.3", absl::Now(), [] { return std::string("built-in defaults"); }},
            [] { return absl::StatusOr<ReloadResult>(ReloadResult{}); }, "token"),
        gnmi_(&hub_, &timers_, RealClock()) {
    engine_.set_listener(&hub_);
  }
  // Ethernet0, Ethernet4, ... Ethernet96 (ifindex 1..25), as the first link dump.
  void InitialDumpOf25Ports() {
    std::vector<LinkEvent> links;
    for (int i = 0; i < 25; ++i)
      links.push_back(FakeEngine::NewLink(absl::StrCat("Ethernet", i * 4), i + 1));
    engine_.InitialDump(links);
  }
  std::vector<std::string> Names(const v1::GetPortStateResponse& r) {
    std::vector<std::string> out;
    for (const v1::PortState& p : r.ports()) out.push_back(p.name());
    return out;
  }
  const v1::ComponentHealth* Component(const v1::GetHealthResponse& h, const std::string& name) {
    for (const v1::ComponentHealth& c : h.components()) {
      if (c.name() == name) return &c;
    }
    return nullptr;
  }
  FakeEngine engine_;
  EventHub hub_;
  TimerQueue timers_;
  PortSyncService portsync_;
  GnmiService gnmi_;
};

TEST_F(ServicesTest, GetPortStateIsUnavailableUntilTheFirstDumpThenListsTrackedPortsInOrder) {
  v1::GetPortStateResponse response;
  EXPECT_EQ(portsync_.PortStates(v1::GetPortStateRequest(), &response).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  engine_.Configure({"Ethernet100"}, {});
  engine_.InitialDump({FakeEngine::NewLink("Ethernet8", 1), FakeEngine::NewLink("Ethernet4", 2),
                       FakeEngine::NewLink("eth0", 3)});
  ASSERT_TRUE(portsync_.PortStates(v1::GetPortStateRequest(), &response).ok());
  EXPECT_THAT(Names(response), ElementsAre("Ethernet4", "Ethernet8", "Ethernet100"))
      << "natural order; a configured port without a netdev is listed; eth0 is no port";
  EXPECT_EQ(response.sequence(), 2u);
  EXPECT_EQ(response.instance_id(), "run1");
  EXPECT_FALSE(response.ports(2).in_kernel());
  // A port that left the kernel and is configured nowhere is not listed any more.
  engine_.Read({FakeEngine::DelLink("Ethernet4", 2)});
  response.Clear();
  ASSERT_TRUE(portsync_.PortStates(v1::GetPortStateRequest(), &response).ok());
  EXPECT_THAT(Names(response), ElementsAre("Ethernet8", "Ethernet100"));
}

TEST_F(ServicesTest, GetPortStateNamesTheFirstUnknownAndRefusesMalformedNames) {
  engine_.InitialDump(FakeEngine::Ports(1));
  v1::GetPortStateRequest request;
  request.add_names("Ethernet0");
  request.add_names("Ethernet9");
  v1::GetPortStateResponse response;
  grpc::Status status = portsync_.PortStates(request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(), HasSubstr("Ethernet9"));
  EXPECT_EQ(response.ports_size(), 0);
  request.set_names(1, "bad name");
  EXPECT_EQ(portsync_.PortStates(request, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ServicesTest, GetPortStatePagesInNaturalOrderWithoutMissingOrRepeatingAPort) {
  InitialDumpOf25Ports();
  v1::GetPortStateRequest request;
  request.set_page_size(10);
  std::vector<std::string> seen;
  std::vector<int> page_sizes;
  for (int call = 0; call < 5; ++call) {
    v1::GetPortStateResponse response;
    ASSERT_TRUE(portsync_.PortStates(request, &response).ok());
    EXPECT_EQ(response.total_size(), call == 0 ? 25 : 24);
    page_sizes.push_back(response.ports_size());
    for (const std::string& name : Names(response)) seen.push_back(name);
    if (call == 0) {
      // Between two pages: a port of the first page goes, and one after the page appears.
      engine_.Read({FakeEngine::DelLink("Ethernet0", 1), FakeEngine::NewLink("Ethernet97", 99)});
      engine_.Read({FakeEngine::DelLink("Ethernet97", 99)});
    }
    if (response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
  }
  EXPECT_THAT(page_sizes, ElementsAre(10, 10, 5));
  ASSERT_EQ(seen.size(), 24u + 1u) << "Ethernet0 came with the first page";
  for (size_t i = 1; i < seen.size(); ++i) EXPECT_TRUE(NaturalLess(seen[i - 1], seen[i])) << i;
  EXPECT_EQ(seen.front(), "Ethernet0");
  EXPECT_EQ(seen.back(), "Ethernet96");

  // The default page holds every port of a switch this size, with no token.
  v1::GetPortStateResponse all;
  ASSERT_TRUE(portsync_.PortStates(v1::GetPortStateRequest(), &all).ok());
  EXPECT_EQ(all.ports_size(), 24);
  EXPECT_TRUE(all.next_page_token().empty());
  // A token this daemon did not make is refused, as is a negative size.
  request.set_page_token("Ethernet8");
  v1::GetPortStateResponse refused;
  EXPECT_EQ(portsync_.PortStates(request, &refused).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  request.clear_page_token();
  request.set_page_size(-1);
  EXPECT_EQ(portsync_.PortStates(request, &refused).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ServicesTest, GetPortStatePagesGoOnAfterATokenWhosePortIsGoneAndPageNamedPortsToo) {
  InitialDumpOf25Ports();
  v1::GetPortStateRequest request;
  request.set_page_size(10);
  request.set_name_pattern("Ethernet*");
  v1::GetPortStateResponse first;
  ASSERT_TRUE(portsync_.PortStates(request, &first).ok());
  ASSERT_EQ(first.ports(9).name(), "Ethernet36");
  // The port the token names leaves the kernel before the next call.
  engine_.Read({FakeEngine::DelLink("Ethernet36", 10)});
  request.set_page_token(first.next_page_token());
  v1::GetPortStateResponse second;
  ASSERT_TRUE(portsync_.PortStates(request, &second).ok());
  EXPECT_EQ(second.ports(0).name(), "Ethernet40");
  EXPECT_EQ(second.ports_size(), 10);
  EXPECT_EQ(second.total_size(), 24);

  // Named ports are paged in natural order too, whatever order the request names them in.
  v1::GetPortStateRequest named;
  for (const char* name : {"Ethernet20", "Ethernet4", "Ethernet16", "Ethernet8", "Ethernet12"})
    named.add_names(name);
  named.set_page_size(2);
  std::vector<std::vector<std::string>> pages;
  for (int call = 0; call < 4; ++call) {
    v1::GetPortStateResponse response;
    ASSERT_TRUE(portsync_.PortStates(named, &response).ok());
    EXPECT_EQ(response.total_size(), 5);
    pages.push_back(Names(response));
    if (response.next_page_token().empty()) break;
    named.set_page_token(response.next_page_token());
  }
  EXPECT_THAT(pages,
              ElementsAre(ElementsAre("Ethernet4", "Ethernet8"),
                          ElementsAre("Ethernet12", "Ethernet16"), ElementsAre("Ethernet20")));
}

TEST_F(ServicesTest, GetPortStateFiltersByAShellPattern) {
  engine_.InitialDump({FakeEngine::NewLink("Ethernet1", 1), FakeEngine::NewLink("Ethernet12", 2),
                       FakeEngine::NewLink("Ethernet2", 3), FakeEngine::NewLink("Ethernet100", 4)});
  v1::GetPortStateRequest request;
  request.set_name_pattern("Ethernet1*");
  v1::GetPortStateResponse response;
  ASSERT_TRUE(portsync_.PortStates(request, &response).ok());
  EXPECT_THAT(Names(response), ElementsAre("Ethernet1", "Ethernet12", "Ethernet100"));
  EXPECT_EQ(response.total_size(), 3);
  request.add_names("Ethernet2");
  request.add_names("Ethernet12");
  response.Clear();
  ASSERT_TRUE(portsync_.PortStates(request, &response).ok());
  EXPECT_THAT(Names(response), ElementsAre("Ethernet12"));
}

TEST_F(ServicesTest, HealthIsTheWorstComponentAndSaysWhatTheEngineWaitsFor) {
  engine_.set_status(
      EngineStatus{.start_decided = false, .startup_waiting_for = "connection refused"});
  v1::GetHealthResponse health = portsync_.Health();
  EXPECT_EQ(health.status(), v1::SERVING_STATUS_NOT_SERVING);
  EXPECT_EQ(health.start_mode(), "pending");
  EXPECT_THAT(Component(health, "initial_sync")->message(), HasSubstr("connection refused"));
  EXPECT_EQ(Component(health, "redis")->status(), v1::SERVING_STATUS_DEGRADED);

  engine_.Configure({"Ethernet0"}, {"Ethernet0"});
  engine_.InitialDump(FakeEngine::Ports(1));
  engine_.set_status(EngineStatus{.start_decided = true,
                                  .start_mode = StartMode::kWarm,
                                  .redis_connected = true,
                                  .keyspace_active = true,
                                  .initial_sync_done = true,
                                  .port_init_done = true,
                                  .netdev_renames = 2});
  engine_.mutable_counters().netlink_messages = 7;
  health = portsync_.Health();
  EXPECT_EQ(health.status(), v1::SERVING_STATUS_SERVING);
  EXPECT_EQ(health.start_mode(), "warm");
  EXPECT_EQ(health.ports_tracked(), 1u);
  EXPECT_EQ(health.counters().netlink_messages(), 7u);
  EXPECT_EQ(health.counters().netdev_renames(), 2u);
  EXPECT_EQ(health.version(), "1.2.3");
  EXPECT_EQ(health.instance_id(), "run1");
}

TEST_F(ServicesTest, HealthNamesTheFirstTenPortsPortInitDoneWaitsForInNaturalOrder) {
  std::vector<std::string> configured;
  for (int i = 11; i >= 0; --i) configured.push_back(absl::StrCat("Ethernet", i * 4));
  engine_.Configure(configured, {});
  engine_.InitialDump({});
  const v1::GetHealthResponse health = portsync_.Health();
  const v1::ComponentHealth* c = Component(health, "port_init_done");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->message(),
            "waiting for ports to get their netdev: Ethernet0 Ethernet4 Ethernet8 Ethernet12 "
            "Ethernet16 Ethernet20 Ethernet24 Ethernet28 Ethernet32 Ethernet36 ...");
}

TEST_F(ServicesTest, GnmiGetAnswersFromTheSnapshotAndNamesAPortWithoutANetdev) {
  gnmi::GetRequest request;
  request.set_encoding(gnmi::PROTO);
  gnmi::Path* path = request.add_path();
  path->add_elem()->set_name("interfaces");
  gnmi::PathElem* interface = path->add_elem();
  interface->set_name("interface");
  (*interface->mutable_key())["name"] = "Ethernet4";
  path->add_elem()->set_name("state");
  path->add_elem()->set_name("mtu");
  gnmi::GetResponse response;
  EXPECT_EQ(gnmi_.Values(request, &response).error_code(), grpc::StatusCode::UNAVAILABLE);
  engine_.InitialDump(FakeEngine::Ports(1));
  grpc::Status status = gnmi_.Values(request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(), HasSubstr("Ethernet4"));
  engine_.Read({FakeEngine::NewLink("Ethernet4", 101, true, 1500)});
  response.Clear();
  ASSERT_TRUE(gnmi_.Values(request, &response).ok());
  ASSERT_EQ(response.notification_size(), 1);
  ASSERT_EQ(response.notification(0).update_size(), 1);
  EXPECT_EQ(response.notification(0).update(0).val().uint_val(), 1500u);
}

TEST_F(ServicesTest, AGnmiGetTooLargeForAClientSaysToSubscribeOnce) {
  engine_.InitialDump(FakeEngine::Ports(50));
  gnmi::GetRequest request;
  request.set_encoding(gnmi::PROTO);
  gnmi::GetResponse all;
  ASSERT_TRUE(gnmi_.Values(request, &all).ok());
  ASSERT_EQ(all.notification_size(), 50);
  // The same request, with a limit just below that answer's size.
  GnmiService small(&hub_, &timers_, RealClock(),
                    GnmiOptions{.max_get_response_bytes = all.ByteSizeLong() - 1});
  gnmi::GetResponse response;
  grpc::Status status = small.Values(request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), HasSubstr("Subscribe with mode ONCE"));
  EXPECT_EQ(response.notification_size(), 0);
  GnmiService enough(&hub_, &timers_, RealClock(),
                     GnmiOptions{.max_get_response_bytes = all.ByteSizeLong()});
  EXPECT_TRUE(enough.Values(request, &response).ok());
}

}  // namespace
}  // namespace portsyncd
