// StartDecision: how this start of portsyncd must behave (cold, warm, or a restart of the
// daemon alone), decided from evidence read at startup. A pure function, so every combination
// is table-tested (tests/unit/start_decision_test.cc).
//
// Why evidence in Redis and not a file alone: in SONiC, portsyncd runs under supervisord in the
// swss container, which is stopped and started, not recreated, so the runtime directory (and any
// marker in it) survives `systemctl restart swss`, `config reload` and a stop-flush-start. What
// SONiC does before each of those is flush APPL_DB; orchagent then waits for PortConfigDone. So:
//
//   warm restart requested and restore_count readable  -> warm (COMPATIBILITY.md 4)
//   else APPL_DB holds an earlier PortConfigDone (staged `_PORT_TABLE:PortConfigDone` or the
//        consumed `PORT_TABLE:PortConfigDone`: the port stack is alive) AND our restart marker
//        is in the runtime directory (we ran since the last boot)
//                                                       -> restart of the daemon alone: no port
//                                                          is set down, STATE_DB is reconciled
//                                                          from the kernel (COMPATIBILITY.md 7.7)
//   else                                               -> cold: the whole contract (APPL_DB copy,
//                                                          PortConfigDone, old interfaces, ...)
//
// The marker guards one case the evidence alone gets wrong: a boot where Redis kept APPL_DB
// (persistence on, outside SONiC): /run is a tmpfs, so the marker is gone after a boot. (In
// SONiC the container's /run may survive a reboot; there the flush decides.)
//
// Thread-safety: pure functions, callable from anywhere.
#ifndef PORTSYNCD_CORE_START_DECISION_H_
#define PORTSYNCD_CORE_START_DECISION_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace portsyncd {

// How the process started (docs/COMPATIBILITY.md 2, 4 and 7.7).
enum class StartMode { kCold, kWarm, kRestart };
absl::string_view StartModeName(StartMode mode);

// What startup reads before deciding.
struct StartEvidence {
  // STATE_DB WARM_RESTART_ENABLE_TABLE|system or |swss has enable = "true".
  bool warm_requested = false;
  // STATE_DB WARM_RESTART_TABLE|portsyncd restore_count, when present and a number.
  std::optional<int64_t> restore_count;
  // APPL_DB _PORT_TABLE:PortConfigDone exists (published, not yet consumed by orchagent).
  bool port_config_done_staged = false;
  // APPL_DB PORT_TABLE:PortConfigDone exists (consumed by orchagent).
  bool port_config_done_consumed = false;
  // The restart marker exists in the runtime directory.
  bool marker = false;
};

struct StartDecision {
  StartMode mode = StartMode::kCold;
  // The value to write to STATE_DB WARM_RESTART_TABLE|portsyncd restore_count; none: leave it.
  std::optional<std::string> restore_count;
  // One line for the log: the rule taken and the evidence, e.g. "restart of portsyncd alone:
  // APPL_DB holds PortConfigDone (consumed by orchagent) and the restart marker exists".
  std::string reason;
};

StartDecision DecideStart(const StartEvidence& evidence);

}  // namespace portsyncd

#endif  // PORTSYNCD_CORE_START_DECISION_H_
