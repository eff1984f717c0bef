// TimerQueue: one thread that runs callbacks at their deadlines, for the gNMI streams' SAMPLE
// intervals, heartbeats and History ends.
//
// Time comes from a Clock, so tests drive it with a FakeClock and RunDue() without sleeping; the
// thread (Start) waits on the queue's mutex until the earliest deadline, and not at all while the
// queue is empty (an idle daemon with no timed stream never wakes for it).
//
// Cancel(id) returns only once the callback is not running and never will: a stream cancels its
// timers in OnDone and may then be deleted. A periodic timer keeps its id from one run to the
// next (ScheduleRepeating), so that promise holds for a tick that is running when its stream
// ends. Callbacks run without the queue's lock and may Schedule or Cancel (a callback cancelling
// itself returns at once).
#ifndef PORTSYNCD_SERVER_STREAM_TIMER_QUEUE_H_
#define PORTSYNCD_SERVER_STREAM_TIMER_QUEUE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/clock.h"

namespace portsyncd {

class TimerQueue {
 public:
  explicit TimerQueue(const Clock& clock) : clock_(clock) {}
  ~TimerQueue();  // stops the thread; pending callbacks never run

  using Id = uint64_t;
  // Runs `fn` once at `deadline`.
  Id Schedule(absl::Time deadline, std::function<void()> fn);
  // Runs `fn` at `first`, then at each deadline it returns, under the same id, until it returns
  // InfiniteFuture() or is cancelled.
  Id ScheduleRepeating(absl::Time first, std::function<absl::Time()> fn);
  void Cancel(Id id);

  // Runs every callback due at clock.Now(), in deadline order; returns how many ran.
  size_t RunDue();
  // The earliest deadline, InfiniteFuture() when none.
  absl::Time NextDeadline() const;
  // Starts the thread (named ps-timers), which runs callbacks as they fall due.
  void Start();

  // Tests only: called by Cancel, without the queue's lock, when it is about to wait for the
  // callback running on another thread (so a test can order the interleaving by hand).
  void set_cancel_wait_hook_for_test(std::function<void()> hook) {
    cancel_wait_hook_ = std::move(hook);
  }

 private:
  void Loop();

  const Clock& clock_;
  mutable absl::Mutex mu_;
  // (deadline, id) -> callback returning its next deadline: ordered by deadline, then by
  // scheduling order.
  std::map<std::pair<absl::Time, Id>, std::function<absl::Time()>> timers_ ABSL_GUARDED_BY(mu_);
  std::map<Id, absl::Time> deadline_of_ ABSL_GUARDED_BY(mu_);
  Id next_id_ ABSL_GUARDED_BY(mu_) = 1;
  Id running_ ABSL_GUARDED_BY(mu_) = 0;                  // the callback running now, 0 if none
  bool cancelled_running_ ABSL_GUARDED_BY(mu_) = false;  // ... and Cancel was called for it
  std::thread::id running_thread_ ABSL_GUARDED_BY(mu_);
  bool changed_ ABSL_GUARDED_BY(mu_) = false;  // the earliest deadline may have moved
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::function<void()> cancel_wait_hook_;
  std::thread thread_;
};

}  // namespace portsyncd

#endif  // PORTSYNCD_SERVER_STREAM_TIMER_QUEUE_H_
