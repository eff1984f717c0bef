// PortModel: what portsyncd knows about every port, and what STATE_DB must hold because of it.
//
// Holds, per port name: the kernel's view (from netlink), APPL_DB membership (held in memory so
// the event path never reads Redis; docs/COMPATIBILITY.md 7.4), CONFIG_DB membership, and what we
// last wrote to STATE_DB. Also the pending set (ports PortInitDone waits for) and the old-interface
// set (ifindexes ignored for the life of the process).
//
// Pure logic: no I/O, no clock, no locking. The engine owns it and guards it with one mutex;
// the event path applies netlink events, the Redis writer takes what is dirty.
//
// Write planning: every change marks the port dirty; TakeDirty() turns dirty ports into
// StateWrites that carry only the latest state (several kernel messages for one port collapse
// into one write, docs/COMPATIBILITY.md 7.5) and skips writes identical to what STATE_DB already
// holds from us. A deletion followed by a re-creation keeps both steps (DEL, then HSET), so other
// daemons' fields are cleared exactly as upstream's per-event writes would clear them.
//
// Renames: the kernel announces `ip link set X name Y` with a NEWLINK for Y carrying X's ifindex,
// and nothing for X. The model keeps ports' ifindexes, so such a NEWLINK removes X as a DELLINK
// would (beyond upstream, which leaves X's key behind; docs/COMPATIBILITY.md).
#ifndef PORTSYNCD_CORE_PORT_MODEL_H_
#define PORTSYNCD_CORE_PORT_MODEL_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/link_event.h"
#include "core/natural_order.h"
#include "core/port_selection.h"

namespace portsyncd {

// What Apply() did with an event, for counters and for the change stream.
enum class ApplyOutcome {
  kIgnoredName,           // not selected (PortSelection; by default not Ethernet*/PortChannel*)
  kIgnoredTeam,           // link kind "team" (with a SONiC database only)
  kIgnoredDelWithMaster,  // RTM_DELLINK carrying IFLA_MASTER
  kIgnoredOldInterface,   // ifindex of an old interface
  kAdded,                 // netdev appeared
  kChanged,               // netdev changed something we track
  kUnchanged,             // nothing we track changed (e.g. AF_BRIDGE copy)
  kRemoved,               // netdev deleted
};
absl::string_view ApplyOutcomeName(ApplyOutcome outcome);

// The four STATE_DB PORT_TABLE fields portsyncd owns ("state" is always "ok").
struct StateFields {
  bool admin_up = false;  // admin_status
  bool oper_up = false;   // netdev_oper_status
  uint32_t mtu = 0;       // mtu
  bool operator==(const StateFields&) const = default;
};

struct Port {
  std::string name;
  // Kernel view; meaningful only while in_kernel.
  bool in_kernel = false;
  int32_t ifindex = 0;
  uint32_t flags = 0;
  uint32_t mtu = 0;
  uint32_t master = 0;
  uint8_t operstate = 0;
  // Shown by the dump in progress (PortModel::BeginDump/EndDump; false outside a dump).
  bool seen_in_dump = false;
  HardwareAddress mac;        // held inline (HardwareAddress)
  bool in_appl_db = false;    // APPL_DB PORT_TABLE:<name> exists (sticky once seen)
  bool in_config_db = false;  // CONFIG_DB PORT|<name> existed at startup
  absl::Time last_change = absl::InfinitePast();  // last kernel-visible change
  uint64_t oper_flaps = 0;                        // oper up -> down transitions since start
  // When we received the message that last changed oper status, or that showed this netdev
  // first (InfinitePast: not in the kernel since we started).
  absl::Time oper_last_change = absl::InfinitePast();
  // When we saw this netdev appear (its creation, or our start for one that existed): the kernel
  // counters below restart from 0 with each new netdev, so this marks their discontinuities.
  absl::Time netdev_since = absl::InfinitePast();
  // The kernel's carrier counters (LinkEvent), as of the last message that carried them.
  uint64_t carrier_changes = 0;
  uint64_t carrier_up_count = 0;
  uint64_t carrier_down_count = 0;

