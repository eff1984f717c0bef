#include "server/gnmi/gnmi_subscription.h"

#include <algorithm>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "core/logging.h"
#include "server/gnmi/gnmi_paths.h"
#include "server/grpc/grpc_status.h"
#include "server/stream/wire_bytes.h"

namespace portsyncd {
namespace {

// A response as the bytes gRPC writes (server/stream/wire_bytes.h).
using SharedResponse = SharedBytes;

int64_t Nanos(absl::Time t) { return absl::ToUnixNanos(t); }

// The time a port's current values date from: its last change, or when we learned them.
int64_t ValueTime(const Port& port, absl::Time fallback) {
  return Nanos(port.last_change == absl::InfinitePast() ? fallback : port.last_change);
}

SharedResponse SyncResponse() {
  static const auto* sync = [] {
    gnmi::SubscribeResponse r;
    r.set_sync_response(true);
    return new SharedResponse(SerializeShared(r));
  }();
  return *sync;
}

// A small number per distinct format (encoding, origin, target), the same for every stream that
// asks for it: with the selected leaves it keys the encodings cached in records and snapshots.
uint32_t FormatId(const OcFormat& format) {
  static absl::Mutex mu;
  static auto* ids = new absl::flat_hash_map<std::string, uint32_t>();
  const std::string key = absl::StrCat(static_cast<int>(format.encoding), "/", format.origin.size(),
                                       ":", format.origin, "/", format.target);
  absl::MutexLock lock(&mu);
  return ids->try_emplace(key, static_cast<uint32_t>(ids->size())).first->second;
}

// The leaves a change changed: every leaf for a port new to the client's view (its first
// change here, or back after a removal), else those whose values differ from the port's
// previous change. Derived from the record once, by the first gNMI stream that asks.
uint32_t ChangedLeavesOf(const ChangeRecord& r) {
  uint64_t derived = r.derived.load(std::memory_order_acquire);
  if (derived == ChangeRecord::kNotDerived) {
    derived = r.outcome == ApplyOutcome::kAdded || r.before == nullptr || !r.before->in_kernel
                  ? kAllLeaves
                  : ChangedLeaves(OcLeavesOf(*r.before), OcLeavesOf(*r.port));
    r.derived.store(derived, std::memory_order_release);
  }
  return static_cast<uint32_t>(derived);
}

// One subscription of a SubscriptionList, resolved.
struct Sub {
  OcSelector selector;
  bool on_change = true;    // ON_CHANGE or TARGET_DEFINED; else SAMPLE
  absl::Duration interval;  // SAMPLE period or ON_CHANGE heartbeat; zero: none
  bool suppress_redundant = false;
  TimerQueue::Id timer = 0;
  absl::Time next;  // the next tick's deadline
  // SAMPLE with suppress_redundant: what this subscription last sent, per port index.
  absl::flat_hash_map<uint32_t, OcLeaves> last_sent;
};

// See the header. Next() runs only as the pump's busy owner, one call at a time: the cursor, the
// per-port bookkeeping and the initial fill are its own; what requests and timers share with it
// is under mu_.
class GnmiSubscriptionImpl : public GnmiSubscription {
 public:
  GnmiSubscriptionImpl(EventHub* hub, TimerQueue* timers, const Clock& clock,
                       const GnmiOptions& options, std::function<void()> kick)
      : hub_(hub), timers_(timers), clock_(clock), options_(options), kick_(std::move(kick)) {}
  ~GnmiSubscriptionImpl() override { StopTimers(); }

  absl::Status OnRequest(const gnmi::SubscribeRequest& request) override {
    request_ = request;
    const bool first = !first_request_done_;
    first_request_done_ = true;
    return first ? Start() : OnLaterRequest();
  }

