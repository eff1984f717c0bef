// Natural port order: alphabetic prefix, then the number: Ethernet4 < Ethernet8 < Ethernet100.
// The order the model keeps its ports in and every API lists them in. Pure functions.
#ifndef PORTSYNCD_CORE_NATURAL_ORDER_H_
#define PORTSYNCD_CORE_NATURAL_ORDER_H_

#include "absl/strings/string_view.h"

namespace portsyncd {

bool NaturalLess(absl::string_view a, absl::string_view b);
// The order by its definition (slow): for tests of NaturalLess.
bool NaturalLessForTest(absl::string_view a, absl::string_view b);

// NaturalLess as a transparent comparator, for ordered containers keyed by port name.
struct NaturalOrder {
  using is_transparent = void;
  bool operator()(absl::string_view a, absl::string_view b) const { return NaturalLess(a, b); }
};

}  // namespace portsyncd

#endif  // PORTSYNCD_CORE_NATURAL_ORDER_H_