  // STATE_DB bookkeeping.
  std::optional<StateFields> written;  // what our last successful write left there
  bool dirty = false;
  // A write of this port is sent and not answered yet. Never two at once: a port with a write
  // in flight is not taken again (it stays dirty) until CompleteWrite/AbandonWrites, so two
  // connections (the engine's direct one and the writer's) can never reorder one key's writes.
  bool in_flight = false;
  bool delete_first = false;  // a DELLINK happened since the last write: DEL before any HSET
  // Counts the writes of this port taken (TakeDirty). The audit reads STATE_DB on one connection
  // while the engine thread writes on another: it judges a port only when no write of ours was
  // taken between its read being planned and its reply being compared (else the read may
  // predate a write already answered, and look like drift that is not there).
  uint32_t write_epoch = 0;
  absl::Time dirty_since = absl::InfinitePast();  // the kernel message that made it dirty

  // admin from IFF_UP, oper from IFF_RUNNING (not IFF_LOWER_UP: a dormant link is down).
  StateFields fields() const;
  // STATE_DB should hold our fields for this port.
  bool wants_state() const { return in_kernel && in_appl_db; }
  // STATE_DB holds exactly what the model says: our fields when wants_state(), else no key of
  // ours, and nothing waiting to be written.
  bool state_db_in_sync() const {
    if (dirty || in_flight) return false;
    return wants_state() ? written && *written == fields() : !written;
  }
  uint64_t changes = 0;  // ADDED/CHANGED/REMOVED events applied to this port
};

// One change to a port, as the API's event stream reports it.
struct PortChange {
  std::string name;
  ApplyOutcome outcome;  // kAdded, kChanged or kRemoved
  uint64_t sequence;     // strictly increasing within the process
  absl::Time time;       // when the kernel message was received
  Port port;             // the port right after this change (a burst keeps every step)
  Port before;           // the port right before it (a default Port for a new name)
};

// One write to STATE_DB PORT_TABLE|<name>: optionally a DEL, then optionally an HSET of `set`.
struct StateWrite {
  std::string name;
  bool del = false;
  std::optional<StateFields> set;
  // When the oldest kernel change this write carries arrived (InfinitePast: not from the
  // kernel, e.g. a reconcile); for the event-to-STATE_DB latency histogram.
  absl::Time since = absl::InfinitePast();
  bool operator==(const StateWrite& o) const {
    return name == o.name && del == o.del && set == o.set;
  }
};

class PortModel {
 public:
  PortModel() = default;
  // Not copyable: its indexes point into its own ports.
  PortModel(const PortModel&) = delete;
  PortModel& operator=(const PortModel&) = delete;

  // Which netdevs are followed (docs/COMPATIBILITY.md 3.1 by default). Set before the first
  // event, or later to change the set: SetSelection.
  const PortSelection& selection() const { return selection_; }
  bool Selects(absl::string_view name) const { return selection_.Selects(name); }
  // Changes the set. A followed port the new set leaves out is removed as if its netdev were
  // deleted (a kRemoved change; its STATE_DB key deleted when it is ours: in the kernel and in
  // APPL_DB, or written, or a DEL already due), and forgets its APPL_DB and CONFIG_DB membership
  // and its place in the pending set (forgotten at once unless a write of it is still to be
  // made). A port shown without a netdev (configured, or in APPL_DB) ends with a kRemoved change
  // too. Netdevs the new set takes in are not known here: the caller re-dumps the kernel's
  // links. Returns the ports removed.
  std::vector<std::string> SetSelection(PortSelection selection, absl::Time now);

  // False without a SONiC database (host mode): the model follows the kernel for the API only,
  // plans no STATE_DB writes, waits for no APPL_DB entry, takes team links as any other, and
  // forgets a port once its netdev is gone. Set once, before the first port.
  void set_state_db(bool state_db) { state_db_ = state_db; }
  bool state_db() const { return state_db_; }

