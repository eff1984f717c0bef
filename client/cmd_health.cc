#include <algorithm>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "client/commands.h"
#include "client/connection.h"
#include "client/render.h"

namespace portsyncd::ctl {

grpc::Status GetHealth(const Options& o, v1::PortSync::Stub& stub, v1::GetHealthResponse& h) {
  grpc::ClientContext context;
  context.set_deadline(Deadline(o));
  return stub.GetHealth(&context, v1::GetHealthRequest(), &h);
}

int Health(const Options& o, v1::PortSync::Stub& stub) {
  v1::GetHealthResponse h;
  grpc::Status status = GetHealth(o, stub, h);
  if (!status.ok()) return Fail(RpcFailure(o, status));
  if (o.json) {
    std::cout << ToJson(h, true);
    return kOk;
  }
  auto name = [](v1::ServingStatus s) {
    std::string n = v1::ServingStatus_Name(s);
    return std::string(absl::StripPrefix(n, "SERVING_STATUS_"));
  };
  const absl::Time now = absl::Now();
  std::cout << "portsyncd " << h.version() << ": " << name(h.status()) << " ("
            << (h.mode() == "host" ? std::string("host mode")
                                   : absl::StrCat(h.start_mode(), " start"))
            << ", up "
            << (h.uptime().seconds() == 0
                    ? "<1s"
                    : absl::FormatDuration(absl::Seconds(h.uptime().seconds())))
            << ", instance " << h.instance_id() << ")\n";
  if (h.mode() == "host") {
    std::cout << "ports: " << h.ports_tracked()
              << " tracked (host mode: no SONiC database, nothing written)\n\n";
  } else {
    std::cout << "ports: " << h.ports_tracked() << " tracked, " << h.ports_in_sync()
              << " in sync with STATE_DB\n\n";
  }
  size_t width = 0;
  for (const auto& c : h.components()) width = std::max(width, c.name().size());
  for (const auto& c : h.components()) {
    std::cout << absl::StrFormat("%-*s  %-11s  %s (since %s)\n", width, c.name(), name(c.status()),
                                 c.message(), Ago(c.since(), now));
  }
  const v1::HealthCounters& c = h.counters();
  std::cout << "\ncounters:\n"
            << "  netlink messages      " << c.netlink_messages() << "\n"
            << "  netlink parse errors  " << c.netlink_parse_errors() << "\n"
            << "  netlink overruns      " << c.netlink_overruns() << " (resyncs "
            << c.netlink_resyncs() << ")\n";
  if (h.mode() != "host") {  // host mode writes nothing and has no Redis
    std::cout << "  STATE_DB writes       " << c.ports_written() << " in " << c.state_db_batches()
              << " batches, " << c.ports_deleted() << " deletes, " << c.writes_merged()
              << " merged\n"
              << "  Redis connects        " << c.redis_reconnects() << "\n"
              << "  drift repairs         " << c.drift_repairs() << "\n";
  }
  std::cout << "  netdev renames        " << c.netdev_renames() << "\n";
  if (h.mode() != "host") {
    std::cout << "  keyspace events       " << c.keyspace_events() << " (" << c.keyspace_checks()
              << " checked)\n";
  }
  std::cout << "  stream subscribers    " << c.stream_subscribers() << " (gNMI "
            << c.gnmi_subscribers() << ")\n";
  return kOk;
}

}  // namespace portsyncd::ctl
