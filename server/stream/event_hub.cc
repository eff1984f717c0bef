#include "server/stream/event_hub.h"

#include <algorithm>
#include <iterator>
#include <string_view>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/thread_name.h"
#include "server/stream/port_names.h"

namespace portsyncd {

EventHub::EventHub(const ModelReader* model, std::string instance_id, EventHubOptions options)
    : model_(model),
      instance_id_(std::move(instance_id)),
      max_streams_(options.max_streams),
      stream_queue_limit_(options.stream_queue_limit),
      replay_buffer_size_(options.replay_buffer),
      snapshot_slice_(std::max<size_t>(options.snapshot_slice, 1)),
      ring_capacity_(std::max(options.replay_buffer, options.stream_queue_limit)) {
  kicker_ = std::thread([this] {
    SetThreadName("ps-kicker");
    KickerLoop();
  });
}

EventHub::~EventHub() {
  {
    absl::MutexLock lock(&mu_);
    stop_kicker_ = true;
  }
  kicker_.join();
}

void EventHub::set_limits(size_t max_streams, size_t stream_queue_limit) {
  max_streams_.store(max_streams);
  stream_queue_limit_.store(stream_queue_limit);
  absl::MutexLock lock(&mu_);
  ring_capacity_ = std::max(ring_capacity_, stream_queue_limit);
}

size_t EventHub::CountLocked(Api api) const {
  return static_cast<size_t>(std::count_if(streams_.begin(), streams_.end(),
                                           [api](const auto& s) { return s.second == api; }));
}

size_t EventHub::subscribers(Api api) const {
  absl::MutexLock lock(&mu_);
  return CountLocked(api);
}

SharedPortSnapshot EventHub::TakePortSnapshot() {
  {
    absl::MutexLock lock(&mu_);
    if (!synced_) return nullptr;
    if (SharedPortSnapshot cached = shared_ports_.lock();
        cached && cached->sequence == head_sequence_) {
      return cached;
    }
  }
  // Copied in slices of snapshot_slice_ ports, each under the model lock (the hub's lock nests
  // inside it, as in OnPortChanges, so the sequence and the ring agree): the engine waits behind
  // one slice at most, whatever the port count. A port may change between slices, so the last
  // slice copies again every port the ring's records since the first slice name, as the model
  // has it then: the snapshot is the model at the last slice's sequence, exactly. Should the ring
  // no longer hold every record since (a dump or a storm longer than the ring during the copy),
  // or a port have come or gone meanwhile without a record (a configured port loaded after the
  // dump: PortModel::ports_generation moved), the last slice copies the whole model under one
  // hold, as before slices: correct, but not bounded then. Fields that change without a record
  // (`pending`, the STATE_DB bookkeeping) are as of each port's slice.
  auto snapshot = std::make_shared<PortSnapshot>();
  const auto entry = [this](const PortModel& model, const Port& port)
                         ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
                           return PortSnapshot::Entry{port, model.pending().contains(port.name),
                                                      PortIndexLocked(port.name), IsTracked(port)};
                         };
  bool first = true;
  bool done = false;
  uint64_t first_sequence = 0;
  uint64_t first_generation = 0;
  std::string last_copied;
  std::vector<std::string> changed;        // ports changed since the first slice
  std::vector<PortSnapshot::Entry> again;  // those of them still in the model, copied again
  while (!done) {
    model_->WithModel([&](const PortModel& model) {
      absl::MutexLock lock(&mu_);
      const auto& ports = model.ports();
      auto it = ports.begin();
      if (first) {
        first = false;
        first_sequence = model.sequence();
        first_generation = model.ports_generation();
        snapshot->ports.reserve(ports.size());
      } else {
        it = ports.upper_bound(last_copied);
      }
      for (size_t n = 0; it != ports.end() && n < snapshot_slice_; ++it, ++n) {
        snapshot->ports.push_back(entry(model, it->second));
      }
      if (it != ports.end()) {
        last_copied = std::prev(it)->first;
        return;
      }
      done = true;
      snapshot->sequence = model.sequence();
      snapshot->taken = absl::Now();
      const bool same_ports = model.ports_generation() == first_generation;
      if (snapshot->sequence == first_sequence && same_ports) return;
      // A port added or removed without a change record (a configured port loaded after the
      // dump) may have fallen before the slices already copied: copy the whole model again.
      if (evicted_upto_ > first_sequence || head_sequence_ != snapshot->sequence || !same_ports) {
        snapshot->ports.clear();
        for (const auto& [name, port] : ports) snapshot->ports.push_back(entry(model, port));
        return;
      }
      absl::flat_hash_set<std::string_view> seen;
      for (auto r = FirstAfterLocked(first_sequence); r != ring_.end(); ++r) {
        if (!seen.insert((*r)->name()).second) continue;
        changed.push_back((*r)->name());
        if (auto p = ports.find((*r)->name()); p != ports.end()) {
          again.push_back(entry(model, p->second));
        }
      }
    });
  }
  if (!changed.empty()) {
    const absl::flat_hash_set<std::string_view> stale(changed.begin(), changed.end());
    auto& entries = snapshot->ports;
    entries.erase(std::remove_if(entries.begin(), entries.end(),
                                 [&](const auto& e) { return stale.contains(e.port.name); }),
                  entries.end());
    // The slices came in the model's order, which is natural order: merge the copies again in.
    auto natural = [](const auto& a, const auto& b) {
      return NaturalLess(a.port.name, b.port.name);
    };
    std::sort(again.begin(), again.end(), natural);
    const auto middle = static_cast<std::ptrdiff_t>(entries.size());
    std::move(again.begin(), again.end(), std::back_inserter(entries));
    std::inplace_merge(entries.begin(), entries.begin() + middle, entries.end(), natural);
  }
  absl::MutexLock lock(&mu_);
  if (SharedPortSnapshot cached = shared_ports_.lock();
      !cached || cached->sequence < snapshot->sequence) {
    shared_ports_ = snapshot;
  }
  return snapshot;
}

