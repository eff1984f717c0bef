// SONiC's database service writes database_config.json once Redis is up, and SONiC's daemons
// wait for it; so do we, rather than exit and be restarted in a loop by the supervisor. Only a
// file that does not exist (yet) is waited for: one that cannot be read or parsed is an error
// (Engine::Create says which). READY=1 is sent after 10 s of waiting (as while waiting for Redis:
// see HealthReporter; the API is not served yet), the watchdog is kept fed, and a warning is
// logged every 30 s.
#ifndef PORTSYNCD_SERVER_OPS_DB_CONFIG_WAIT_H_
#define PORTSYNCD_SERVER_OPS_DB_CONFIG_WAIT_H_

#include <string>

#include "absl/functional/function_ref.h"
#include "absl/time/time.h"
#include "core/clock.h"
#include "server/ops/systemd_notifier.h"

namespace portsyncd {

enum class DbConfigWait { kThere, kAppeared, kStopped };

// Waits for `path` to exist, checking twice a second. `sleep(d)` waits up to `d` and returns
// true when the daemon is asked to stop (the daemon: sigtimedwait on SIGTERM/SIGINT).
DbConfigWait WaitForDbConfig(const std::string& path, const SystemdNotifier& notifier,
                             const Clock& clock, absl::FunctionRef<bool(absl::Duration)> sleep);

}  // namespace portsyncd

#endif  // PORTSYNCD_SERVER_OPS_DB_CONFIG_WAIT_H_
