#include "core/natural_order.h"

#include <cstdint>
#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"

namespace portsyncd {

namespace {

size_t TrailingDigits(absl::string_view s) {
  size_t i = s.size();
  while (i > 0 && absl::ascii_isdigit(static_cast<unsigned char>(s[i - 1]))) --i;
  return i;
}

// The order's definition: (text before the trailing number, has a number, the number, the
// whole name); a number too large for 64 bits counts as none.
bool NaturalLessByDefinition(absl::string_view a, absl::string_view b) {
  auto split = [](absl::string_view s) {
    const size_t i = TrailingDigits(s);
    uint64_t number = 0;
    const bool has_number = i < s.size() && absl::SimpleAtoi(s.substr(i), &number);
    return std::make_tuple(s.substr(0, i), has_number, number, s);
  };
  return split(a) < split(b);
}

}  // namespace

namespace natural_order_internal {

bool Less(absl::string_view a, absl::string_view b) {
  // The same order, parsing only numbers of up to 19 digits (they always fit in 64 bits).
  const size_t ia = TrailingDigits(a), ib = TrailingDigits(b);
  const absl::string_view pa = a.substr(0, ia), pb = b.substr(0, ib);
  if (pa != pb) return pa < pb;
  const absl::string_view da = a.substr(ia), db = b.substr(ib);
  if (da.size() > 19 || db.size() > 19) return NaturalLessByDefinition(a, b);
  if (da.empty() != db.empty()) return da.empty();  // no number first
  uint64_t na = 0, nb = 0;
  for (char c : da) na = na * 10 + static_cast<uint64_t>(c - '0');
  for (char c : db) nb = nb * 10 + static_cast<uint64_t>(c - '0');
  if (na != nb) return na < nb;
  return a < b;
}

}  // namespace natural_order_internal

bool NaturalLessForTest(absl::string_view a, absl::string_view b) {
  return NaturalLessByDefinition(a, b);
}

}  // namespace portsyncd