uint32_t EventHub::PortIndexLocked(const std::string& name) {
  auto [it, inserted] = port_index_.try_emplace(name, static_cast<uint32_t>(port_index_.size()));
  return it->second;
}

std::deque<std::shared_ptr<ChangeRecord>>::const_iterator EventHub::FirstAfterLocked(
    uint64_t cursor) const {
  // Sequences in the ring increase: find the first after the cursor.
  return std::upper_bound(ring_.begin(), ring_.end(), cursor,
                          [](uint64_t c, const auto& r) { return c < r->sequence; });
}

EventHub::Gap EventHub::TakeRecords(uint64_t* cursor,
                                    absl::FunctionRef<bool(const ChangeRecord&)> wants, size_t max,
                                    std::vector<SharedRecord>* out, bool replaying,
                                    size_t* queued) {
  absl::MutexLock lock(&mu_);
  if (*cursor >= head_sequence_) return Gap::kNone;
  if (*cursor < evicted_upto_) return Gap::kEvicted;
  auto it = FirstAfterLocked(*cursor);
  const auto after = static_cast<size_t>(ring_.cend() - it);
  if (queued != nullptr) *queued = after;
  if (!replaying && after > stream_queue_limit_.load()) return Gap::kTooFarBehind;
  size_t taken = 0;
  for (; it != ring_.end() && taken < max; ++it) {
    *cursor = (*it)->sequence;
    if (wants(**it)) {
      out->push_back(*it);
      ++taken;
    }
  }
  return Gap::kNone;
}

EventHub::Position EventHub::position() const {
  absl::MutexLock lock(&mu_);
  return Position{head_sequence_, evicted_upto_,
                  ring_.empty() ? head_sequence_ + 1 : ring_.front()->sequence};
}

absl::StatusOr<uint64_t> EventHub::SequenceBefore(absl::Time start) {
  absl::MutexLock lock(&mu_);
  // Every change after the last evicted one is in the ring; with nothing evicted, every change
  // since the hub started.
  const absl::Time available =
      evicted_upto_ == 0 ? created_ : (ring_.empty() ? absl::Now() : ring_.front()->time);
  if (start < available) {
    return absl::OutOfRangeError(absl::StrCat("history from ", absl::FormatTime(start),
                                              " is not in the replay buffer: it holds changes "
                                              "from ",
                                              absl::FormatTime(available),
                                              " (grpc.replay_buffer records)"));
  }
  uint64_t before = evicted_upto_;
  for (const auto& record : ring_) {
    if (record->time >= start) break;
    before = record->sequence;
  }
  return before;
}