  void StopTimers() override {
    std::vector<TimerQueue::Id> timers;
    {
      absl::MutexLock lock(&mu_);
      if (stopped_timers_) return;
      stopped_timers_ = true;
      for (const Sub& sub : subs_) timers.push_back(sub.timer);
      timers.push_back(history_end_timer_);
    }
    for (TimerQueue::Id id : timers) {
      if (id != 0) timers_->Cancel(id);
    }
  }

 private:
  // --- The request ---------------------------------------------------------------------------

  absl::Status Start() {
    if (!request_.has_subscribe()) {
      return absl::InvalidArgumentError(
          "the first SubscribeRequest must hold a SubscriptionList (subscribe)");
    }
    const gnmi::SubscriptionList& list = request_.subscribe();
    if (absl::Status s = CheckEncoding(list.encoding()); !s.ok()) return s;
    if (list.subscription_size() == 0) {
      return absl::InvalidArgumentError("the SubscriptionList has no subscription");
    }
    mode_ = list.mode();
    format_ = OcFormat{list.encoding(), list.prefix().origin(), list.prefix().target()};
    format_id_ = FormatId(format_);
    updates_only_ = list.updates_only();
    for (const gnmi_ext::Extension& ext : request_.extension()) {
      if (!ext.has_history()) continue;
      if (ext.history().has_snapshot_time()) {
        return absl::UnimplementedError(
            "History snapshot_time is not served; a range replays the changes in it");
      }
      if (!ext.history().has_range()) continue;
      if (mode_ != gnmi::SubscriptionList::STREAM) {
        return absl::InvalidArgumentError("a History range needs mode STREAM");
      }
      history_ = true;
      history_start_ = absl::FromUnixNanos(ext.history().range().start());
      history_end_ = ext.history().range().end() == 0
                         ? absl::InfiniteFuture()
                         : absl::FromUnixNanos(ext.history().range().end());
      if (history_end_ <= history_start_) {
        return absl::InvalidArgumentError("the History range's end is not after its start");
      }
    }
    for (const gnmi::Subscription& s : list.subscription()) {
      absl::StatusOr<OcSelector> selector = ParseOcPath(list.prefix(), s.path());
      if (!selector.ok()) return selector.status();
      Sub sub;
      sub.selector = *std::move(selector);
      sub.suppress_redundant = s.suppress_redundant();
      if (mode_ == gnmi::SubscriptionList::STREAM) {
        sub.on_change = s.mode() != gnmi::SAMPLE;
        const uint64_t ns = sub.on_change ? s.heartbeat_interval() : s.sample_interval();
        if (!sub.on_change || ns > 0) {
          absl::Duration interval = absl::Nanoseconds(ns);
          if (!sub.on_change && ns == 0) interval = options_.min_interval;
          if (interval < options_.min_interval) {
            return absl::InvalidArgumentError(absl::StrCat(
                sub.on_change ? "heartbeat_interval " : "sample_interval ", ns,
                " ns is shorter than the shortest portsyncd serves, ",
                absl::ToInt64Nanoseconds(options_.min_interval), " ns (",
                absl::FormatDuration(options_.min_interval), "); 0 asks for that one"));
          }
          sub.interval = interval;
        }
      }
      subs_.push_back(std::move(sub));
    }
    if (history_ &&
        std::any_of(subs_.begin(), subs_.end(), [](const Sub& s) { return !s.on_change; })) {
      return absl::InvalidArgumentError("a History range replays changes: use ON_CHANGE");
    }
    absl::MutexLock lock(&mu_);
    started_ = true;
    needs_initial_ = true;
    return absl::OkStatus();
  }

  absl::Status OnLaterRequest() {
    if (request_.has_poll()) {
      if (mode_ != gnmi::SubscriptionList::POLL) {
        return absl::InvalidArgumentError("Poll on a subscription whose mode is not POLL");
      }
      SharedPortSnapshot snapshot = hub_->TakePortSnapshot();
      if (snapshot == nullptr) {  // the initial fill answers it
        return absl::OkStatus();
      }
      std::deque<SharedResponse> values = Values(*snapshot, AllSubs(), clock_.Now(), false);
      absl::MutexLock lock(&mu_);
      for (SharedResponse& r : values) queue_.push_back(std::move(r));
      queue_.push_back(SyncResponse());
      return absl::OkStatus();
    }
    return absl::InvalidArgumentError(
        "after the SubscriptionList a stream accepts only Poll requests (mode POLL)");
  }

