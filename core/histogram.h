// Histogram: a fixed-bucket latency histogram, lock-free to record, for Prometheus export.
#ifndef PORTSYNCD_CORE_HISTOGRAM_H_
#define PORTSYNCD_CORE_HISTOGRAM_H_

#include <array>
#include <atomic>
#include <cstdint>

#include "absl/time/time.h"

namespace portsyncd {

class Histogram {
 public:
  // Upper bounds in seconds: 10 us .. 10 s, roughly x2.5 apart (a Redis round trip is ~40 us,
  // an event-to-STATE_DB write ~100 us, a stall seconds).
  static constexpr std::array<double, 14> kBounds = {
      10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 50e-3, 0.25, 1, 10};

  void Record(absl::Duration d) {
    const double s = absl::ToDoubleSeconds(d);
    size_t i = 0;
    while (i < kBounds.size() && s > kBounds[i]) ++i;
    buckets_[i].fetch_add(1, std::memory_order_relaxed);  // i == size: +Inf only
    count_.fetch_add(1, std::memory_order_relaxed);
    sum_ns_.fetch_add(absl::ToInt64Nanoseconds(d), std::memory_order_relaxed);
  }
  // Non-cumulative count of bucket i (i == kBounds.size() is above the last bound).
  uint64_t bucket(size_t i) const { return buckets_[i].load(std::memory_order_relaxed); }
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  double sum_seconds() const { return sum_ns_.load(std::memory_order_relaxed) / 1e9; }

 private:
  std::array<std::atomic<uint64_t>, kBounds.size() + 1> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<int64_t> sum_ns_{0};
};

}  // namespace portsyncd

#endif  // PORTSYNCD_CORE_HISTOGRAM_H_