  // Where a link message comes from: the multicast group (live), or a dump we asked for.
  enum class Source { kLive, kDump };
  // Applies one netlink link message (docs/COMPATIBILITY.md 3 rules 1-6). A dump's message for
  // a port (name or ifindex) that had a live message since the dump began is not applied: it is
  // no newer than that message. Linux reads the links of a dump without the lock that orders
  // link changes and their notifications (6.x), so a dump entry can hold a state older than a
  // notification queued before it; applying it would take the model back, with no later message
  // to correct it once the links stop changing. Every change after the live message has a live
  // message of its own (or an overflow, and another dump). For this to hold, a live message read
  // after BeginDump must be newer than the dump request: the follower asks for a re-dump only
  // once everything queued before it is read (what is queued at an overflow is older than what
  // was dropped).
  ApplyOutcome Apply(const LinkEvent& event, absl::Time now, Source source = Source::kLive);

  // Startup. Both ignore a name that is not selected.
  void AddConfigPort(const std::string& name);  // CONFIG_DB PORT|<name>; joins pending
  void RemoveFromPending(const std::string& name);
  void AddOldInterface(int32_t ifindex, const std::string& name);
  bool IsOldInterfaceName(absl::string_view name) const;

  // APPL_DB PORT_TABLE:<name> exists (ignored for a name that is not selected). Marks the port
  // dirty when its kernel state now needs writing; returns true when that happened
  // (docs/COMPATIBILITY.md 7.3).
  bool SetInApplDb(const std::string& name, absl::Time now = absl::InfinitePast());
  // Ports in the kernel that APPL_DB does not know yet: the pending-APPL poll asks about these.
  std::vector<std::string> AwaitingApplDb() const {
    return std::vector<std::string>(awaiting_appl_db_.begin(), awaiting_appl_db_.end());
  }
  bool HasAwaitingApplDb() const { return !awaiting_appl_db_.empty(); }
  // True once since a netdev appeared that APPL_DB is not known to have: the writer asks APPL_DB
  // right away instead of at the next poll (orchagent usually creates the APPL_DB entry after
  // our startup scan and before the netdev, so this is the common path at boot).
  bool TakeNewlyAwaiting() { return std::exchange(newly_awaiting_, false); }
  bool newly_awaiting() const { return newly_awaiting_; }

  // Dump reconciliation (after a netlink overflow): BeginDump before the dump's first reply;
  // every NEWLINK (dump or live) until EndDump marks its port seen. EndDump(complete=true)
  // removes ports the dump did not show and, with `rewrite`, marks every port dirty so STATE_DB
  // is rewritten (a resync; the initial dump has nothing older to rewrite: what it showed was
  // written as it went); EndDump(false) abandons an interrupted dump without removing anything.
  // Returns the ports removed.
  void BeginDump();
  std::vector<std::string> EndDump(absl::Time now, bool complete = true, bool rewrite = true);
  bool dump_in_progress() const { return dump_in_progress_; }

  // Write planning (see the file comment). The writes returned are in flight until
  // CompleteWrite or AbandonWrites; a dirty port whose write is in flight stays dirty.
  std::vector<StateWrite> TakeDirty();
  // Dirty ports TakeDirty would take now (none of them in flight).
  bool HasDirty() const { return dirty_.size() > in_flight_dirty_; }
  // Redis answered `write`: `ok` when every command of it succeeded (then it is what STATE_DB
  // holds); after a refused write what STATE_DB holds is unknown (the audit rewrites it).
  void CompleteWrite(const StateWrite& write, bool ok);
  // The writer deletes stale keys of these names outside TakeDirty (the reconcile): until
  // EndStaleDeletes, their ports are not taken either, so a re-created port's HSET on the other
  // connection cannot land before the DEL.
  void BeginStaleDeletes(const std::vector<std::string>& names);
  void EndStaleDeletes(const std::vector<std::string>& names);
  // The connection broke with these writes in flight: unknown what was applied; they are
  // written again.
  void AbandonWrites(const std::vector<StateWrite>& writes);
  // Records what a successful write left in STATE_DB.
  void MarkWritten(const StateWrite& write);
  // Forget what we believe STATE_DB holds and rewrite every port (reconnect, reconcile).
  void ForgetWritten();
  // A STATE_DB key or field of ours no longer holds what we wrote (drift): rewrite it.
  void MarkDrifted(const std::string& name);

