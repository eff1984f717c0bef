#include "server/stream/port_names.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "core/link_event.h"

namespace portsyncd {

absl::Status ValidatePortName(absl::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("port name is empty");
  if (name.size() > kMaxInterfaceNameLength) {
    return absl::InvalidArgumentError(absl::StrCat("port name '", name.substr(0, 32), "' is ",
                                                   name.size(), " bytes, longer than ",
                                                   kMaxInterfaceNameLength));
  }
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u == 0x7f || c == '/') {
      return absl::InvalidArgumentError(
          absl::StrCat("port name '", absl::CHexEscape(name),
                       "' contains a control character, whitespace or '/'"));
    }
  }
  return absl::OkStatus();
}

bool IsTracked(const Port& port) { return port.in_kernel || port.in_config_db || port.in_appl_db; }

}  // namespace portsyncd
