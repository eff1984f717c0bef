// The whole engine, every thread of it, on fakes: no kernel (FakeLinkSocket), no Redis
// (FakeRedis), no clock (FakeClock). Startup, the initial dump, STATE_DB and PortInitDone, live
// changes, and a stop that leaves nothing unwritten, through Engine::Create and Run as main()
// calls them; the dump overlapping startup's reads on a restart but not on a cold start, with
// startup held at a chosen command by a FakeRedis intercept.
// The parts are tested one by one elsewhere (startup_test, kernel_follower_test,
// state_writer_test); this is their wiring. It waits on the engine's own state-change hook,
// never on time; the real-world tests beside it are test_startup and test_events.
#include "core/engine.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "tests/unit/fake_netlink.h"
#include "tests/unit/fake_redis.h"

namespace portsyncd {
namespace {

constexpr int kAppl = 0;
constexpr int kConfig = 4;
constexpr int kState = 6;

class EngineTest : public ::testing::Test {
 protected:
  EngineTest()
      : dir_(absl::StrCat(::testing::TempDir(), "/engine_test.", getpid(), ".",
                          ::testing::UnitTest::GetInstance()->current_test_info()->name())) {
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ + "/database_config.json") << R"({
      "INSTANCES": {"redis": {"hostname": "127.0.0.1", "port": 6379,
                              "unix_socket_path": "/fake/redis.sock"}},
      "DATABASES": {"APPL_DB": {"id": 0, "separator": ":", "instance": "redis"},
                    "CONFIG_DB": {"id": 4, "separator": "|", "instance": "redis"},
                    "STATE_DB": {"id": 6, "separator": "|", "instance": "redis"}},
      "VERSION": "1.0"})";
    options_.db_config_path = dir_ + "/database_config.json";
    options_.runtime_dir = dir_ + "/run";
    options_.keyspace_notifications = false;  // FakeRedis has no pub/sub
    options_.direct_writes = false;           // its connection is hiredis's, not the connector's
    // Orchagent's view: Ethernet0 configured, its APPL_DB entry there.
    redis_.SetField(kConfig, "PORT|Ethernet0", "lanes", "0");
    redis_.SetField(kConfig, "PORT|Ethernet0", "admin_status", "up");
    redis_.SetField(kAppl, "PORT_TABLE:Ethernet0", "lanes", "0");
  }
  ~EngineTest() override {
    // A test that held startup and ended early (a failed assertion) lets it go: the stop joins it.
    if (!go_on_.HasBeenNotified()) go_on_.Notify();
    if (thread_.joinable()) (void)StopEngine();
    std::filesystem::remove_all(dir_);
  }

  // Creates the engine (options_, `connector`, FakeClock) on a FakeLinkSocket holding `netdevs`
  // and runs it on a thread of its own, as main() does. Returns the fake kernel (null, and a
  // test failure, when Create fails).
  FakeLinkSocket* StartEngine(std::vector<FakeLinkSocket::Netdev> netdevs,
                              RedisConnector* connector, bool list_existing = false) {
    links_ = std::make_unique<FakeLinkSocket>();
    FakeLinkSocket* kernel = links_.get();
    kernel->SetNetdevs(std::move(netdevs));
    if (list_existing) kernel->ListExisting();
    EngineEnvironment environment;
    environment.connector = connector;
    environment.clock = &clock_;
    environment.open_links =
        [this](const NetlinkSocket::Options&) -> absl::StatusOr<std::unique_ptr<LinkSocket>> {
      if (links_ == nullptr) return absl::InternalError("opened twice");
      return std::unique_ptr<LinkSocket>(std::move(links_));
    };
    absl::StatusOr<std::unique_ptr<Engine>> created = Engine::Create(options_, environment);
    EXPECT_TRUE(created.ok()) << created.status();
    if (!created.ok()) return nullptr;
    engine_ = *std::move(created);
    engine_->SetStateListener([this] { Changed(); });
    thread_ = std::thread([this] { result_ = engine_->Run(); });
    return kernel;
  }
  // Startup's thread stops at its first `command` to database `db` (FakeRedis runs it on that
  // thread) and notifies held_; it goes on when the test notifies go_on_.
  void HoldStartupAt(int db, const std::string& command) {
    redis_.intercept = [this, db, command](int at,
                                           const RedisArgv& argv) -> std::optional<RedisReply> {
      if (at == db && argv[0] == command && !held_.HasBeenNotified()) {
        held_.Notify();
        go_on_.WaitForNotification();
      }
      return std::nullopt;
    };
  }
  // Stops the engine and joins its thread; Run()'s result.
  absl::Status StopEngine() {
    engine_->Stop();
    thread_.join();
    return result_;
  }
  // The engine's model has `name` in the kernel.
  bool InKernel(const std::string& name) {
    bool found = false;
    engine_->WithModel([&](const PortModel& model) {
      const Port* port = model.Find(name);
      found = port != nullptr && port->in_kernel;
    });
    return found;
  }

  // Waits until `done` holds, re-checked whenever the engine says its state changed.
  bool WaitFor(const std::function<bool()>& done) {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(&done, &std::function<bool()>::operator()),
                                absl::Seconds(60));
  }
  void Changed() {
    absl::MutexLock lock(&mu_);
    ++changes_;
  }

  const std::string dir_;
  EngineOptions options_;
  FakeRedis redis_;
  FakeClock clock_;
  absl::Mutex mu_;
  int changes_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Notification held_, go_on_;        // HoldStartupAt
  std::unique_ptr<FakeLinkSocket> links_;  // until the engine opens it
  std::unique_ptr<Engine> engine_;
  std::thread thread_;
  absl::Status result_;
};

