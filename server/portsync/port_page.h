// SelectPortPage: which ports one GetPortState answer lists (docs/API.md "Paging"). Runs under
// the model lock, so it copies the page's ports and nothing else; the caller builds the messages
// after the lock.
#ifndef PORTSYNCD_SERVER_PORTSYNC_PORT_PAGE_H_
#define PORTSYNCD_SERVER_PORTSYNC_PORT_PAGE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "core/port_model.h"

namespace portsyncd {

struct PortPageQuery {
  absl::Span<const std::string> names;  // empty: every tracked port
  absl::string_view pattern;            // fnmatch(3) pattern; empty: any name
  absl::string_view after;              // the previous page's last name; empty: from the start
  size_t page_size = 0;                 // at least 1
};

struct PortPage {
  std::vector<std::pair<Port, bool>> ports;  // in natural order; the port, and whether pending
  size_t total = 0;                          // how many match in all pages
  bool more = false;                         // a later page has more
  uint64_t sequence = 0;
  bool sonic = false;  // the model has a STATE_DB
};

// NOT_FOUND when a name in `names` is not a tracked port.
absl::StatusOr<PortPage> SelectPortPage(const PortModel& model, const PortPageQuery& query);

}  // namespace portsyncd

#endif  // PORTSYNCD_SERVER_PORTSYNC_PORT_PAGE_H_
