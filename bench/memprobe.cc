// memprobe: heap bytes per port of the engine's model and of the server's change log, measured
// with glibc's mallinfo2() around building them for N ports (bench/run.py's "memory" scenario;
// docs/PERFORMANCE.md). Each port is what the kernel and SONiC give it: a veth NEWLINK with a
// MAC, APPL_DB and CONFIG_DB membership, written once to STATE_DB.
//
// Usage: memprobe N...   prints one JSON object per N.
#include <linux/if.h>
#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "core/engine_shared.h"
#include "core/port_model.h"
#include "server/stream/event_hub.h"

namespace portsyncd {
namespace {

size_t HeapInUse() {
  malloc_trim(0);
  const struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;  // small blocks, and the large ones malloc mmap()s
}

class Model : public ModelReader {
 public:
  void WithModel(absl::FunctionRef<void(const PortModel&)> fn) const override {
    absl::MutexLock lock(&mu);
    fn(model);
  }
  mutable absl::Mutex mu;
  PortModel model;
};

LinkEvent NewLink(int i) {
  LinkEvent e;
  e.name = absl::StrCat("Ethernet", i);
  e.ifindex = i + 2;
  e.flags = IFF_UP | IFF_RUNNING | IFF_LOWER_UP;
  e.mtu = 9100;
  e.has_mtu = true;
  e.kind = "veth";
  e.operstate = 6;
  const uint8_t mac[6] = {0x52,
                          0x54,
                          0x00,
                          static_cast<uint8_t>(i >> 16),
                          static_cast<uint8_t>(i >> 8),
                          static_cast<uint8_t>(i)};
  e.mac.Assign(mac, sizeof(mac));
  e.has_carrier_counts = true;
  e.carrier_changes = 1;
  e.carrier_up_count = 1;
  return e;
}

void Probe(int n) {
  const size_t base = HeapInUse();
  auto model = std::make_unique<Model>();
  {
    absl::MutexLock lock(&model->mu);
    for (int i = 0; i < n; ++i) {
      const std::string name = absl::StrCat("Ethernet", i);
      model->model.AddConfigPort(name);
      model->model.SetInApplDb(name);
    }
    const absl::Time now = absl::Now();
    for (int i = 0; i < n; ++i) model->model.Apply(NewLink(i), now);
    for (const StateWrite& w : model->model.TakeDirty()) model->model.CompleteWrite(w, true);
  }
  std::vector<PortChange> changes;
  {
    absl::MutexLock lock(&model->mu);
    changes = model->model.TakeChanges();
    changes.shrink_to_fit();
  }
  const size_t with_changes = HeapInUse();
  changes.clear();
  changes.shrink_to_fit();
  const size_t with_model = HeapInUse();

  // The change log, fed the same way the engine feeds it (the initial dump's changes).
  EventHubOptions options;
  auto hub = std::make_unique<EventHub>(model.get(), "memprobe", options);
  {
    absl::MutexLock lock(&model->mu);
    for (int i = 0; i < n; ++i) {
      LinkEvent e = NewLink(i);
      e.flags ^= IFF_RUNNING;  // one flap each: a change per port
      model->model.Apply(e, absl::Now());
    }
    hub->OnPortChanges(model->model, model->model.TakeChanges());
    hub->OnInitialSync();
  }
  const size_t with_hub = HeapInUse();
  SharedPortSnapshot snapshot = hub->TakePortSnapshot();
  const size_t with_snapshot = HeapInUse();
  std::printf(
      "{\"ports\": %d, \"model_bytes_per_port\": %.0f, \"changes_bytes_per_port\": %.0f, "
      "\"hub_bytes_per_port\": %.0f, \"hub_ring_records\": %zu, \"snapshot_bytes_per_port\": "
      "%.0f, \"total_bytes_per_port\": %.0f, \"sizeof_port\": %zu, "
      "\"sizeof_change_record\": %zu}\n",
      n, double(with_model - base) / n, double(with_changes - with_model) / n,
      double(with_hub - with_model) / n, std::min<size_t>(n, options.replay_buffer),
      double(with_snapshot - with_hub) / n, double(with_snapshot - base) / n, sizeof(Port),
      sizeof(ChangeRecord));
  std::fflush(stdout);
  snapshot.reset();
  hub->Shutdown();
}

}  // namespace
}  // namespace portsyncd

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: memprobe N...\n");
    return 2;
  }
  for (int i = 1; i < argc; ++i) portsyncd::Probe(std::atoi(argv[i]));
}
