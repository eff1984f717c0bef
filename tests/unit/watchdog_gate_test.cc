#include "gtest/gtest.h"
#include "server/ops/health_reporter.h"
#include "server/ops/systemd_notifier.h"

namespace portsyncd {
namespace {

const absl::Time t0 = absl::FromUnixSeconds(1'800'000'000);

TEST(WatchdogGateTest, PetsOnlyWhileTheEngineAnswersPings) {
  WatchdogGate gate(absl::Seconds(5));
  int pings = 0;
  auto ping = [&] { ++pings; };
  // First tick: nothing asked yet, pet and ping.
  EXPECT_TRUE(gate.Tick(t0, t0 - absl::Hours(1), ping));
  EXPECT_EQ(pings, 1);
  // Before the period: nothing.
  EXPECT_FALSE(gate.Tick(t0 + absl::Seconds(1), t0 + absl::Seconds(1), ping));
  EXPECT_EQ(pings, 1);
  // The engine turned after the ping: pet.
  EXPECT_TRUE(gate.Tick(t0 + absl::Seconds(5), t0 + absl::Milliseconds(10), ping));
  // The engine did not turn after the second ping (stuck): no pet, however long it lasts.
  EXPECT_FALSE(gate.Tick(t0 + absl::Seconds(10), t0 + absl::Milliseconds(10), ping));
  EXPECT_FALSE(gate.Tick(t0 + absl::Seconds(15), t0 + absl::Milliseconds(10), ping));
  // It recovers: pet again.
  EXPECT_TRUE(gate.Tick(t0 + absl::Seconds(20), t0 + absl::Seconds(16), ping));
  EXPECT_EQ(pings, 5);
}

// The initial dump ends between the health read and the synced read (the interleaving that sent
// READY=1 with "following 0 interfaces"): the sample must not say synced with the old count.
TEST(HealthSampleTest, SyncedIsReadBeforeTheHealthItDescribes) {
  bool dump_done = false;
  const HealthSample sample = SampleHealth([&] { return dump_done; },
                                           [&] {
                                             v1::GetHealthResponse h;
                                             h.set_ports_tracked(dump_done ? 1 : 0);
                                             dump_done = true;  // the dump ends just after
                                             return h;
                                           });
  EXPECT_FALSE(sample.synced);
  EXPECT_EQ(sample.health.ports_tracked(), 0u);
  // The next pass sees both.
  const HealthSample next = SampleHealth([&] { return dump_done; },
                                         [&] {
                                           v1::GetHealthResponse h;
                                           h.set_ports_tracked(dump_done ? 1 : 0);
                                           return h;
                                         });
  EXPECT_TRUE(next.synced);
  EXPECT_EQ(next.health.ports_tracked(), 1u);
}

TEST(SystemdNotifierTest, DisabledWithoutNotifySocket) {
  unsetenv("NOTIFY_SOCKET");
  SystemdNotifier notifier;
  EXPECT_FALSE(notifier.enabled());
  EXPECT_FALSE(notifier.watchdog_period().has_value());
  notifier.Notify("READY=1");  // no-op, no crash
}

}  // namespace
}  // namespace portsyncd
