// Clock: the time the engine's parts read, behind an interface so unit tests set it (FakeClock)
// and drive every timer, retry and backoff without sleeping (STYLE.md: no test depends on luck).
//
// Thread-safe. Waiting is not part of it: the loops that wait (StateWriter::Run) wait on their
// mutex up to a deadline computed from this clock; tests call the one-pass functions instead.
#ifndef PORTSYNCD_CORE_CLOCK_H_
#define PORTSYNCD_CORE_CLOCK_H_

#include <atomic>
#include <cstdint>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace portsyncd {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

// absl::Now().
const Clock& RealClock();

// A clock that moves only when told.
class FakeClock : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1'800'000'000))
      : ns_(absl::ToUnixNanos(start)) {}
  absl::Time Now() const override { return absl::FromUnixNanos(ns_.load()); }
  void Advance(absl::Duration d) { ns_.fetch_add(absl::ToInt64Nanoseconds(d)); }
  void Set(absl::Time t) { ns_.store(absl::ToUnixNanos(t)); }

 private:
  std::atomic<int64_t> ns_;
};

}  // namespace portsyncd

#endif  // PORTSYNCD_CORE_CLOCK_H_
