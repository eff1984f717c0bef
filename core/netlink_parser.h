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

}  // namespace portsyncd

#endif  // PORTSYNCD_CORE_NETLINK_PARSER_H_
