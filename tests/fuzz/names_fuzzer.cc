// libFuzzer target: the small string parsers and orders that see outside input.
//   ParseLogLevel       (--log-level, the config file, CONFIG_DB LOGGER|portsyncd LOGLEVEL)
//   ValidatePortName    (gRPC requests: GetPortState and StreamLinkEvents filters)
//   NaturalLess         (the API's port order; must be a strict weak order)
//   PortSelection       ([ports] include/exclude patterns, and netlink names against them)
// The input is two strings separated by the first NUL byte (the second may be empty).
#include <cstddef>
#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/string_view.h"
#include "core/logging.h"
#include "core/port_model.h"
#include "core/port_selection.h"
#include "server/portsync/port_state_proto.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace portsyncd;
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  const absl::string_view a = input.substr(0, nul);
  const absl::string_view b = nul == absl::string_view::npos ? "" : input.substr(nul + 1);

  for (absl::string_view s : {a, b}) {
    if (std::optional<LogLevel> level = ParseLogLevel(s)) {
      // A level's own name parses back to it.
      FuzzCheck(ParseLogLevel(LogLevelName(*level)) == level);
    }
    if (ValidatePortName(s).ok()) {
      FuzzCheck(!s.empty() && s.size() <= kMaxInterfaceNameLength);
      for (char c : s) FuzzCheck(static_cast<unsigned char>(c) > 0x20 && c != 0x7f && c != '/');
    }
    (void)PortSelection::Upstream().Selects(s);
    if (PortSelection::ValidatePattern(s).ok()) {
      // A valid pattern makes a selection, which matches names without failing.
      absl::StatusOr<PortSelection> selection = PortSelection::Create({std::string(s)}, {});
      FuzzCheck(selection.ok());
      (void)selection->Selects(a);
      (void)selection->Selects(b);
      // A pattern without wildcards or escapes selects exactly itself.
      if (s.find_first_of("*?[\\") == absl::string_view::npos) FuzzCheck(selection->Selects(s));
    }
    FuzzCheck(!NaturalLess(s, s));
  }
  const bool ab = NaturalLess(a, b);
  const bool ba = NaturalLess(b, a);
  FuzzCheck(!(ab && ba));
  FuzzCheck(ab == NaturalLessForTest(a, b));  // the fast paths give the defined order
  if (!ab && !ba) FuzzCheck(a == b);  // NaturalLess ends with the whole string: a total order
  return 0;
}
