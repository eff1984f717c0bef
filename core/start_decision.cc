#include "core/start_decision.h"

#include "absl/strings/str_cat.h"

namespace portsyncd {

absl::string_view StartModeName(StartMode mode) {
  switch (mode) {
    case StartMode::kCold:
      return "cold";
    case StartMode::kWarm:
      return "warm";
    case StartMode::kRestart:
      return "restart";
  }
  return "unknown";
}

StartDecision DecideStart(const StartEvidence& e) {
  StartDecision d;
  if (e.warm_requested && e.restore_count) {
    d.mode = StartMode::kWarm;
    d.restore_count = absl::StrCat(*e.restore_count + 1);
    d.reason = absl::StrCat(
        "warm restart: WARM_RESTART_ENABLE_TABLE enable=true and "
        "WARM_RESTART_TABLE|portsyncd restore_count ",
        *e.restore_count, " -> ", *d.restore_count);
    return d;
  }
  // Section 4: not requested, or requested without a restore_count: it becomes 0. A restart of
  // the daemon alone leaves the WARM_RESTART tables as they are (7.7), unless warm restart was
  // requested without a count (section 4 then asks for the 0).
  const bool stack_alive = e.port_config_done_staged || e.port_config_done_consumed;
  const std::string where = e.port_config_done_consumed && e.port_config_done_staged
                                ? "APPL_DB holds PortConfigDone (staged and consumed by orchagent)"
                            : e.port_config_done_consumed
                                ? "APPL_DB holds PortConfigDone (consumed by orchagent)"
                                : "APPL_DB holds PortConfigDone (staged, not yet consumed)";
  const std::string warm_note =
      e.warm_requested ? "; warm restart requested but WARM_RESTART_TABLE|portsyncd has no "
                         "restore_count, so it is set to 0"
                       : "";
  if (stack_alive && e.marker) {
    d.mode = StartMode::kRestart;
    if (e.warm_requested) d.restore_count = "0";
    d.reason = absl::StrCat("restart of portsyncd alone: ", where,
                            " and the restart marker exists; no port is set down, STATE_DB is "
                            "reconciled from the kernel",
                            warm_note);
    return d;
  }
  d.mode = StartMode::kCold;
  d.restore_count = "0";
  if (!stack_alive) {
    d.reason = absl::StrCat(
        "cold start: no PortConfigDone in APPL_DB (flushed, as SONiC does before every swss "
        "start, config reload and boot)",
        e.marker ? " although the restart marker exists" : "", warm_note);
  } else {
    d.reason =
        absl::StrCat("cold start: ", where,
                     " but the restart marker is absent (first start since boot)", warm_note);
  }
  return d;
}

}  // namespace portsyncd
