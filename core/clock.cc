#include "core/clock.h"

namespace portsyncd {
namespace {

class Real : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
};

}  // namespace

const Clock& RealClock() {
  static const Real* const clock = new Real;
  return *clock;
}

}  // namespace portsyncd
