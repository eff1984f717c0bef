#include "server/portsync/port_page.h"

#include <fnmatch.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "server/stream/port_names.h"

namespace portsyncd {

absl::StatusOr<PortPage> SelectPortPage(const PortModel& model, const PortPageQuery& query) {
  const std::string pattern(query.pattern);
  auto matches = [&](const Port& port) {
    return IsTracked(port) &&
           (pattern.empty() || fnmatch(pattern.c_str(), port.name.c_str(), 0) == 0);
  };
  PortPage page;
  auto take = [&](const Port& port) {
    if (page.ports.size() == query.page_size) {
      page.more = true;
    } else {
      page.ports.emplace_back(port, model.pending().contains(port.name));
    }
  };
  if (!query.names.empty()) {
    std::vector<const Port*> ports;
    for (const std::string& name : query.names) {
      const Port* port = model.Find(name);
      if (port == nullptr || !IsTracked(*port)) {
        return absl::NotFoundError(absl::StrCat("port ", name, " is not known to portsyncd"));
      }
      if (matches(*port) && std::find(ports.begin(), ports.end(), port) == ports.end()) {
        ports.push_back(port);
      }
    }
    page.total = ports.size();
    std::sort(ports.begin(), ports.end(),
              [](const Port* a, const Port* b) { return NaturalLess(a->name, b->name); });
    for (const Port* port : ports) {
      if (query.after.empty() || NaturalLess(query.after, port->name)) take(*port);
    }
  } else {
    // The model is in natural order: the page starts after `after` and runs on from there. Only
    // total_size walks every port, without copying.
    const auto& ports = model.ports();
    const auto start = query.after.empty() ? ports.begin() : ports.upper_bound(query.after);
    for (auto it = ports.begin(); it != start; ++it) page.total += matches(it->second);
    for (auto it = start; it != ports.end(); ++it) {
      if (!matches(it->second)) continue;
      ++page.total;
      take(it->second);
    }
  }
  page.sequence = model.sequence();
  page.sonic = model.state_db();
  return page;
}

}  // namespace portsyncd
