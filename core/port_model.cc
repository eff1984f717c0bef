#include "core/port_model.h"

#include <linux/if.h>

#include "absl/strings/match.h"

namespace portsyncd {

StateFields Port::fields() const {
  return StateFields{(flags & IFF_UP) != 0, (flags & IFF_RUNNING) != 0, mtu};
}

absl::string_view ApplyOutcomeName(ApplyOutcome outcome) {
  switch (outcome) {
    case ApplyOutcome::kIgnoredName:
      return "ignored_name";
    case ApplyOutcome::kIgnoredTeam:
      return "ignored_team";
    case ApplyOutcome::kIgnoredDelWithMaster:
      return "ignored_dellink_with_master";
    case ApplyOutcome::kIgnoredOldInterface:
      return "ignored_old_interface";
    case ApplyOutcome::kAdded:
      return "added";
    case ApplyOutcome::kChanged:
      return "changed";
    case ApplyOutcome::kUnchanged:
      return "unchanged";
    case ApplyOutcome::kRemoved:
      return "removed";
  }
  return "unknown";
}

Port& PortModel::GetOrCreate(const std::string& name, bool unrecorded) {
  auto [it, inserted] = ports_.try_emplace(name);
  if (inserted) {
    if (unrecorded) ++ports_generation_;
    it->second.name = name;
  }
  return it->second;
}

void PortModel::MarkDirty(Port& port, absl::Time since) {
  if (!state_db_) return;  // nothing is written anywhere
  if (port.dirty) {
    ++merged_writes_;
  } else {
    port.dirty_since = since;
    if (Blocked(port)) ++in_flight_dirty_;
  }
  port.dirty = true;
  dirty_.emplace(port.name, &port);
}

void PortModel::MarkGone(Port& port, absl::Time now) {
  Port before = port;
  if (port.in_kernel) {
    auto it = port_by_ifindex_.find(port.ifindex);
    if (it != port_by_ifindex_.end() && it->second == &port) port_by_ifindex_.erase(it);
  }
  port.in_kernel = false;
  awaiting_appl_db_.erase(port.name);
  port.delete_first = true;
  port.last_change = now;
  RecordChange(port, ApplyOutcome::kRemoved, now, std::move(before));
}

void PortModel::RecordChange(Port& port, ApplyOutcome outcome, absl::Time now, Port&& before) {
  ++port.changes;
  changes_.push_back(PortChange{port.name, outcome, ++sequence_, now, port, std::move(before)});
}

ApplyOutcome PortModel::Apply(const LinkEvent& event, absl::Time now, Source source) {
  if (dump_in_progress_) {
    if (source == Source::kLive) {
      live_names_in_dump_.insert(event.name);
      live_ifindexes_in_dump_.insert(event.ifindex);
    } else if (live_names_in_dump_.contains(event.name) ||
               live_ifindexes_in_dump_.contains(event.ifindex)) {
      return ApplyOutcome::kUnchanged;  // the live message was as new (and marked it seen)
    }
  }
  if (event.type == LinkEvent::Type::kNewLink) {
    // A NEWLINK for an ifindex we know under another name: the netdev was renamed (the kernel
    // sends no DELLINK for the old name). The old name is gone as if deleted; the new name is
    // judged below like any other (it may not be a port name at all).
    if (auto it = port_by_ifindex_.find(event.ifindex);
        it != port_by_ifindex_.end() && it->second->name != event.name) {
      Port& renamed = *it->second;  // `it` goes with MarkGone
      const std::string old_name = renamed.name;
      renamed.seen_in_dump = false;
      MarkGone(renamed, now);
      MarkDirty(renamed, now);
      ++renames_;
      ForgetIfHostMode(old_name);
    }
  }
  if (!selection_.Selects(event.name)) return ApplyOutcome::kIgnoredName;
  // teamsyncd owns team links on a SONiC switch; on a host they are links like any other.
  if (state_db_ && event.kind == "team") return ApplyOutcome::kIgnoredTeam;
  const bool is_del = event.type == LinkEvent::Type::kDelLink;
  if (is_del && event.master != 0) return ApplyOutcome::kIgnoredDelWithMaster;
  if (old_ifindexes_.contains(event.ifindex)) return ApplyOutcome::kIgnoredOldInterface;

  // A netdev we know (most messages): found by its ifindex, without a lookup by name.
  auto indexed = port_by_ifindex_.find(event.ifindex);
  Port& port = indexed != port_by_ifindex_.end() && indexed->second->name == event.name
                   ? *indexed->second
                   : GetOrCreate(event.name);
  if (is_del) {
    port.seen_in_dump = false;
    // Upstream deletes the STATE_DB key on every such DELLINK, whether or not it wrote it.
    MarkGone(port, now);
    MarkDirty(port, now);
    ForgetIfHostMode(event.name);
    return ApplyOutcome::kRemoved;
  }

  if (dump_in_progress_) port.seen_in_dump = true;
  const bool added = !port.in_kernel || port.ifindex != event.ifindex;
  const StateFields before = port.fields();
  const bool was_in_kernel = port.in_kernel;
  const uint32_t new_mtu = event.has_mtu ? event.mtu : port.mtu;
  const bool carrier_changed =
      event.has_carrier_counts && (port.carrier_changes != event.carrier_changes ||
                                   port.carrier_up_count != event.carrier_up_count ||
                                   port.carrier_down_count != event.carrier_down_count);
  const bool changed = added || port.flags != event.flags || port.mtu != new_mtu ||
                       port.master != event.master || port.mac != event.mac ||
                       port.operstate != event.operstate || carrier_changed;
  // The port before this message, for the change record (only when there is one).
  std::optional<Port> port_before;
  if (changed) port_before.emplace(port);
  if (port.in_kernel && port.ifindex != event.ifindex) {
    // A new netdev under this name without a DELLINK for the old one (lost in an overflow).
    auto it = port_by_ifindex_.find(port.ifindex);
    if (it != port_by_ifindex_.end() && it->second == &port) port_by_ifindex_.erase(it);
  }
  port.in_kernel = true;
  port.ifindex = event.ifindex;
  port_by_ifindex_[event.ifindex] = &port;
  port.flags = event.flags;
  port.mtu = new_mtu;
  port.master = event.master;
  port.operstate = event.operstate;
  if (!event.mac.empty()) port.mac = event.mac;
  if (event.has_carrier_counts) {
    port.carrier_changes = event.carrier_changes;
    port.carrier_up_count = event.carrier_up_count;
    port.carrier_down_count = event.carrier_down_count;
  }
  if (was_in_kernel && before.oper_up && !port.fields().oper_up) ++port.oper_flaps;
  if (added) port.netdev_since = now;
  if (added || before.oper_up != port.fields().oper_up) port.oper_last_change = now;

  if (state_db_ && !port.in_appl_db && added) {
    awaiting_appl_db_.insert(port.name);
    newly_awaiting_ = true;
  }
  if (port.in_appl_db) {
    pending_.erase(port.name);
    // Upstream writes STATE_DB on every NEWLINK of a known port; we write when what STATE_DB
    // holds differs (TakeDirty compares), so mark dirty every time and let it decide.
    MarkDirty(port, now);
  }
  if (!changed) return ApplyOutcome::kUnchanged;
  port.last_change = now;
  const ApplyOutcome outcome = added ? ApplyOutcome::kAdded : ApplyOutcome::kChanged;
  RecordChange(port, outcome, now, std::move(*port_before));
  return outcome;
}

void PortModel::AddConfigPort(const std::string& name) {
  if (!selection_.Selects(name)) return;
  Port& port = GetOrCreate(name, /*unrecorded=*/true);
  port.in_config_db = true;
  pending_.insert(name);
}

void PortModel::RemoveFromPending(const std::string& name) { pending_.erase(name); }

void PortModel::AddOldInterface(int32_t ifindex, const std::string& name) {
  old_ifindexes_.insert(ifindex);
  old_names_.insert(name);
}

bool PortModel::IsOldInterfaceName(absl::string_view name) const {
  return old_names_.contains(name);
}

bool PortModel::SetInApplDb(const std::string& name, absl::Time now) {
  if (!selection_.Selects(name)) return false;
  // A new port here has no netdev, so no change record.
  Port& port = GetOrCreate(name, /*unrecorded=*/true);
  if (port.in_appl_db) return false;
  std::optional<Port> before;  // for the change record, when there is one
  if (port.in_kernel) before.emplace(port);
  port.in_appl_db = true;
  awaiting_appl_db_.erase(name);
  if (!port.in_kernel) return false;
  RecordChange(port, ApplyOutcome::kChanged, now, std::move(*before));
  // The netdev was seen before APPL_DB knew the port: publish the remembered state now.
  pending_.erase(name);
  MarkDirty(port, now);
  return true;
}

void PortModel::ForgetIfHostMode(const std::string& name) {
  if (!state_db_) ports_.erase(name);  // after MarkGone's change record
}

std::vector<std::string> PortModel::SetSelection(PortSelection selection, absl::Time now) {
  selection_ = std::move(selection);
  std::vector<std::string> removed;
  for (auto it = ports_.begin(); it != ports_.end();) {
    const std::string& name = it->first;
    Port& port = it->second;
    if (selection_.Selects(name)) {
      ++it;
      continue;
    }
    // Ours to delete: a key we write (or wrote, or were about to), or a DEL already due. A key
    // of someone else's alone (orchagent's fields before the netdev) is left as it is.
    const bool ours = port.wants_state() || port.written.has_value() || port.delete_first;
    if (port.in_kernel) {
      port.seen_in_dump = false;
      MarkGone(port, now);
      removed.push_back(name);
    } else if (port.in_config_db || port.in_appl_db) {
      // Shown without a netdev (configured, or in APPL_DB) until now: the streams see it go.
      Port before = port;
      port.in_config_db = port.in_appl_db = false;
      port.last_change = now;
      RecordChange(port, ApplyOutcome::kRemoved, now, std::move(before));
      removed.push_back(name);
    }
    port.delete_first = ours;
    if (ours) MarkDirty(port, now);
    port.in_appl_db = false;
    port.in_config_db = false;
    pending_.erase(name);
    awaiting_appl_db_.erase(name);
    // Nothing left to do for it: forgotten (a port with a write to make stays until it is made,
    // then shows nowhere: in no table and not in the kernel).
    if (port.dirty || port.in_flight) {
      it = std::next(it);
    } else {
      // Removed without a record only when nothing listed it (no netdev, no table).
      if (removed.empty() || removed.back() != name) ++ports_generation_;
      it = ports_.erase(it);
    }
  }
  return removed;
}

void PortModel::BeginDump() {
  dump_in_progress_ = true;  // every Port::seen_in_dump is false (EndDump cleared them)
  live_names_in_dump_.clear();
  live_ifindexes_in_dump_.clear();
}

std::vector<std::string> PortModel::EndDump(absl::Time now, bool complete, bool rewrite) {
  dump_in_progress_ = false;
  live_names_in_dump_.clear();
  live_ifindexes_in_dump_.clear();
  std::vector<std::string> removed;
  if (!complete) {
    for (auto& [name, port] : ports_) port.seen_in_dump = false;
    return removed;
  }
  for (auto it = ports_.begin(); it != ports_.end();) {
    Port& port = it->second;
    const bool seen = std::exchange(port.seen_in_dump, false);
    if (port.in_kernel && !seen) {
      // Its DELLINK was among the lost messages.
      MarkGone(port, now);
      removed.push_back(it->first);
      if (!state_db_) {
        it = ports_.erase(it);  // after MarkGone's change record
        continue;
      }
    }
    ++it;
  }
  if (rewrite) ForgetWritten();
  return removed;
}

std::vector<StateWrite> PortModel::TakeDirty() {
  std::vector<StateWrite> writes;
  writes.reserve(dirty_.size());
  DirtyPorts still_dirty;  // ports whose earlier write is in flight
  for (auto& [name, dirty] : dirty_) {
    Port& port = *dirty;
    if (Blocked(port)) {
      still_dirty.emplace(name, dirty);
      continue;
    }
    port.dirty = false;
    StateWrite write;
    write.name = name;
    write.del = port.delete_first;
    write.since = port.dirty_since;
    if (port.wants_state()) {
      const StateFields fields = port.fields();
      if (write.del || !port.written || *port.written != fields) write.set = fields;
    }
    port.delete_first = false;
    if (write.del || write.set) {
      port.in_flight = true;
      ++port.write_epoch;
      writes.push_back(std::move(write));
    } else {
      ++merged_writes_;  // identical to what STATE_DB holds
    }
  }
  dirty_ = std::move(still_dirty);
  in_flight_dirty_ = dirty_.size();
  return writes;
}

void PortModel::CompleteWrite(const StateWrite& write, bool ok) {
  auto it = ports_.find(write.name);
  if (it == ports_.end()) return;
  Port& port = it->second;
  const bool was_blocked = Blocked(port);
  port.in_flight = false;
  if (port.dirty && was_blocked && !Blocked(port)) --in_flight_dirty_;
  if (!ok) {
    port.written.reset();  // Redis refused it: the audit sees the port unwritten and retries
    return;
  }
  if (port.dirty) {
    // Dirty again while in flight: by a kernel change, or by drift someone else caused after
    // our write ran. Redis holds `write` or something newer: write the port again whatever it
    // holds now (its next write is never skipped as identical).
    port.written.reset();
  } else {
    MarkWritten(port, write);
  }
}

void PortModel::BeginStaleDeletes(const std::vector<std::string>& names) {
  for (const std::string& name : names) {
    auto it = ports_.find(name);
    const bool was_blocked = it != ports_.end() && Blocked(it->second);
    stale_deletes_.insert(name);
    if (it != ports_.end() && it->second.dirty && !was_blocked) ++in_flight_dirty_;
  }
}

void PortModel::EndStaleDeletes(const std::vector<std::string>& names) {
  for (const std::string& name : names) {
    auto it = ports_.find(name);
    const bool was_blocked = it != ports_.end() && Blocked(it->second);
    stale_deletes_.erase(name);
    if (it != ports_.end() && it->second.dirty && was_blocked && !Blocked(it->second)) {
      --in_flight_dirty_;
    }
  }
}

void PortModel::AbandonWrites(const std::vector<StateWrite>& writes) {
  for (const StateWrite& write : writes) {
    auto it = ports_.find(write.name);
    if (it == ports_.end()) continue;
    Port& port = it->second;
    const bool was_blocked = Blocked(port);
    port.in_flight = false;
    if (port.dirty && was_blocked && !Blocked(port)) --in_flight_dirty_;
    // The DEL may or may not have run: write it again with the set that follows it.
    port.written.reset();
    if (write.del) port.delete_first = true;
    if (port.wants_state() || port.delete_first) MarkDirty(port, write.since);
  }
}

void PortModel::MarkWritten(const StateWrite& write) {
  auto it = ports_.find(write.name);
  if (it != ports_.end()) MarkWritten(it->second, write);
}

void PortModel::MarkWritten(Port& port, const StateWrite& write) {
  if (write.set) {
    port.written = *write.set;
  } else if (write.del) {
    port.written.reset();
  }
}

void PortModel::ForgetWritten() {
  for (auto& [name, port] : ports_) {
    port.written.reset();
    if (port.wants_state() || port.delete_first) MarkDirty(port);
  }
}

void PortModel::MarkDrifted(const std::string& name) {
  auto it = ports_.find(name);
  if (it == ports_.end()) return;
  it->second.written.reset();
  MarkDirty(it->second);
}

const Port* PortModel::Find(absl::string_view name) const {
  auto it = ports_.find(name);
  return it == ports_.end() ? nullptr : &it->second;
}

}  // namespace portsyncd
