// Pure parsing of rtnetlink link messages into LinkEvent values.
//
// No I/O, no state, no logging: the caller counts and logs errors. Safe to call from any thread.
// Every length is checked against the message's own nlmsg_len before it is read, so any byte
// sequence that fits in `nlmsg_len` gives either a LinkEvent or an error, never a crash.
#ifndef PORTSYNCD_CORE_NETLINK_PARSER_H_
#define PORTSYNCD_CORE_NETLINK_PARSER_H_

#include <linux/netlink.h>

#include "absl/status/statusor.h"
#include "core/link_event.h"

namespace portsyncd {

// Parses one RTM_NEWLINK or RTM_DELLINK message. `nlh->nlmsg_len` must not exceed the bytes
// actually available at `nlh` (the receive loop guarantees it). Errors (INVALID_ARGUMENT) say
// what is wrong: wrong type, short header, truncated or oversized attribute, missing or bad name.
[[nodiscard]] absl::StatusOr<LinkEvent> ParseLinkMessage(const nlmsghdr* nlh);
// The same into `*out`, which is overwritten whole (its strings keep their capacity: the event
// path reuses one LinkEvent per message slot and allocates nothing). On error `*out` is partly
// written.
[[nodiscard]] absl::Status ParseLinkMessage(const nlmsghdr* nlh, LinkEvent* out);

// True when a whole message (its header and nlmsg_len bytes) fits in the `len` bytes at `nlh`:
// use it instead of mnl_nlmsg_ok to walk a datagram. libmnl's check compares
// (int)nlmsg_len <= len, so a header claiming 2 GiB or more passes it and mnl_nlmsg_next then
// steps outside the buffer (found by tests/fuzz/netlink_fuzzer).
[[nodiscard]] bool NetlinkMessageOk(const nlmsghdr* nlh, int len);

}  // namespace portsyncd

#endif  // PORTSYNCD_CORE_NETLINK_PARSER_H_
