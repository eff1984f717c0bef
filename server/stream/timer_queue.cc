#include "server/stream/timer_queue.h"

#include "core/thread_name.h"

namespace portsyncd {

TimerQueue::~TimerQueue() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

TimerQueue::Id TimerQueue::Schedule(absl::Time deadline, std::function<void()> fn) {
  return ScheduleRepeating(deadline, [fn = std::move(fn)] {
    fn();
    return absl::InfiniteFuture();
  });
}

TimerQueue::Id TimerQueue::ScheduleRepeating(absl::Time deadline, std::function<absl::Time()> fn) {
  absl::MutexLock lock(&mu_);
  const Id id = next_id_++;
  timers_.emplace(std::make_pair(deadline, id), std::move(fn));
  deadline_of_.emplace(id, deadline);
  changed_ = true;
  return id;
}

void TimerQueue::Cancel(Id id) {
  absl::MutexLock lock(&mu_);
  auto it = deadline_of_.find(id);
  if (it != deadline_of_.end()) {
    timers_.erase({it->second, id});
    deadline_of_.erase(it);
  }
  if (running_ != id) return;
  // Cancelled while it runs: it is not put back (RunDue checks cancelled_), whatever it returns.
  cancelled_running_ = true;
  // Running now on another thread: wait until it returns. (On this thread, from inside the
  // callback itself, there is nothing to wait for.)
  if (running_thread_ == std::this_thread::get_id()) return;
  if (cancel_wait_hook_) {
    mu_.Unlock();
    cancel_wait_hook_();
    mu_.Lock();
  }
  std::pair<TimerQueue*, Id> args(this, id);
  mu_.Await(absl::Condition(
      +[](std::pair<TimerQueue*, Id>* a)
           ABSL_NO_THREAD_SAFETY_ANALYSIS { return a->first->running_ != a->second; },
      &args));
}

size_t TimerQueue::RunDue() {
  size_t ran = 0;
  for (;;) {
    std::function<absl::Time()> fn;
    Id id;
    {
      absl::MutexLock lock(&mu_);
      if (timers_.empty() || timers_.begin()->first.first > clock_.Now()) return ran;
      auto it = timers_.begin();
      id = it->first.second;
      running_ = id;
      running_thread_ = std::this_thread::get_id();
      cancelled_running_ = false;
      fn = std::move(it->second);
      deadline_of_.erase(id);
      timers_.erase(it);
    }
    const absl::Time next = fn();
    ++ran;
    absl::MutexLock lock(&mu_);
    running_ = 0;
    if (next != absl::InfiniteFuture() && !cancelled_running_ && !stop_) {
      timers_.emplace(std::make_pair(next, id), std::move(fn));
      deadline_of_.emplace(id, next);
      changed_ = true;
    }
  }
}

absl::Time TimerQueue::NextDeadline() const {
  absl::MutexLock lock(&mu_);
  return timers_.empty() ? absl::InfiniteFuture() : timers_.begin()->first.first;
}

void TimerQueue::Start() {
  thread_ = std::thread([this] {
    SetThreadName("ps-timers");
    Loop();
  });
}

void TimerQueue::Loop() {
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      changed_ = false;
      const absl::Time deadline =
          timers_.empty() ? absl::InfiniteFuture() : timers_.begin()->first.first;
      const absl::Duration wait = deadline - clock_.Now();
      if (!stop_ && wait > absl::ZeroDuration()) {
        auto woken =
            +[](TimerQueue* q) ABSL_NO_THREAD_SAFETY_ANALYSIS { return q->stop_ || q->changed_; };
        if (deadline == absl::InfiniteFuture()) {
          mu_.Await(absl::Condition(woken, this));
        } else {
          mu_.AwaitWithTimeout(absl::Condition(woken, this), wait);
        }
      }
      if (stop_) return;
    }
    RunDue();
  }
}

}  // namespace portsyncd
