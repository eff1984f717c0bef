// Startup against FakeRedis and fake links: each start rule's writes (and the ones it must not
// make), and a retry after Redis breaks halfway that repeats nothing. The same sequence runs on
// the real kernel and Redis in tests/integration/test_startup.py and test_lifecycle.py.
#include "core/startup.h"

#include <net/if.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "core/netlink_socket.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/fake_redis.h"

namespace portsyncd {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr int kAppl = 0;
constexpr int kConfig = 4;
constexpr int kState = 6;

class FakeLinks : public LinkControl {
 public:
  absl::StatusOr<std::vector<LinkEvent>> ListLinks() override {
    ++lists;
    return links;
  }
  absl::Status SetAdminDown(int32_t ifindex) override {
    set_down.push_back(ifindex);
    return absl::OkStatus();
  }
  uint64_t malformed_messages() const override { return 0; }

  std::vector<LinkEvent> links;
  std::vector<int32_t> set_down;
  int lists = 0;
};

class StartupTest : public ::testing::Test {
 protected:
  StartupTest() {
    endpoints_.appl = {"APPL_DB", kAppl, ":", "/fake/redis.sock"};
    endpoints_.config = {"CONFIG_DB", kConfig, "|", "/fake/redis.sock"};
    endpoints_.state = {"STATE_DB", kState, "|", "/fake/redis.sock"};
    options_.runtime_dir =
        absl::StrCat(::testing::TempDir(), "/startup_test.", getpid(), ".",
                     ::testing::UnitTest::GetInstance()->random_seed(), ".",
                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(options_.runtime_dir);
    for (const char* port : {"Ethernet0", "Ethernet4"}) {
      redis_.SetField(kConfig, absl::StrCat("PORT|", port), "lanes", "1,2");
      redis_.SetField(kConfig, absl::StrCat("PORT|", port), "speed", "100000");
    }
    LinkEvent old;
    old.ifindex = 7;
    old.name = "Ethernet0";  // left over from before the start
    old.flags = IFF_UP;
    links_.links = {old};
  }
  ~StartupTest() override { std::filesystem::remove_all(options_.runtime_dir); }

  absl::Status Run() {
    startup_ = std::make_unique<Startup>(options_, endpoints_, shared_, counters_, redis_);
    return startup_->Run(
        links_, [] {}, [this](absl::Duration) { return ++sleeps > 100; });
  }
  bool Marker() { return std::filesystem::exists(options_.runtime_dir + "/portsyncd.started"); }
  std::set<std::string> Pending() {
    absl::MutexLock lock(&shared_.mu);
    return shared_.model.pending();
  }

  EngineOptions options_;
  DbEndpoints endpoints_;
  SharedModel shared_;
  EngineCounters counters_;
  FakeRedis redis_;
  FakeLinks links_;
  std::unique_ptr<Startup> startup_;
  int sleeps = 0;
};

TEST_F(StartupTest, ColdStartPublishesConfigDbAndSetsOldInterfacesDown) {
  ASSERT_TRUE(Run().ok());
  EXPECT_EQ(startup_->mode(), StartMode::kCold);
  FakeRedis::Hash* port = redis_.FindHash(kAppl, "_PORT_TABLE:Ethernet0");
  ASSERT_NE(port, nullptr);
  EXPECT_EQ(port->at("speed"), "100000");
  ASSERT_NE(redis_.FindHash(kAppl, "_PORT_TABLE:PortConfigDone"), nullptr);
  EXPECT_EQ(redis_.FindHash(kAppl, "_PORT_TABLE:PortConfigDone")->at("count"), "2");
  EXPECT_THAT(links_.set_down, ElementsAre(7));
  EXPECT_EQ(counters_.old_interfaces.load(), 1u);
  EXPECT_TRUE(Marker());
  EXPECT_THAT(Pending(), ElementsAre("Ethernet0", "Ethernet4"));
  // LOGGER|portsyncd was absent: upstream's defaults are written.
  EXPECT_EQ(redis_.FindHash(kConfig, "LOGGER|portsyncd")->at("LOGLEVEL"), "NOTICE");
}

// A cold start of 10,000 ports reads and writes them a slice at a time (what it holds at once
// stays small), and PortConfigDone still comes after every port.
TEST_F(StartupTest, AColdStartPublishesALargeConfigDbInSlicesThenPortConfigDone) {
  constexpr int kPorts = 10000;
  for (int i = 2; i < kPorts; ++i) {
    redis_.SetField(kConfig, absl::StrCat("PORT|Ethernet", 4 * i), "speed", "100000");
  }
  ASSERT_TRUE(Run().ok());
  EXPECT_LE(redis_.largest_pipeline, 4096u);
  EXPECT_EQ(redis_.FindHash(kAppl, "_PORT_TABLE:PortConfigDone")->at("count"),
            absl::StrCat(kPorts));
  int ports = 0;
  bool config_done_seen = false;
  for (const FakeRedis::Notification& n : redis_.notifications) {
    if (n.db != kAppl || !absl::StartsWith(n.key, "_PORT_TABLE:")) continue;
    if (n.key == "_PORT_TABLE:PortConfigDone") {
      config_done_seen = true;
      EXPECT_EQ(ports, kPorts) << "PortConfigDone before every port was published";
    } else if (!config_done_seen) {
      ++ports;
    }
  }
  EXPECT_TRUE(config_done_seen);
  EXPECT_EQ(redis_.FindHash(kAppl, "_PORT_TABLE:Ethernet39996")->at("speed"), "100000");
  EXPECT_EQ(Pending().size(), static_cast<size_t>(kPorts));
}

TEST_F(StartupTest, TheOldInterfaceRuleTakesOnlySelectedEthernetNetdevs) {
  absl::StatusOr<PortSelection> selection =
      PortSelection::Create({"Ethernet*", "eth*"}, {"Ethernet0"});
  ASSERT_TRUE(selection.ok()) << selection.status();
  {
    // The model's selection, as a reload leaves it (options_ keep the start's: upstream's).
    absl::MutexLock lock(&shared_.mu);
    (void)shared_.model.SetSelection(*selection, absl::InfinitePast());
  }
  LinkEvent selected;
  selected.ifindex = 8;
  selected.name = "Ethernet8";
  LinkEvent host_port;
  host_port.ifindex = 9;
  host_port.name = "eth0";  // selected, but not an Ethernet netdev: never set down
  links_.links.push_back(selected);
  links_.links.push_back(host_port);
  ASSERT_TRUE(Run().ok());
  EXPECT_THAT(links_.set_down, ElementsAre(8)) << "Ethernet0 is excluded, eth0 is no Ethernet*";
  EXPECT_EQ(counters_.old_interfaces.load(), 1u);
  // CONFIG_DB's ports are all published, as upstream does; only the selected one is waited for.
  EXPECT_EQ(redis_.FindHash(kAppl, "_PORT_TABLE:PortConfigDone")->at("count"), "2");
  EXPECT_NE(redis_.FindHash(kAppl, "_PORT_TABLE:Ethernet0"), nullptr);
  EXPECT_THAT(Pending(), ElementsAre("Ethernet4"));
}

TEST_F(StartupTest, ARestartOfTheDaemonAloneWritesNothingAndSetsNothingDown) {
  redis_.SetField(kAppl, "PORT_TABLE:PortConfigDone", "count", "2");  // consumed by orchagent
  redis_.SetField(kAppl, "PORT_TABLE:Ethernet0", "admin_status", "up");
  std::filesystem::create_directories(options_.runtime_dir);
  { std::ofstream(options_.runtime_dir + "/portsyncd.started").put('\n'); }
  ASSERT_TRUE(Run().ok());
  EXPECT_EQ(startup_->mode(), StartMode::kRestart);
  EXPECT_EQ(redis_.count("EVAL"), 0);
  EXPECT_EQ(links_.lists, 0);
  EXPECT_THAT(links_.set_down, IsEmpty());
  absl::MutexLock lock(&shared_.mu);
  const Port* port = shared_.model.Find("Ethernet0");  // APPL_DB membership is loaded
  ASSERT_NE(port, nullptr);
  EXPECT_TRUE(port->in_appl_db);
}

TEST_F(StartupTest, AFlushedDatabaseIsAColdStartThoughTheMarkerWasLeftBehind) {
  std::filesystem::create_directories(options_.runtime_dir);
  { std::ofstream(options_.runtime_dir + "/portsyncd.started").put('\n'); }
  ASSERT_TRUE(Run().ok());
  EXPECT_EQ(startup_->mode(), StartMode::kCold);
  EXPECT_NE(redis_.FindHash(kAppl, "_PORT_TABLE:PortConfigDone"), nullptr);
  EXPECT_THAT(links_.set_down, ElementsAre(7));
}

TEST_F(StartupTest, AWarmRestartCountsItselfOnceAndPublishesNothing) {
  redis_.SetField(kState, "WARM_RESTART_ENABLE_TABLE|swss", "enable", "true");
  redis_.SetField(kState, "WARM_RESTART_TABLE|portsyncd", "restore_count", "4");
  redis_.SetField(kAppl, "PORT_TABLE:PortConfigDone", "count", "2");
  ASSERT_TRUE(Run().ok());
  EXPECT_EQ(startup_->mode(), StartMode::kWarm);
  EXPECT_EQ(redis_.FindHash(kState, "WARM_RESTART_TABLE|portsyncd")->at("restore_count"), "5");
  EXPECT_EQ(redis_.count("EVAL"), 0);
  EXPECT_THAT(links_.set_down, IsEmpty());
}

TEST_F(StartupTest, ARetryAfterRedisBreaksHalfwayRepeatsNothing) {
  // Redis breaks during our publication, after orchagent has already answered part of it: the
  // next attempt must not take orchagent's answer for a port configured before us (which would
  // drop it from the pending set), nor look for old interfaces again (by then orchagent may have
  // created netdevs of its own). The publication itself is repeated whole (idempotent).
  int evals = 0;
  redis_.intercept = [&](int, const RedisArgv& argv) -> std::optional<RedisReply> {
    if (argv[0] == "EVAL" && ++evals == 2) {
      redis_.SetField(kAppl, "PORT_TABLE:Ethernet0", "admin_status", "up");  // orchagent
      redis_.BreakConnections();
    }
    return std::nullopt;
  };
  ASSERT_TRUE(Run().ok());
  EXPECT_EQ(startup_->mode(), StartMode::kCold);
  EXPECT_EQ(redis_.connects, 6);  // two attempts
  EXPECT_EQ(sleeps, 1);
  EXPECT_EQ(redis_.count("EVAL"), 2 + 3);
  EXPECT_EQ(links_.lists, 1);
  EXPECT_THAT(links_.set_down, ElementsAre(7));
  EXPECT_THAT(Pending(), ElementsAre("Ethernet0", "Ethernet4"));
  EXPECT_TRUE(Marker());
}

TEST_F(StartupTest, PortsOrchagentAlreadyConfiguredAreNotPending) {
  redis_.SetField(kAppl, "PORT_TABLE:Ethernet4", "admin_status", "up");
  ASSERT_TRUE(Run().ok());
  EXPECT_THAT(Pending(), ElementsAre("Ethernet0"));
}

}  // namespace
}  // namespace portsyncd
