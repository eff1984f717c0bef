// FakeEngine: a PortModel behind a mutex that publishes its changes to a PortChangeListener the
// way the engine does (the listener called with the lock held, once per batch of kernel
// messages), for unit tests of what the server builds on the engine: the hub, the streams'
// feeds. Kernel messages are made by hand; time is given by the test.
#ifndef PORTSYNCD_TESTS_UNIT_FAKE_ENGINE_H_
#define PORTSYNCD_TESTS_UNIT_FAKE_ENGINE_H_

#include <linux/if.h>

#include <functional>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "core/engine_shared.h"
#include "core/engine_view.h"
#include "core/port_model.h"

namespace portsyncd {

class FakeEngine : public EngineView {
 public:
  static constexpr absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);

  void set_listener(PortChangeListener* listener) { listener_ = listener; }

  void WithModel(absl::FunctionRef<void(const PortModel&)> fn) const override {
    {
      absl::MutexLock lock(&mu_);
      fn(model_);
    }
    ++with_model_calls_;
    if (after_with_model_) after_with_model_(with_model_calls_);
  }
  // Runs after each WithModel's lock is released, with how many calls there were: what the
  // engine does between a reader's holds of the lock.
  void set_after_with_model(std::function<void(int calls)> hook) {
    with_model_calls_ = 0;
    after_with_model_ = std::move(hook);
  }

  const EngineCounters& counters() const override { return counters_; }
  EngineStatus status() const override {
    absl::MutexLock lock(&mu_);
    return status_;
  }
  void set_status(EngineStatus status) {
    absl::MutexLock lock(&mu_);
    status_ = std::move(status);
  }
  EngineCounters& mutable_counters() { return counters_; }
  // CONFIG_DB ports (PortInitDone waits for them) and APPL_DB ports, as startup finds them.
  void Configure(const std::vector<std::string>& config_db,
                 const std::vector<std::string>& appl_db) {
    absl::MutexLock lock(&mu_);
    for (const std::string& name : config_db) model_.AddConfigPort(name);
    for (const std::string& name : appl_db) model_.SetInApplDb(name);
    (void)model_.TakeChanges();
  }

  static LinkEvent NewLink(const std::string& name, int32_t ifindex, bool up = true,
                           uint32_t mtu = 9100) {
    LinkEvent e;
    e.type = LinkEvent::Type::kNewLink;
    e.name = name;
    e.ifindex = ifindex;
    e.flags = up ? IFF_UP | IFF_RUNNING : 0;
    e.mtu = mtu;
    e.has_mtu = true;
    return e;
  }
  static LinkEvent DelLink(const std::string& name, int32_t ifindex) {
    LinkEvent e;
    e.type = LinkEvent::Type::kDelLink;
    e.name = name;
    e.ifindex = ifindex;
    return e;
  }

  // One netlink read: applies `events` at `at` and publishes what changed.
  void Read(const std::vector<LinkEvent>& events, absl::Time at = kT0) {
    absl::MutexLock lock(&mu_);
    for (const LinkEvent& e : events) model_.Apply(e, at);
    Publish();
  }
  // The first complete link dump: `events`, then the listener's OnInitialSync.
  void InitialDump(const std::vector<LinkEvent>& events, absl::Time at = kT0) {
    absl::MutexLock lock(&mu_);
    for (const LinkEvent& e : events) model_.Apply(e, at);
    Publish();
    if (listener_ != nullptr) listener_->OnInitialSync();
  }
  // Ports Ethernet0, Ethernet4, ... (ifindex 100 + i), up, MTU 9100.
  static std::vector<LinkEvent> Ports(int n) {
    std::vector<LinkEvent> out;
    for (int i = 0; i < n; ++i) out.push_back(NewLink("Ethernet" + std::to_string(4 * i), 100 + i));
    return out;
  }
  uint64_t sequence() const {
    absl::MutexLock lock(&mu_);
    return model_.sequence();
  }

 private:
  void Publish() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::vector<PortChange> changes = model_.TakeChanges();
    if (listener_ != nullptr && !changes.empty())
      listener_->OnPortChanges(model_, std::move(changes));
  }

  mutable absl::Mutex mu_;
  PortModel model_ ABSL_GUARDED_BY(mu_);
  PortChangeListener* listener_ = nullptr;
  mutable int with_model_calls_ = 0;
  std::function<void(int)> after_with_model_;
  EngineCounters counters_;
  EngineStatus status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace portsyncd

#endif  // PORTSYNCD_TESTS_UNIT_FAKE_ENGINE_H_
