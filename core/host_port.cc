#include "core/host_port.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace portsyncd {

absl::StatusOr<HostPort> ParseHostPort(absl::string_view address) {
  const absl::Status bad = absl::InvalidArgumentError(
      absl::StrCat("'", address, "' is not host:port (a numeric port 1-65535; [v6]:port)"));
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) return bad;
  const absl::string_view port = address.substr(colon + 1);
  HostPort out;
  if (port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      !absl::SimpleAtoi(port, &out.port) || out.port <= 0 || out.port > 65535) {
    return bad;
  }
  absl::string_view host = address.substr(0, colon);
  if (host.size() > 1 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (absl::StrContains(host, ':')) {
    return bad;  // an IPv6 address needs its brackets: "::1:8080" is ambiguous
  }
  out.host = std::string(host);
  return out;
}

}  // namespace portsyncd