TEST_F(EngineTest, StartsSyncsFollowsChangesAndStopsWithNothingUnwritten) {
  FakeLinkSocket* kernel = StartEngine({{"Ethernet0", 10}, {"eth0", 2}}, &redis_);
  ASSERT_NE(kernel, nullptr);
  Engine& engine = *engine_;

  ASSERT_TRUE(WaitFor([&] { return engine.port_init_done(); })) << "no PortInitDone";
  EXPECT_EQ(engine.start_mode(), StartMode::kCold);
  EXPECT_TRUE(engine.initial_sync_done());
  const uint64_t writes = engine.counters().state_db_writes.load();
  // The peer goes down: IFF_RUNNING clears.
  kernel->Push(Link(RTM_NEWLINK, 0, "Ethernet0", 10, 0, IFF_UP));
  ASSERT_TRUE(WaitFor([&] { return engine.counters().state_db_writes.load() > writes; }));
  // Then a stop: whether this last change was written before it or by its flush, it is written.
  kernel->Push(Link(RTM_NEWLINK, 0, "Ethernet0", 10, 0, IFF_UP, 1500));
  ASSERT_TRUE(WaitFor([&] { return engine.counters().netlink_messages.load() >= 4; }));
  ASSERT_TRUE(StopEngine().ok());

  // Only now, every engine thread joined, is FakeRedis read (it is single-threaded).
  FakeRedis::Hash* port = redis_.FindHash(kState, "PORT_TABLE|Ethernet0");
  ASSERT_NE(port, nullptr);
  EXPECT_EQ(port->at("state"), "ok");
  EXPECT_EQ(port->at("admin_status"), "up");
  EXPECT_EQ(port->at("netdev_oper_status"), "down");
  EXPECT_EQ(port->at("mtu"), "1500");
  EXPECT_EQ(redis_.FindHash(kState, "PORT_TABLE|eth0"), nullptr) << "not a port name";
  EXPECT_TRUE(redis_.Exists(kAppl, "_PORT_TABLE:PortInitDone"));
  EXPECT_TRUE(redis_.Exists(kAppl, "_PORT_TABLE:PortConfigDone")) << "a cold start's contract";
  EXPECT_EQ(kernel->dumps(), 1);
  EXPECT_TRUE(std::filesystem::exists(options_.runtime_dir + "/portsyncd.started"));
}