  // --- What to send ------------------------------------------------------------------------

  // The pump's source: what to write now (see the class comment).
  Outgoing Next() override {
    Outgoing out;
    bool initial;
    {
      absl::MutexLock lock(&mu_);
      if (!started_) return out;
      initial = needs_initial_;
    }
    if (initial) {
      if (!hub_->synced()) return out;  // the hub kicks every stream once it is
      absl::Status s = InitialFill();
      absl::MutexLock lock(&mu_);
      needs_initial_ = false;
      if (!s.ok()) {
        out.finish = ToGrpc(s);
        return out;
      }
    }
    TakeQueued(&out.messages);
    if (live_ && out.messages.size() < kMaxResponsesPerBatch) {
      if (absl::Status s = TakeLive(&out.messages); !s.ok()) {
        out.finish = ToGrpc(s);
        return out;
      }
    }
    absl::MutexLock lock(&mu_);
    if (finish_when_drained_ && queue_.empty()) out.finish = grpc::Status::OK;
    return out;
  }

  // Moves queued responses to `out`, up to the batch limit.
  void TakeQueued(std::vector<SharedResponse>* out) {
    absl::MutexLock lock(&mu_);
    while (!queue_.empty() && out->size() < kMaxResponsesPerBatch) {
      out->push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
  }

  std::vector<const Sub*> AllSubs() const {
    std::vector<const Sub*> all;
    for (const Sub& s : subs_) all.push_back(&s);
    return all;
  }

  // The leaves of `name` that `subs` select.
  static uint32_t LeavesOf(const std::vector<const Sub*>& subs, absl::string_view name) {
    uint32_t leaves = 0;
    for (const Sub* s : subs) {
      if (s->selector.Matches(name)) leaves |= s->selector.leaves;
    }
    return leaves;
  }
  uint32_t OnChangeLeaves(absl::string_view name) const {
    uint32_t leaves = 0;
    for (const Sub& s : subs_) {
      if (s.on_change && s.selector.Matches(name)) leaves |= s.selector.leaves;
    }
    return leaves;
  }

  // One notification per port in the kernel that `subs` select, with every selected leaf.
  // `sample`: stamped `now` (a sample or heartbeat); else with the values' own time.
  std::deque<SharedResponse> Values(const PortSnapshot& snapshot,
                                    const std::vector<const Sub*>& subs, absl::Time now,
                                    bool sample) const {
    if (!sample && std::all_of(subs.begin(), subs.end(),
                               [](const Sub* s) { return s->selector.port.empty(); })) {
      // Every port gets the same leaves (the usual subscription, e.g. /interfaces): the
      // notifications are the same for every stream with this format, built once per snapshot.
      uint32_t leaves = 0;
      for (const Sub* s : subs) leaves |= s->selector.leaves;
      const uint64_t key = uint64_t{format_id_} << 32 | leaves;
      return *snapshot.encoded.Get<std::deque<SharedResponse>>(key, [&] {
        auto built = std::make_shared<std::deque<SharedResponse>>();
        for (const PortSnapshot::Entry& entry : snapshot.ports) {
          if (!entry.port.in_kernel) continue;
          built->push_back(EncodeUpdateResponse(OcLeavesOf(entry.port), leaves,
                                                ValueTime(entry.port, snapshot.taken), format_, 0));
        }
        return std::shared_ptr<const std::deque<SharedResponse>>(std::move(built));
      });
    }
    std::deque<SharedResponse> out;
    for (const PortSnapshot::Entry& entry : snapshot.ports) {
      if (!entry.port.in_kernel) continue;
      const uint32_t leaves = LeavesOf(subs, entry.port.name);
      if (leaves == 0) continue;
      out.push_back(EncodeUpdateResponse(
          OcLeavesOf(entry.port), leaves,
          sample ? Nanos(now) : ValueTime(entry.port, snapshot.taken), format_, 0));
    }
    return out;
  }

  // The first fill, once the hub knows the kernel: the current values and sync_response (not
  // for updates_only, or a History replay, which starts from the ring), and the timers.
  absl::Status InitialFill() {
    const absl::Time now = clock_.Now();
    std::deque<SharedResponse> fill;
    if (history_) {
      absl::StatusOr<uint64_t> before = hub_->SequenceBefore(history_start_);
      if (!before.ok()) return before.status();
      cursor_ = *before;
      live_ = true;
    } else {
      SharedPortSnapshot snapshot = hub_->TakePortSnapshot();
      cursor_ = snapshot->sequence;
      for (const PortSnapshot::Entry& entry : snapshot->ports) {
        if (OnChangeLeaves(entry.port.name) == 0) continue;
        Seen(entry.index) = {static_cast<uint32_t>(entry.port.changes), entry.port.in_kernel};
      }
      if (mode_ != gnmi::SubscriptionList::STREAM || !updates_only_) {
        fill = Values(*snapshot, AllSubs(), now, false);
      }
      fill.push_back(SyncResponse());
      sync_sent_ = true;
      live_ = mode_ == gnmi::SubscriptionList::STREAM;
    }
    absl::MutexLock lock(&mu_);
    for (SharedResponse& r : fill) queue_.push_back(std::move(r));
    if (mode_ == gnmi::SubscriptionList::ONCE) finish_when_drained_ = true;
    if (stopped_timers_) return absl::OkStatus();
    for (size_t i = 0; i < subs_.size(); ++i) {
      if (subs_[i].interval <= absl::ZeroDuration()) continue;
      subs_[i].next = now + subs_[i].interval;
      subs_[i].timer = timers_->ScheduleRepeating(subs_[i].next, [this, i] { return OnTick(i); });
    }
    if (history_ && history_end_ != absl::InfiniteFuture()) {
      history_end_timer_ = timers_->Schedule(history_end_, [this] { OnHistoryEnd(); });
    }
    return absl::OkStatus();
  }

  // A SAMPLE interval or an ON_CHANGE heartbeat of subscription `i` fell due. Returns when the
  // next one is (the timer keeps its id, so OnDone's Cancel waits for a tick that runs).
  absl::Time OnTick(size_t i) {
    SharedPortSnapshot snapshot = hub_->TakePortSnapshot();
    const absl::Time now = clock_.Now();
    absl::Time next;
    {
      absl::MutexLock lock(&mu_);
      if (stopped_timers_) return absl::InfiniteFuture();
      Sub& sub = subs_[i];
      // A reader that is not keeping up skips samples (they are values, not transitions: the
      // next sample carries the latest) rather than growing its queue.
      if (snapshot != nullptr && queue_.size() < hub_->stream_queue_limit()) {
        for (const PortSnapshot::Entry& entry : snapshot->ports) {
          if (!entry.port.in_kernel || !sub.selector.Matches(entry.port.name)) continue;
          const OcLeaves leaves = OcLeavesOf(entry.port);
          uint32_t selected = sub.selector.leaves;
          if (!sub.on_change && sub.suppress_redundant) {
            auto [it, inserted] = sub.last_sent.try_emplace(entry.index, leaves);
            if (!inserted) selected &= ChangedLeaves(it->second, leaves);
            it->second = leaves;
            if (selected == 0) continue;
          }
          queue_.push_back(EncodeUpdateResponse(leaves, selected, Nanos(now), format_, 0));
        }
      }
      // The next tick on the original schedule (no drift), skipping ticks already missed.
      do {
        sub.next += sub.interval;
      } while (sub.next <= now);
      next = sub.next;
    }
    kick_();
    return next;
  }

  void OnHistoryEnd() {
    {
      absl::MutexLock lock(&mu_);
      if (stopped_timers_) return;
      history_ended_ = true;
    }
    kick_();
  }

  struct SeenPort {
    uint32_t changes = 0;  // Port::changes as of what the client has seen
    bool present = false;  // the client holds the port (not deleted)
  };
  SeenPort& Seen(uint32_t index) {
    if (index >= seen_.size()) seen_.resize(index + 1);
    return seen_[index];
  }

  // Live changes for this stream from the hub's ring, appended to `out` up to the batch limit
  // (one pass over the ring, under one hub lock), or a coalesced catch-up when it fell behind.
  // Runs as the busy owner. An error ends the stream.
  absl::Status TakeLive(std::vector<SharedResponse>* out) {
    bool history_ended;
    {
      absl::MutexLock lock(&mu_);
      history_ended = history_ended_;
    }
    const size_t room = kMaxResponsesPerBatch - out->size();
    std::vector<SharedRecord> records;
    std::vector<uint32_t> leaves_of;  // each taken record's leaves (0: a delete)
    bool past_end = false;            // a record at or past the History range's end was reached
    const EventHub::Gap gap = hub_->TakeRecords(
        &cursor_,
        [&](const ChangeRecord& r) {
          if (past_end) return false;  // the replay ends there
          if (history_ && r.time >= history_end_) {
            past_end = true;
            return false;
          }
          uint32_t leaves = OnChangeLeaves(r.name());
          if (leaves == 0) return false;
          SeenPort& seen = Seen(r.port_index);
          if (r.removed()) {
            // A replay tells every removal in its range; a live stream, those of ports its
            // client holds.
            const bool deliver = seen.present || history_;
            seen = {static_cast<uint32_t>(r.port->changes), false};
            if (deliver) leaves_of.push_back(0);
            return deliver;
          }
          leaves &= seen.present ? ChangedLeavesOf(r) : kAllLeaves;
          seen = {static_cast<uint32_t>(r.port->changes), true};
          if (leaves != 0) leaves_of.push_back(leaves);
          return leaves != 0;
        },
        room, &records, /*replaying=*/history_ && !sync_sent_);
    if (gap != EventHub::Gap::kNone) {
      if (history_) {
        return absl::ResourceExhaustedError("the History replay fell behind the replay buffer");
      }
      Coalesce();
      TakeQueued(out);
      return absl::OkStatus();
    }
    for (size_t i = 0; i < records.size(); ++i) out->push_back(Encoded(*records[i], leaves_of[i]));
    const bool caught_up = records.size() < room;  // the ring held no more for this stream
    if (past_end || (caught_up && history_ && history_ended)) {
      live_ = false;
      {
        absl::MutexLock lock(&mu_);
        if (!sync_sent_) queue_.push_back(SyncResponse());
        sync_sent_ = true;
        finish_when_drained_ = true;
      }
      TakeQueued(out);
    } else if (caught_up && history_ && !sync_sent_) {  // the replay caught up: live from here
      sync_sent_ = true;
      out->push_back(SyncResponse());
    }
    return absl::OkStatus();
  }

  // The notification that `name`'s netdev is gone, in this stream's format.
  SharedResponse EncodedDelete(const std::string& name, int64_t time) const {
    gnmi::SubscribeResponse response;
    BuildDelete(name, time, format_, response.mutable_update());
    return SerializeShared(response);
  }

  // The record's notification for this stream's format and `leaves` (0: a delete), built once
  // per distinct format and shared by every stream that wants the same bytes.
  SharedResponse Encoded(const ChangeRecord& record, uint32_t leaves) const {
    const uint64_t key = uint64_t{format_id_} << 32 | leaves;
    return record.encoded.Get<grpc::ByteBuffer>(key, [&] {
      const int64_t time = Nanos(record.time);
      if (leaves != 0) {
        return EncodeUpdateResponse(OcLeavesOf(*record.port), leaves, time, format_, 0);
      }
      return EncodedDelete(record.name(), time);
    });
  }

  // Fell behind: the latest value of every port whose changes it missed, each update saying
  // how many changes it folds (Update.duplicates), and deletes of ports gone meanwhile; then
  // live again from the snapshot's sequence. Queued.
  void Coalesce() {
    SharedPortSnapshot snapshot = hub_->TakePortSnapshot();
    cursor_ = snapshot->sequence;
    std::deque<SharedResponse> out;
    uint64_t folded = 0;
    for (const PortSnapshot::Entry& entry : snapshot->ports) {
      const uint32_t leaves = OnChangeLeaves(entry.port.name);
      if (leaves == 0) continue;
      SeenPort& seen = Seen(entry.index);
      const auto changes = static_cast<uint32_t>(entry.port.changes);
      if (entry.port.in_kernel) {
        if (seen.present && seen.changes == changes) continue;
        const uint32_t duplicates =
            seen.present && changes > seen.changes + 1 ? changes - seen.changes - 1 : 0;
        folded += duplicates;
        out.push_back(EncodeUpdateResponse(OcLeavesOf(entry.port), leaves,
                                           ValueTime(entry.port, snapshot->taken), format_,
                                           duplicates));
      } else {
        if (!seen.present) continue;
        out.push_back(EncodedDelete(entry.port.name, ValueTime(entry.port, snapshot->taken)));
      }
      seen = {changes, entry.port.in_kernel};
    }
    PSLOG_RATE_LIMITED(LogLevel::kNotice, "gNMI subscriber fell behind: sent the latest value of ",
                       out.size(), " ports, folding ", folded, " changes (Update.duplicates)");
    absl::MutexLock lock(&mu_);
    for (SharedResponse& r : out) queue_.push_back(std::move(r));
  }

  // Responses per turn of the pump: a batch of notifications stays far below gRPC's 4 MiB message
  // limit (each is its own message), and a large initial fill goes out in pieces.
  static constexpr size_t kMaxResponsesPerBatch = 1024;

  EventHub* const hub_;
  TimerQueue* const timers_;
  const Clock& clock_;
  const GnmiOptions options_;
  const std::function<void()> kick_;
  gnmi::SubscribeRequest request_;

  // Set by Start (before `started_`), then read-only.
  gnmi::SubscriptionList::Mode mode_ = gnmi::SubscriptionList::STREAM;
  OcFormat format_;
  uint32_t format_id_ = 0;
  bool updates_only_ = false;
  bool history_ = false;
  absl::Time history_start_, history_end_;
  bool first_request_done_ = false;  // OnRequest's own (requests never overlap)

  // The busy owner's.
  uint64_t cursor_ = 0;
  bool live_ = false;
  std::vector<SeenPort> seen_;

  absl::Mutex mu_;
  std::vector<Sub> subs_;  // timers and last_sent under mu_; the rest read-only after Start
  std::deque<SharedResponse> queue_ ABSL_GUARDED_BY(mu_);
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool needs_initial_ ABSL_GUARDED_BY(mu_) = false;
  bool sync_sent_ = false;  // the busy owner's, and under mu_ where both meet
  bool finish_when_drained_ ABSL_GUARDED_BY(mu_) = false;
  bool history_ended_ ABSL_GUARDED_BY(mu_) = false;
  TimerQueue::Id history_end_timer_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopped_timers_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

std::unique_ptr<GnmiSubscription> GnmiSubscription::Create(EventHub* hub, TimerQueue* timers,
                                                           const Clock& clock,
                                                           const GnmiOptions& options,
                                                           std::function<void()> kick) {
  return std::make_unique<GnmiSubscriptionImpl>(hub, timers, clock, options, std::move(kick));
}

}  // namespace portsyncd
