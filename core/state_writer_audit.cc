// StateWriter's checks of what STATE_DB holds: the reconcile after a (re)connect, the full
// audit, and the keyspace notifications' checks (see core/state_writer.h; writer thread).
#include <algorithm>
#include <functional>

#include "absl/strings/str_cat.h"
#include "core/logging.h"
#include "core/sonic_tables.h"
#include "core/state_batch.h"
#include "core/state_writer.h"
#include "core/status_macros.h"

namespace portsyncd {
namespace {

// A port the reconcile reads, and its Port::write_epoch when the read was planned.
struct Checked {
  std::string name;
  uint32_t epoch;
};

// Calls judge(i, port, model) for i in [0, count), with the port named name_at(i) (the names
// sorted in the model's order, NaturalLess), or nullptr: `slice` names per hold of the model
// lock, `between` after each hold but the last. The model is walked alongside the names, so no
// name is looked up: at 100,000 ports a lookup each held the engine up for ~150 ms.
template <typename NameAt, typename Judge>
void InModelOrder(SharedModel& shared, size_t slice, const std::function<void()>& between,
                  size_t count, NameAt name_at, Judge judge) {
  for (size_t i = 0; i < count; i += slice) {
    if (i > 0 && between) between();
    absl::MutexLock lock(&shared.mu);
    PortModel& model = shared.model;
    const auto& ports = model.ports();
    auto it = ports.lower_bound(name_at(i));
    for (size_t j = i; j < std::min(count, i + slice); ++j) {
      const std::string& name = name_at(j);
      while (it != ports.end() && NaturalLess(it->first, name)) ++it;
      judge(j, it != ports.end() && it->first == name ? &it->second : nullptr, model);
    }
  }
}

}  // namespace

absl::Status StateWriter::FullAudit() {
  // Expectations left by writes whose notification never came (one made before the
  // subscription) would hide someone else's next write to that key: start afresh.
  if (tracker_ != nullptr) tracker_->Clear();
  return Reconcile(ReconcileMode::kAudit);
}

absl::Status StateWriter::HandleKeyspace(absl::Time now) {
  if (tracker_ == nullptr) return absl::OkStatus();
  WriteTracker::Work work = tracker_->Take();
  if (work.resync) {
    // Just subscribed: whatever happened before was not notified. Check everything once. The
    // polls are made due first, so if the audit fails on an error reply they still run at the
    // next tick.
    last_pending_poll_ = absl::InfinitePast();
    last_logger_poll_ = absl::InfinitePast();
    last_audit_ = now;
    RETURN_IF_ERROR(FullAudit());
    last_pending_poll_ = now;
    RETURN_IF_ERROR(PollPendingApplDb());
    last_logger_poll_ = now;
    RETURN_IF_ERROR(PollLogger());
    return absl::OkStatus();
  }
  if (!work.suspects.empty()) RETURN_IF_ERROR(Reconcile(ReconcileMode::kAudit, &work.suspects));
  if (work.appl) {
    bool awaiting = false;
    {
      absl::MutexLock lock(&shared_.mu);
      awaiting = shared_.model.HasAwaitingApplDb();
    }
    if (awaiting) {
      RETURN_IF_ERROR(PollPendingApplDb());
      last_pending_poll_ = now;
    }
  }
  if (work.logger) RETURN_IF_ERROR(PollLogger());
  return absl::OkStatus();
}

absl::Status StateWriter::Reconcile(ReconcileMode mode, const std::vector<std::string>* only) {
  RedisClient& state = *db_->state;
  const bool rewrite_all = mode == ReconcileMode::kRewriteAll;
  // Keys in STATE_DB PORT_TABLE that look like ours.
  const std::string prefix = state.Key(kPortTable, "");
  std::vector<std::string> keys;
  if (only != nullptr) {
    for (const std::string& name : *only) keys.push_back(prefix + name);
  } else if (state_keys_before_dump_) {
    keys = *std::move(state_keys_before_dump_);  // read while the dump ran
    state_keys_before_dump_.reset();
  } else {
    ASSIGN_OR_RETURN(keys, ScanKeys(state, absl::StrCat(prefix, "*")));
  }

  // Candidates for deletion: a port name whose netdev is gone (or never seen), not an old
  // interface, with no write of ours pending, whose key carries our `state` field. Everything
  // else is left to the model. Judged a slice at a time in the model's order (the engine is held
  // up for one slice at most); each port's write_epoch catches a write between slices.
  std::vector<std::string> names = std::move(keys);
  for (std::string& name : names) name.erase(0, prefix.size());
  std::sort(names.begin(), names.end(), NaturalLess);
  names.erase(std::unique(names.begin(), names.end()), names.end());
  const size_t slice = std::max<size_t>(options_.audit_slice, 1);
  std::vector<Checked> stale_candidates;
  std::vector<Checked> audited;      // ports whose fields we compare (audit only)
  std::vector<std::string> requeue;  // notified keys to look at again after the dump
  InModelOrder(
      shared_, slice, between_slices_, names.size(),
      [&](size_t i) -> const std::string& { return names[i]; },
      [&](size_t i, const Port* known, PortModel& model) {
        const std::string& name = names[i];
        // Ours to judge: a name we follow, one we followed in this run (the selection
        // changed), or one upstream's rule follows (a key of ours from a run with a wider
        // selection).
        if ((known == nullptr && !model.Selects(name) &&
             !PortSelection::Upstream().Selects(name)) ||
            model.IsOldInterfaceName(name)) {
          return;
        }
        // During a re-dump the model's kernel view is being rebuilt; EndDump deletes
        // what is gone from the model, but a notified key of a port the model never knew
        // waits for the dump.
        if (model.dump_in_progress()) {
          if (only != nullptr) requeue.push_back(name);
          return;
        }
        if (known == nullptr) {
          stale_candidates.push_back({name, 0});
        } else if (!known->in_kernel && !known->dirty && !known->in_flight) {
          stale_candidates.push_back({name, known->write_epoch});
        }
      });
  names.clear();
  names.shrink_to_fit();
  if (rewrite_all) {
    absl::MutexLock lock(&shared_.mu);
    shared_.model.ForgetWritten();
  } else if (mode == ReconcileMode::kStaleKeys) {
    // Every port was written (or is dirty) since the start, on this connection.
  } else if (only != nullptr) {
    absl::MutexLock lock(&shared_.mu);
    for (const std::string& name : *only) {
      const Port* port = shared_.model.Find(name);
      if (port == nullptr || !port->wants_state()) continue;
      if (!port->dirty && !port->in_flight) {
        audited.push_back({name, port->write_epoch});
      } else {
        // A write is pending, but it may be skipped as identical to what we last wrote, which
        // someone else has just changed: make sure it is sent.
        shared_.model.MarkDrifted(name);
      }
    }
  } else {
    // Every port we write, a slice of the model at a time.
    std::string after;  // the last port of the previous slice
    for (bool first = true, done = false; !done; first = false) {
      if (!first && between_slices_) between_slices_();
      absl::MutexLock lock(&shared_.mu);
      const auto& ports = shared_.model.ports();
      auto it = first ? ports.begin() : ports.upper_bound(after);
      for (size_t n = 0; it != ports.end() && n < slice; ++it, ++n) {
        const Port& port = it->second;
        if (port.wants_state() && !port.dirty && !port.in_flight) {
          audited.push_back({it->first, port.write_epoch});
        }
      }
      done = it == ports.end();
      if (!done) after = std::prev(it)->first;
    }
  }

  // The verdicts below walk the model in its order too (the full audit's list already is).
  auto by_name = [](const Checked& a, const Checked& b) { return NaturalLess(a.name, b.name); };
  if (!std::is_sorted(audited.begin(), audited.end(), by_name)) {
    std::sort(audited.begin(), audited.end(), by_name);
  }
  if (!requeue.empty() && tracker_ != nullptr) tracker_->AddSuspects(requeue);
  std::vector<RedisArgv> reads;
  reads.reserve(stale_candidates.size() + audited.size());
  for (const Checked& c : stale_candidates) {
    reads.push_back({"HEXISTS", state.Key(kPortTable, c.name), kStateField});
  }
  for (const Checked& c : audited) {
    reads.push_back({"HMGET", state.Key(kPortTable, c.name), "netdev_oper_status", kStateField,
                     "admin_status", "mtu"});
  }
  // Error replies (a key of the wrong type) count as drift: the rewrite reports the error.
  ASSIGN_OR_RETURN(std::vector<RedisReply> replies, state.Pipeline(reads));

  // A port written (or now waiting to be) since its read was planned is left to that write:
  // the read may predate it (Port::write_epoch).
  auto unwritten_since = [](const Checked& c, const Port* port) {
    return port == nullptr || (c.epoch == port->write_epoch && !port->dirty && !port->in_flight);
  };
  std::vector<RedisArgv> deletes;
  std::vector<std::string> deleted_names;
  InModelOrder(
      shared_, slice, between_slices_, stale_candidates.size(),
      [&](size_t i) -> const std::string& { return stale_candidates[i].name; },
      [&](size_t i, const Port* port, PortModel& model) {
        if (replies[i].integer == 1 && unwritten_since(stale_candidates[i], port) &&
            (port == nullptr || !port->in_kernel)) {
          deletes.push_back({"DEL", state.Key(kPortTable, stale_candidates[i].name)});
          deleted_names.push_back(stale_candidates[i].name);
          // Until the DEL is answered, a port of this name (re-created meanwhile) is not written
          // on the engine thread's connection, where its HSET could land before our DEL.
          model.BeginStaleDeletes({stale_candidates[i].name});
        }
      });
  uint64_t drifted = 0;
  InModelOrder(
      shared_, slice, between_slices_, audited.size(),
      [&](size_t i) -> const std::string& { return audited[i].name; },
      [&](size_t i, const Port* port, PortModel& model) {
        const RedisReply& reply = replies[stale_candidates.size() + i];
        if (port == nullptr || !port->wants_state() || !unwritten_since(audited[i], port)) return;
        if (!port->written) {  // an earlier write was refused
          model.MarkDrifted(audited[i].name);
          ++drifted;
          return;
        }
        const StateFields& w = *port->written;
        const bool same = !reply.is_error() && reply.elements.size() == 4 &&
                          reply.elements[0].str == (w.oper_up ? "up" : "down") &&
                          reply.elements[1].str == "ok" &&
                          reply.elements[2].str == (w.admin_up ? "up" : "down") &&
                          reply.elements[3].str == absl::StrCat(w.mtu);
        if (!same) {
          model.MarkDrifted(audited[i].name);
          ++drifted;
        }
      });
  if (!deletes.empty()) {
    // Ours (a DEL of a vanished key is settled below).
    if (tracker_ != nullptr) tracker_->ExpectDeletes(deleted_names);
    absl::StatusOr<std::vector<RedisReply>> pipelined = state.Pipeline(deletes);
    {
      absl::MutexLock lock(&shared_.mu);
      shared_.model.EndStaleDeletes(deleted_names);
      if (shared_.model.HasDirty()) shared_.writer.Wake();  // what they held back
    }
    if (!pipelined.ok()) {
      // Unknown what was applied; the reconnect audits everything.
      if (tracker_ != nullptr) tracker_->Clear();
      return pipelined.status();
    }
    std::vector<RedisReply>& deleted = *pipelined;
    for (size_t i = 0; i < deleted.size() && i < deleted_names.size(); ++i) {
      if (DelNotifiedNothing(deleted[i])) TakeBack(/*del=*/true, deleted_names[i]);
    }
    RETURN_IF_ERROR(CheckReplies(deletes, deleted));
    counters_.state_db_deletes.fetch_add(deletes.size());
  }
  if (mode != ReconcileMode::kAudit) {
    counters_.reconciles.fetch_add(1);
    LOG_INFO("reconcile: ", rewrite_all ? "rewriting every port" : "every port written at start",
             ", ", deletes.size(), " stale keys deleted");
  } else if (drifted + deletes.size() > 0) {
    counters_.drift_repairs.fetch_add(drifted + deletes.size());
    // Notified drift can come at any rate: log it at most once a second.
    if (only == nullptr || drift_log_.Allow()) {
      LOG_WARN(only == nullptr ? "audit" : "keyspace notification",
               ": STATE_DB drifted from what we wrote: ", drifted, " ports repaired, ",
               deletes.size(), " stale keys deleted");
    }
  }
  return Flush();
}

}  // namespace portsyncd