void EventHub::OnPortChanges(const PortModel& model, std::vector<PortChange>&& changes) {
  if (changes.empty()) return;
  absl::MutexLock lock(&mu_);
  // A batch larger than the ring (a dump of 100,000 ports) would only have its first records
  // made to be evicted at once: they, and what the ring held, are evicted without being made.
  size_t first = 0;
  if (changes.size() > ring_capacity_) {
    first = changes.size() - ring_capacity_;
    for (size_t i = 0; i < first; ++i) PortIndexLocked(changes[i].name);
    ring_.clear();
    evicted_upto_ = changes[first - 1].sequence;
  }
  for (size_t i = first; i < changes.size(); ++i) {
    PortChange& change = changes[i];
    head_sequence_ = change.sequence;
    auto record = std::make_shared<ChangeRecord>();
    record->outcome = change.outcome;
    record->sequence = change.sequence;
    record->time = change.time;
    record->pending = model.pending().contains(change.name);
    record->port_index = PortIndexLocked(change.name);
    record->port = std::make_shared<const Port>(std::move(change.port));
    // The port's previous record, while some record still holds it, is exactly its state
    // before this change (one recorded change apart): share it rather than keep a second copy.
    if (record->port_index >= last_port_.size()) last_port_.resize(record->port_index + 1);
    std::shared_ptr<const Port> previous = last_port_[record->port_index].lock();
    if (previous != nullptr && previous->changes + 1 == record->port->changes) {
      record->before = std::move(previous);
    } else {
      record->before = std::make_shared<const Port>(std::move(change.before));
    }
    last_port_[record->port_index] = record->port;
    ring_.push_back(std::move(record));
  }
  while (ring_.size() > ring_capacity_) {
    evicted_upto_ = ring_.front()->sequence;
    ring_.pop_front();
  }
  if (!streams_.empty()) kick_ = true;
}

void EventHub::OnInitialSync() {
  absl::MutexLock lock(&mu_);
  synced_ = true;
  if (!streams_.empty()) kick_ = true;
}

bool EventHub::synced() const {
  absl::MutexLock lock(&mu_);
  return synced_;
}

void EventHub::KickerLoop() {
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](EventHub* hub)
               ABSL_NO_THREAD_SAFETY_ANALYSIS { return hub->kick_ || hub->stop_kicker_; },
          this));
      if (stop_kicker_) return;
    }
    KickStreams();
  }
}

void EventHub::KickStreams() {
  // Unregister waits for kick_mu_, so no stream in the copy is deleted while it is used.
  absl::MutexLock kick_lock(&kick_mu_);
  std::vector<std::pair<HubSubscriber*, Api>> streams;
  {
    absl::MutexLock lock(&mu_);
    kick_ = false;
    streams = streams_;
  }
  for (const auto& [stream, api] : streams) stream->Pump();
}

bool EventHub::Register(HubSubscriber* stream, Api api) {
  absl::MutexLock lock(&mu_);
  if (shut_down_ || CountLocked(api) >= max_streams_.load()) return false;
  streams_.emplace_back(stream, api);
  return true;
}

void EventHub::Unregister(HubSubscriber* stream) {
  absl::MutexLock kick_lock(&kick_mu_);
  absl::MutexLock lock(&mu_);
  streams_.erase(std::remove_if(streams_.begin(), streams_.end(),
                                [stream](const auto& s) { return s.first == stream; }),
                 streams_.end());
}

void EventHub::Shutdown() {
  absl::MutexLock lock(&mu_);
  shut_down_ = true;
  for (const auto& [stream, api] : streams_) {
    stream->Stop(grpc::Status(grpc::StatusCode::UNAVAILABLE, "portsyncd is shutting down"));
  }
}

}  // namespace portsyncd
