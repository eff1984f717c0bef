// libFuzzer target: one netlink datagram, as NetlinkSocket::ReadAvailable hands it to the engine.
//
// The input is walked like the receive loop walks a datagram (NetlinkMessageOk / mnl_nlmsg_next,
// so every nlmsg_len handed on fits in the input), every RTM_NEWLINK / RTM_DELLINK goes through
// ParseLinkMessage, and what parses is applied to a PortModel, as the engine does. The model's
// other entry points are driven by each message's nlmsg_pid (which the kernel sets to 0 and the
// parser ignores), so the fuzzer also reaches APPL_DB / CONFIG_DB membership, dumps and write
// planning in any order:
//   bit 0: SetInApplDb(name)   bit 1: AddConfigPort(name)   bit 2: RemoveFromPending(name)
//   bit 3: BeginDump()         bit 4: EndDump(complete = bit 5)
//   bit 6: TakeDirty() and CompleteWrite(ok) each write   bit 7: ForgetWritten()
//   bit 8: MarkDrifted   bit 9: AddOldInterface(ifindex, name)
//   bit 10: TakeDirty() into writes held in flight   bit 11: CompleteWrite the held ones, ok =
//   bit 12   bit 13: AbandonWrites the held ones   bit 14: Begin/EndStaleDeletes(name) (bit 15)
// Invariants checked (a violation traps): parsed names are 1..15 bytes without NUL, change
// sequences strictly increase, a port written with nothing new to apply is in sync (when
// nothing is held in flight), nothing held in flight is taken twice, HasDirty() is false right
// after TakeDirty().
#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "core/link_event.h"
#include "core/netlink_parser.h"
#include "core/port_model.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace portsyncd;
  // A copy in a heap buffer of exactly `size` bytes (operator new aligns it for nlmsghdr): ASan
  // sees any read past the datagram.
  std::vector<uint8_t> datagram(data, data + size);

  PortModel model;
  std::vector<StateWrite> held;    // in flight
  std::vector<std::string> stale;  // names whose stale-key DEL is in flight
  absl::Time now = absl::UnixEpoch();
  uint64_t last_sequence = 0;
  const auto* nlh = reinterpret_cast<const nlmsghdr*>(datagram.data());
  int left = static_cast<int>(size);
  for (; NetlinkMessageOk(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
    now += absl::Milliseconds(1);
    const uint32_t control = nlh->nlmsg_pid;
    std::string name;
    int32_t ifindex = 0;
    if (nlh->nlmsg_type == RTM_NEWLINK || nlh->nlmsg_type == RTM_DELLINK) {
      absl::StatusOr<LinkEvent> event = ParseLinkMessage(nlh);
      if (event.ok()) {
        FuzzCheck(!event->name.empty() && event->name.size() <= kMaxInterfaceNameLength);
        FuzzCheck(event->name.find('\0') == std::string::npos);
        FuzzCheck(event->mac.size() <= HardwareAddress::kMaxBytes);
        FuzzCheck(event->mac.Text().size() == (event->mac.empty() ? 0 : 3 * event->mac.size() - 1));
        name = event->name;
        ifindex = event->ifindex;
        (void)ApplyOutcomeName(model.Apply(*event, now));
      } else {
        FuzzCheck(!event.status().message().empty());
      }
    }
    if (!name.empty()) {
      if (control & (1u << 0)) (void)model.SetInApplDb(name, now);
      if (control & (1u << 1)) model.AddConfigPort(name);
      if (control & (1u << 2)) model.RemoveFromPending(name);
      if (control & (1u << 8)) model.MarkDrifted(name);
      if (control & (1u << 9)) model.AddOldInterface(ifindex, name);
      if (control & (1u << 14)) {
        if (control & (1u << 15)) {
          model.EndStaleDeletes(stale);
          stale.clear();
        } else {
          model.BeginStaleDeletes({name});
          stale.push_back(name);
        }
      }
    }
    if (control & (1u << 10)) {
      for (StateWrite& write : model.TakeDirty()) {
        for (const StateWrite& other : held) FuzzCheck(other.name != write.name);
        held.push_back(std::move(write));
      }
      FuzzCheck(!model.HasDirty());
    }
    if (control & (1u << 11)) {
      const bool ok = (control & (1u << 12)) != 0;
      for (const StateWrite& write : held) {
        model.CompleteWrite(write, ok);
        if (!ok) model.MarkDrifted(write.name);  // as the audit does with a refused write
      }
      held.clear();
    }
    if (control & (1u << 13)) {
      model.AbandonWrites(held);
      held.clear();
    }
    if (control & (1u << 3)) model.BeginDump();
    if (control & (1u << 4)) (void)model.EndDump(now, (control & (1u << 5)) != 0);
    if (control & (1u << 6)) {
      for (const StateWrite& write : model.TakeDirty()) {
        for (const StateWrite& other : held) FuzzCheck(other.name != write.name);
        model.CompleteWrite(write, /*ok=*/true);
      }
      FuzzCheck(!model.HasDirty());
      for (const auto& [port_name, port] : model.ports()) {
        FuzzCheck(port_name == port.name);
        if (port.wants_state() && held.empty() && stale.empty()) {
          FuzzCheck(port.state_db_in_sync());
        }
      }
    }
    if (control & (1u << 7)) model.ForgetWritten();
    for (const PortChange& change : model.TakeChanges()) {
      FuzzCheck(change.sequence > last_sequence);
      last_sequence = change.sequence;
    }
    (void)model.AwaitingApplDb();
    (void)model.TakeNewlyAwaiting();
  }
  return 0;
}