  // PortInitDone (docs/COMPATIBILITY.md 2): once per process, after a processed batch, when nothing
  // is pending.
  bool pending_empty() const { return pending_.empty(); }
  const std::set<std::string>& pending() const { return pending_; }

  const Port* Find(absl::string_view name) const;
  // In natural order (Ethernet4 before Ethernet12): the order every API lists ports in, so a
  // page of them starts with a lookup rather than a sort.
  const std::map<std::string, Port, NaturalOrder>& ports() const { return ports_; }
  // Last event sequence applied (counts kAdded/kChanged/kRemoved); for the change stream.
  uint64_t sequence() const { return sequence_; }
  // Counts ports added to or removed from ports() without a change record (a configured port
  // loaded after the dump, a port the selection drops that nothing lists): a reader copying in
  // slices, which re-copies the ports the records name, checks it did not move.
  uint64_t ports_generation() const { return ports_generation_; }
  // The changes since the last call, in sequence order.
  std::vector<PortChange> TakeChanges() { return std::exchange(changes_, {}); }
  // Kernel changes that needed no STATE_DB write of their own: merged into a pending write of
  // the same port, or identical to what STATE_DB already holds.
  uint64_t merged_writes() const { return merged_writes_; }
  // Netdevs renamed while in the kernel (their old name was removed like a DELLINK).
  uint64_t renames() const { return renames_; }

 private:
  // `unrecorded`: the caller makes no change record, so a new port counts in ports_generation_.
  Port& GetOrCreate(const std::string& name, bool unrecorded = false);
  void MarkDirty(Port& port, absl::Time since = absl::InfinitePast());
  void MarkWritten(Port& port, const StateWrite& write);
  void RecordChange(Port& port, ApplyOutcome outcome, absl::Time now, Port&& before);
  // The netdev left the kernel (DELLINK, rename, or absent from a dump): the STATE_DB key is
  // deleted at the next write (the caller marks it dirty) and a kRemoved change is recorded.
  void MarkGone(Port& port, absl::Time now);
  // Without a database a port gone from the kernel has nothing left to do (no write to make, no
  // membership to remember): it is forgotten, so a host whose netdevs come and go under new
  // names (containers' veths) keeps no entry for each. With a database it stays (its APPL_DB
  // membership is sticky; its DEL is still to be written).
  void ForgetIfHostMode(const std::string& name);

  PortSelection selection_ = PortSelection::Sonic();
  bool state_db_ = true;
  std::map<std::string, Port, NaturalOrder> ports_;
  uint64_t ports_generation_ = 0;
  std::set<std::string> pending_;
  absl::flat_hash_set<int32_t> old_ifindexes_;
  // Ports in_kernel, by ifindex (map nodes do not move; a port leaves this index, in MarkGone,
  // before it can leave ports_).
  absl::flat_hash_map<int32_t, Port*> port_by_ifindex_;
  uint64_t renames_ = 0;
  std::set<std::string, std::less<>> old_names_;
  // A port TakeDirty must leave alone: its write is in flight, or a stale-key DEL of its name.
  bool Blocked(const Port& port) const {
    return port.in_flight || stale_deletes_.contains(port.name);
  }
  // Ports to write, by name (the order writes go out in), each with its port: a dirty port is
  // never removed from ports_ (SetSelection keeps it until written).
  using DirtyPorts = std::map<std::string, Port*>;
  DirtyPorts dirty_;
  size_t in_flight_dirty_ = 0;  // ports in dirty_ that are Blocked
  std::set<std::string, std::less<>> stale_deletes_;
  std::set<std::string> awaiting_appl_db_;  // in_kernel && !in_appl_db
  bool dump_in_progress_ = false;
  bool newly_awaiting_ = false;
  // Names and ifindexes of live messages since the dump began (Apply's comment).
  absl::flat_hash_set<std::string> live_names_in_dump_;
  absl::flat_hash_set<int32_t> live_ifindexes_in_dump_;
  uint64_t sequence_ = 0;
  std::vector<PortChange> changes_;
  uint64_t merged_writes_ = 0;
};

}  // namespace portsyncd

#endif  // PORTSYNCD_CORE_PORT_MODEL_H_
