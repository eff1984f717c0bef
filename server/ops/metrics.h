// Prometheus metrics: the text exposition format, served over HTTP (cpp-httplib) at /metrics.
//
// Off unless `metrics.listen` is set (loopback by default in the shipped config). Rendering
// reads the engine's atomic counters and, briefly, the model under its lock.
#ifndef PORTSYNCD_SERVER_OPS_METRICS_H_
#define PORTSYNCD_SERVER_OPS_METRICS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "core/engine_view.h"
#include "server/stream/event_hub.h"

namespace httplib {
class Server;
}

namespace portsyncd {

// Counters kept by the server (not the engine).
struct ServerCounters {
  std::atomic<uint64_t> reloads_ok{0};
  std::atomic<uint64_t> reloads_failed{0};
};

// The whole /metrics page.
std::string RenderMetrics(const EngineView& engine, const EventHub& hub,
                          const ServerCounters& server);

class MetricsServer {
 public:
  // Listens on "host:port" and serves `render()` at GET /metrics.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      const std::string& listen, std::function<std::string()> render);
  ~MetricsServer();  // stops and joins

 private:
  MetricsServer() = default;
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
};

}  // namespace portsyncd

#endif  // PORTSYNCD_SERVER_OPS_METRICS_H_
