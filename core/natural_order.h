// Natural port order: alphabetic prefix, then the number: Ethernet4 < Ethernet8 < Ethernet100.
// The order the model keeps its ports in and every API lists them in. Pure functions.
#ifndef PORTSYNCD_CORE_NATURAL_ORDER_H_
#define PORTSYNCD_CORE_NATURAL_ORDER_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "absl/strings/string_view.h"

namespace portsyncd {

namespace natural_order_internal {
// Any two names (NaturalLess's slow path).
bool Less(absl::string_view a, absl::string_view b);
inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }
inline bool AllDigits(absl::string_view s, size_t from) {
  for (size_t k = from; k < s.size(); ++k) {
    if (!IsDigit(s[k])) return false;
  }
  return true;
}
}  // namespace natural_order_internal

// Inline, as the model's comparator (every port lookup): the common cases are decided from the
// first byte where the names differ, without parsing.
inline bool NaturalLess(absl::string_view a, absl::string_view b) {
  using natural_order_internal::AllDigits;
  using natural_order_internal::IsDigit;
  const size_t n = std::min(a.size(), b.size());
  size_t i = 0;
  for (uint64_t x, y; i + 8 <= n; i += 8) {  // eight bytes at a time: "Ethernet" in one step
    std::memcpy(&x, a.data() + i, 8);
    std::memcpy(&y, b.data() + i, 8);
    if (x != y) break;
  }
  while (i < n && a[i] == b[i]) ++i;
  // Two letters: both differ before their trailing numbers, so the text before them decides.
  if (i < n && !IsDigit(a[i]) && !IsDigit(b[i])) {
    return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[i]);  // as memcmp
  }
  // Otherwise only digits after the shared text: both numbers start where its digits do.
  if (!AllDigits(a, i) || !AllDigits(b, i)) return natural_order_internal::Less(a, b);
  size_t t = i;
  while (t > 0 && IsDigit(a[t - 1])) --t;
  const size_t la = a.size() - t, lb = b.size() - t;                  // digits in each number
  if (la > 19 || lb > 19) return natural_order_internal::Less(a, b);  // may not fit 64 bits
  if (la == lb) return i < n && a[i] < b[i];  // as many digits: the first different one decides
  if (la == 0 || lb == 0) return la == 0;     // no number first
  if ((la > 1 && a[t] == '0') || (lb > 1 && b[t] == '0')) return natural_order_internal::Less(a, b);
  return la < lb;  // no leading zero: more digits, a larger number
}
// The order by its definition (slow): for tests of NaturalLess.
bool NaturalLessForTest(absl::string_view a, absl::string_view b);

// NaturalLess as a transparent comparator, for ordered containers keyed by port name.
struct NaturalOrder {
  using is_transparent = void;
  bool operator()(absl::string_view a, absl::string_view b) const { return NaturalLess(a, b); }
};

}  // namespace portsyncd

#endif  // PORTSYNCD_CORE_NATURAL_ORDER_H_
