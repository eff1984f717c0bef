#include "server/timer_queue.h"

#include <vector>

#include "gtest/gtest.h"

namespace portsyncd {
namespace {

TEST(TimerQueueTest, RunsWhatIsDueInDeadlineOrderAndNothingEarly) {
  FakeClock clock;
  TimerQueue timers(clock);
  std::vector<int> ran;
  const absl::Time t0 = clock.Now();
  timers.Schedule(t0 + absl::Milliseconds(200), [&] { ran.push_back(2); });
  timers.Schedule(t0 + absl::Milliseconds(100), [&] { ran.push_back(1); });
  timers.Schedule(t0 + absl::Milliseconds(300), [&] { ran.push_back(3); });
  EXPECT_EQ(timers.NextDeadline(), t0 + absl::Milliseconds(100));
  EXPECT_EQ(timers.RunDue(), 0u);
  clock.Advance(absl::Milliseconds(99));
  EXPECT_EQ(timers.RunDue(), 0u);
  clock.Advance(absl::Milliseconds(101));
  EXPECT_EQ(timers.RunDue(), 2u);
  EXPECT_EQ(ran, (std::vector<int>{1, 2}));
  EXPECT_EQ(timers.NextDeadline(), t0 + absl::Milliseconds(300));
}

TEST(TimerQueueTest, ACancelledTimerNeverRunsAndACallbackMayReschedule) {
  FakeClock clock;
  TimerQueue timers(clock);
  int ticks = 0, cancelled = 0;
  const TimerQueue::Id id = timers.Schedule(clock.Now(), [&] { ++cancelled; });
  timers.Cancel(id);
  std::function<void()> tick = [&] {
    if (++ticks < 3) timers.Schedule(clock.Now() + absl::Seconds(1), tick);
  };
  timers.Schedule(clock.Now(), tick);
  for (int i = 0; i < 5; ++i) {
    timers.RunDue();
    clock.Advance(absl::Seconds(1));
  }
  EXPECT_EQ(ticks, 3);
  EXPECT_EQ(cancelled, 0);
  EXPECT_EQ(timers.NextDeadline(), absl::InfiniteFuture());
}

TEST(TimerQueueTest, ACallbackMayCancelItself) {
  FakeClock clock;
  TimerQueue timers(clock);
  TimerQueue::Id id = 0;
  bool ran = false;
  id = timers.Schedule(clock.Now(), [&] {
    ran = true;
    timers.Cancel(id);  // returns at once: it is this callback
  });
  EXPECT_EQ(timers.RunDue(), 1u);
  EXPECT_TRUE(ran);
}

// The thread, with the real clock: what the daemon runs. Waits for the callback (no timing
// assertion).
TEST(TimerQueueTest, TheThreadRunsATimerThatFallsDue) {
  TimerQueue timers(RealClock());
  timers.Start();
  absl::Mutex mu;
  bool ran = false;
  timers.Schedule(absl::Now() + absl::Milliseconds(5), [&] {
    absl::MutexLock lock(&mu);
    ran = true;
  });
  absl::MutexLock lock(&mu);
  mu.Await(absl::Condition(&ran));
  EXPECT_TRUE(ran);
}

}  // namespace
}  // namespace portsyncd