TEST_F(EngineTest, ANewSelectionRemovesWhatItLeavesOutAndReDumpsForWhatItTakesIn) {
  redis_.SetField(kConfig, "PORT|Ethernet4", "lanes", "4");
  redis_.SetField(kAppl, "PORT_TABLE:Ethernet4", "lanes", "4");
  FakeLinkSocket* kernel =
      StartEngine({{"Ethernet0", 10}, {"Ethernet4", 11}, {"eth0", 2}}, &redis_);
  ASSERT_NE(kernel, nullptr);
  Engine& engine = *engine_;
  ASSERT_TRUE(WaitFor([&] { return engine.port_init_done() && engine.initial_write_done(); }));
  EXPECT_FALSE(InKernel("eth0"));

  absl::StatusOr<PortSelection> next = PortSelection::Create({"Ethernet*", "eth*"}, {"Ethernet4"});
  ASSERT_TRUE(next.ok()) << next.status();
  engine.SetPortSelection(*next);
  EXPECT_EQ(engine.status().selection, "include Ethernet* eth* exclude Ethernet4");
  ASSERT_TRUE(WaitFor([&] { return InKernel("eth0"); })) << "eth0 never taken in";
  EXPECT_FALSE(InKernel("Ethernet4"));
  ASSERT_TRUE(WaitFor([&] { return engine.counters().state_db_deletes.load() >= 1; }));
  // A set that can only be narrower: nothing to take in, no dump.
  absl::StatusOr<PortSelection> narrower = PortSelection::Create({"Ethernet*"}, {"Ethernet4"});
  ASSERT_TRUE(narrower.ok());
  engine.SetPortSelection(*narrower);
  EXPECT_FALSE(InKernel("eth0"));
  // Two kernel messages, the second sent once the first is applied: the engine pass that took
  // the selection's wake-up (and would have asked for a dump) is over by the time the second
  // shows.
  auto mtu_is = [&](uint32_t mtu) {
    return WaitFor([&] {
      bool is = false;
      engine.WithModel([&](const PortModel& model) { is = model.Find("Ethernet0")->mtu == mtu; });
      return is;
    });
  };
  kernel->Push(Link(RTM_NEWLINK, 0, "Ethernet0", 10, 0, IFF_UP | IFF_RUNNING, 1600));
  ASSERT_TRUE(mtu_is(1600));
  kernel->Push(Link(RTM_NEWLINK, 0, "Ethernet0", 10, 0, IFF_UP | IFF_RUNNING, 1700));
  ASSERT_TRUE(mtu_is(1700));
  ASSERT_TRUE(StopEngine().ok());

  EXPECT_EQ(kernel->dumps(), 2) << "one re-dump, for what the first new set takes in";
  EXPECT_EQ(engine.counters().selection_dumps.load(), 1u);
  EXPECT_EQ(engine.counters().netlink_dumps.load(), 1u) << "no resync";
  EXPECT_EQ(redis_.FindHash(kState, "PORT_TABLE|Ethernet4"), nullptr) << "left out: deleted";
  ASSERT_NE(redis_.FindHash(kState, "PORT_TABLE|Ethernet0"), nullptr);
  EXPECT_EQ(redis_.FindHash(kState, "PORT_TABLE|eth0"), nullptr) << "not in APPL_DB";
}

TEST_F(EngineTest, ARestartFollowsTheKernelWhileStartupReadsRedisAndWritesOnceItIsDone) {
  // A restart of the daemon alone: orchagent consumed PortConfigDone, the marker is there.
  redis_.SetField(kAppl, "PORT_TABLE:PortConfigDone", "count", "1");
  std::filesystem::create_directories(options_.runtime_dir);
  std::ofstream(options_.runtime_dir + "/portsyncd.started");
  // Startup held in its read of APPL_DB's keys until the test lets it go.
  HoldStartupAt(kAppl, "SCAN");
  FakeLinkSocket* kernel = StartEngine({{"Ethernet0", 10}}, &redis_);
  ASSERT_NE(kernel, nullptr);
  Engine& engine = *engine_;
  held_.WaitForNotification();
  EXPECT_EQ(engine.start_mode(), StartMode::kRestart);
  // The dump runs while startup reads: the model knows the kernel already...
  ASSERT_TRUE(WaitFor([&] { return engine.initial_sync_done(); })) << "the dump waited";
  EXPECT_TRUE(InKernel("Ethernet0"));
  // ...but nothing is written before startup says which ports APPL_DB has and which are
  // configured: no writer yet, no PortInitDone.
  EXPECT_FALSE(engine.redis_connected());
  EXPECT_FALSE(engine.initial_write_done());
  EXPECT_FALSE(engine.port_init_done());
  engine.WithModel([](const PortModel& model) {
    EXPECT_FALSE(model.Find("Ethernet0")->in_appl_db);
    EXPECT_TRUE(model.pending_empty()) << "CONFIG_DB not loaded yet";
  });
  go_on_.Notify();
  ASSERT_TRUE(WaitFor([&] { return engine.port_init_done() && engine.initial_write_done(); }));
  ASSERT_TRUE(StopEngine().ok());

  FakeRedis::Hash* port = redis_.FindHash(kState, "PORT_TABLE|Ethernet0");
  ASSERT_NE(port, nullptr) << "written once APPL_DB's entry was known";
  EXPECT_EQ(port->at("state"), "ok");
  EXPECT_EQ(port->at("netdev_oper_status"), "up");
  EXPECT_TRUE(redis_.Exists(kAppl, "_PORT_TABLE:PortInitDone"));
  EXPECT_FALSE(redis_.Exists(kAppl, "_PORT_TABLE:PortConfigDone")) << "not a cold start";
  EXPECT_EQ(kernel->dumps(), 1);
}

