#include "server/stream/timer_queue.h"

#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
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

TEST(TimerQueueTest, ARepeatingTimerKeepsItsIdUntilCancelled) {
  FakeClock clock;
  TimerQueue timers(clock);
  int ticks = 0;
  const TimerQueue::Id id = timers.ScheduleRepeating(clock.Now() + absl::Seconds(1), [&] {
    ++ticks;
    return clock.Now() + absl::Seconds(1);
  });
  for (int i = 0; i < 3; ++i) {
    clock.Advance(absl::Seconds(1));
    EXPECT_EQ(timers.RunDue(), 1u);
  }
  EXPECT_EQ(ticks, 3);
  timers.Cancel(id);
  clock.Advance(absl::Seconds(1));
  EXPECT_EQ(timers.RunDue(), 0u);
  EXPECT_EQ(timers.NextDeadline(), absl::InfiniteFuture());
}

// The promise a stream's OnDone relies on before it deletes itself: Cancel returns only after
// the callback running on another thread has returned, also when that callback is a periodic
// tick that already set up its next run (the gNMI SAMPLE/heartbeat case). The interleaving is
// ordered by hand: the tick waits inside until Cancel is about to wait for it.
TEST(TimerQueueTest, CancelWaitsForItsRunningCallbackEvenOneThatRescheduledItself) {
  FakeClock clock;
  TimerQueue timers(clock);
  absl::Notification started, release;
  absl::Mutex mu;
  bool returned = false;
  const TimerQueue::Id id = timers.ScheduleRepeating(clock.Now(), [&] {
    started.Notify();
    release.WaitForNotification();
    absl::MutexLock lock(&mu);
    returned = true;
    return clock.Now() + absl::Seconds(1);
  });
  timers.set_cancel_wait_hook_for_test([&] { release.Notify(); });
  std::thread runner([&] { timers.RunDue(); });
  started.WaitForNotification();
  timers.Cancel(id);
  bool returned_before_cancel_did;
  {
    absl::MutexLock lock(&mu);
    returned_before_cancel_did = returned;
  }
  if (!release.HasBeenNotified()) release.Notify();  // Cancel did not wait: let the tick end
  runner.join();
  EXPECT_TRUE(returned_before_cancel_did) << "Cancel returned while its callback still ran";
  clock.Advance(absl::Seconds(5));
  EXPECT_EQ(timers.RunDue(), 0u) << "a cancelled periodic timer ran again";
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
