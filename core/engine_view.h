// EngineView: what the server reads of the engine (the Engine; a fake in the server's unit
// tests): the model under its lock, the counters, and the status its health reports, read at
// one moment. Read-only: starting, stopping and the watchdog's ping stay on Engine.
#ifndef PORTSYNCD_CORE_ENGINE_VIEW_H_
#define PORTSYNCD_CORE_ENGINE_VIEW_H_

#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "core/engine_shared.h"
#include "core/start_decision.h"

namespace portsyncd {

struct EngineStatus {
  // False: host mode (no SONiC database; EngineOptions::redis_enabled).
  bool redis_enabled = true;
  // PortSelection::Describe of the netdevs followed.
  std::string selection;
  // Startup: the start mode once decided; while undecided, what it waits for (Redis).
  bool start_decided = false;
  StartMode start_mode = StartMode::kCold;
  std::string startup_waiting_for;
  // Redis: connected or not since `redis_since`; keyspace notifications subscribed.
  bool redis_connected = false;
  absl::Time redis_since = absl::InfinitePast();
  bool keyspace_active = false;
  // The first complete link dump is applied (the model knows the kernel), and written.
  bool initial_sync_done = false;
  absl::Time initial_sync_time = absl::InfinitePast();
  bool initial_write_done = false;
  bool port_init_done = false;
  absl::Time port_init_done_time = absl::InfinitePast();
  int netlink_receive_buffer = 0;  // bytes, as the kernel granted them
  uint64_t merged_writes = 0;      // PortModel::merged_writes
  uint64_t netdev_renames = 0;     // PortModel::renames
};

class EngineView : public ModelReader {
 public:
  virtual const EngineCounters& counters() const = 0;
  virtual EngineStatus status() const = 0;
};

}  // namespace portsyncd

#endif  // PORTSYNCD_CORE_ENGINE_VIEW_H_