TEST_F(EngineTest, AColdStartReadsTheKernelOnlyOnceStartupIsDone) {
  // Startup held in its read of CONFIG_DB's keys (after the start rule, before it lists and
  // sets down old interfaces) until the test lets it go.
  HoldStartupAt(kConfig, "SCAN");
  FakeLinkSocket* kernel = StartEngine({{"Ethernet0", 10}}, &redis_, /*list_existing=*/true);
  ASSERT_NE(kernel, nullptr);
  Engine& engine = *engine_;
  held_.WaitForNotification();
  EXPECT_EQ(engine.start_mode(), StartMode::kCold);
  EXPECT_FALSE(engine.initial_sync_done());
  go_on_.Notify();
  ASSERT_TRUE(WaitFor([&] { return engine.initial_write_done(); }));
  ASSERT_TRUE(StopEngine().ok());
  // Ethernet0 was there before the start: an old interface, set down and never followed
  // (until orchagent re-creates it; PortInitDone waits for that).
  EXPECT_EQ(engine.counters().old_interfaces.load(), 1u);
  EXPECT_EQ(redis_.FindHash(kState, "PORT_TABLE|Ethernet0"), nullptr);
  EXPECT_EQ(kernel->calls(), (std::vector<std::string>{"list", "down 10", "dump"}))
      << "the dump must follow the old interfaces' setting down";
}

// A connector that must never be called.
class NoRedis : public RedisConnector {
 public:
  absl::StatusOr<std::unique_ptr<RedisClient>> Connect(const DbEndpoint& endpoint,
                                                       absl::Duration) override {
    ADD_FAILURE() << "host mode connected to " << endpoint.Describe();
    return absl::UnavailableError("no Redis here");
  }
};

TEST_F(EngineTest, HostModeFollowsTheKernelWithNoDatabaseAtAll) {
  options_.redis_enabled = false;
  options_.selection = PortSelection::Host();
  options_.db_config_path = dir_ + "/does-not-exist.json";  // never read
  NoRedis no_redis;
  FakeLinkSocket* kernel = StartEngine({{"lo", 1}, {"eth0", 2}, {"br0", 3}}, &no_redis);
  ASSERT_NE(kernel, nullptr);
  Engine& engine = *engine_;
  EXPECT_TRUE(engine.start_decided()) << "nothing to wait for";
  ASSERT_TRUE(WaitFor([&] { return engine.initial_write_done(); }));
  std::vector<std::string> names;
  engine.WithModel([&](const PortModel& model) {
    for (const auto& [name, port] : model.ports()) {
      if (port.in_kernel) names.push_back(name);
    }
  });
  EXPECT_EQ(names, (std::vector<std::string>{"br0", "eth0"})) << "not the loopback";
  kernel->Push(Link(RTM_NEWLINK, 0, "eth0", 2, 0, IFF_UP));
  ASSERT_TRUE(WaitFor([&] {
    bool down = false;
    engine.WithModel([&](const PortModel& model) { down = !model.Find("eth0")->fields().oper_up; });
    return down;
  }));
  const EngineStatus status = engine.status();
  EXPECT_FALSE(status.redis_enabled);
  EXPECT_FALSE(status.redis_connected);
  EXPECT_FALSE(status.port_init_done);
  EXPECT_EQ(status.selection, "include * exclude lo");
  ASSERT_TRUE(StopEngine().ok());
  EXPECT_EQ(engine.counters().state_db_writes.load(), 0u);
  EXPECT_EQ(engine.counters().redis_connects.load(), 0u);
  EXPECT_FALSE(std::filesystem::exists(options_.runtime_dir + "/portsyncd.started"))
      << "no restart marker: nothing to tell a restart from";
}

}  // namespace
}  // namespace portsyncd
