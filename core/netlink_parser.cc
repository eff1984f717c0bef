#include "core/netlink_parser.h"

#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace portsyncd {
namespace {

// Walks the attributes in [begin, begin+len). Returns an error when an attribute header or its
// payload runs past the end, which mnl_attr_for_each would silently stop at.
template <typename Fn>
absl::Status ForEachAttribute(const void* begin, size_t len, absl::string_view where, Fn&& fn) {
  const char* p = static_cast<const char*>(begin);
  size_t left = len;
  while (left > 0) {
    if (left < sizeof(nlattr)) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": ", left, " trailing bytes, too short for an attribute header"));
    }
    const auto* attr = reinterpret_cast<const nlattr*>(p);
    if (attr->nla_len < sizeof(nlattr) || attr->nla_len > left) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": attribute type ", mnl_attr_get_type(attr), " has length ",
                       attr->nla_len, " but ", left, " bytes remain (truncated)"));
    }
    absl::Status status = fn(attr);
    if (!status.ok()) return status;
    const size_t step = MNL_ALIGN(attr->nla_len);
    if (step >= left) break;
    p += step;
    left -= step;
  }
  return absl::OkStatus();
}

absl::Status ExpectPayload(const nlattr* attr, size_t size, absl::string_view what) {
  if (mnl_attr_get_payload_len(attr) != size) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": payload is ", mnl_attr_get_payload_len(attr), " bytes, expected ", size));
  }
  return absl::OkStatus();
}

absl::Status ParseName(const nlattr* attr, LinkEvent& event) {
  const char* data = static_cast<const char*>(mnl_attr_get_payload(attr));
  const size_t len = mnl_attr_get_payload_len(attr);
  const void* nul = std::memchr(data, '\0', len);
  if (nul == nullptr) return absl::InvalidArgumentError("IFLA_IFNAME is not NUL-terminated");
  const size_t name_len = static_cast<const char*>(nul) - data;
  if (name_len == 0) return absl::InvalidArgumentError("IFLA_IFNAME is empty");
  if (name_len > kMaxInterfaceNameLength) {
    return absl::InvalidArgumentError(absl::StrCat("IFLA_IFNAME is ", name_len,
                                                   " bytes, longer than the kernel's limit of ",
                                                   kMaxInterfaceNameLength));
  }
  event.name.assign(data, name_len);
  return absl::OkStatus();
}

absl::Status ParseCarrierCount(const nlattr* attr, absl::string_view what, uint32_t& out,
                               LinkEvent& event) {
  if (auto s = ExpectPayload(attr, sizeof(uint32_t), what); !s.ok()) return s;
  out = mnl_attr_get_u32(attr);
  event.has_carrier_counts = true;
  return absl::OkStatus();
}

absl::Status ParseLinkInfo(const nlattr* linkinfo, LinkEvent& event) {
  return ForEachAttribute(mnl_attr_get_payload(linkinfo), mnl_attr_get_payload_len(linkinfo),
                          "IFLA_LINKINFO", [&](const nlattr* attr) -> absl::Status {
                            if (mnl_attr_get_type(attr) != IFLA_INFO_KIND) return absl::OkStatus();
                            const char* data = static_cast<const char*>(mnl_attr_get_payload(attr));
                            const size_t len = mnl_attr_get_payload_len(attr);
                            event.kind.assign(data, strnlen(data, len));
                            return absl::OkStatus();
                          });
}

}  // namespace

bool NetlinkMessageOk(const nlmsghdr* nlh, int len) {
  return mnl_nlmsg_ok(nlh, len) && nlh->nlmsg_len <= static_cast<uint32_t>(len);
}

bool LinkEvent::admin_up() const { return (flags & IFF_UP) != 0; }
bool LinkEvent::oper_up() const { return (flags & IFF_RUNNING) != 0; }

absl::Status ParseLinkMessage(const nlmsghdr* nlh, LinkEvent* out) {
  {
    // Every field back to its default; the strings keep their buffers.
    std::string name = std::move(out->name), kind = std::move(out->kind);
    *out = LinkEvent{};
    name.clear();
    kind.clear();
    out->name = std::move(name);
    out->kind = std::move(kind);
  }
  LinkEvent& event = *out;
  if (nlh->nlmsg_type == RTM_NEWLINK) {
    event.type = LinkEvent::Type::kNewLink;
  } else if (nlh->nlmsg_type == RTM_DELLINK) {
    event.type = LinkEvent::Type::kDelLink;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("message type ", nlh->nlmsg_type, " is not RTM_NEWLINK or RTM_DELLINK"));
  }
  if (nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(ifinfomsg)) {
    return absl::InvalidArgumentError(absl::StrCat("message length ", nlh->nlmsg_len,
                                                   " is shorter than the link header (",
                                                   NLMSG_HDRLEN + sizeof(ifinfomsg), ")"));
  }
  const auto* ifi = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(nlh));
  event.family = ifi->ifi_family;
  event.ifindex = ifi->ifi_index;
  event.flags = ifi->ifi_flags;

  const size_t attr_offset = MNL_ALIGN(sizeof(ifinfomsg));
  const size_t payload_len = nlh->nlmsg_len - NLMSG_HDRLEN;
  const size_t attr_len = payload_len > attr_offset ? payload_len - attr_offset : 0;
  const char* attrs = static_cast<const char*>(mnl_nlmsg_get_payload(nlh)) + attr_offset;

  bool have_name = false;
  absl::Status status =
      ForEachAttribute(attrs, attr_len, "link message", [&](const nlattr* attr) -> absl::Status {
        switch (mnl_attr_get_type(attr)) {
          case IFLA_IFNAME:
            have_name = true;
            return ParseName(attr, event);
          case IFLA_MTU:
            if (auto s = ExpectPayload(attr, sizeof(uint32_t), "IFLA_MTU"); !s.ok()) return s;
            event.mtu = mnl_attr_get_u32(attr);
            event.has_mtu = true;
            return absl::OkStatus();
          case IFLA_MASTER:
            if (auto s = ExpectPayload(attr, sizeof(uint32_t), "IFLA_MASTER"); !s.ok()) return s;
            event.master = mnl_attr_get_u32(attr);
            return absl::OkStatus();
          case IFLA_OPERSTATE:
            if (auto s = ExpectPayload(attr, sizeof(uint8_t), "IFLA_OPERSTATE"); !s.ok()) return s;
            event.operstate = mnl_attr_get_u8(attr);
            return absl::OkStatus();
          case IFLA_ADDRESS: {
            const size_t len = mnl_attr_get_payload_len(attr);
            if (len > 32) {
              return absl::InvalidArgumentError(
                  absl::StrCat("IFLA_ADDRESS is ", len, " bytes, more than 32"));
            }
            event.mac.Assign(static_cast<const uint8_t*>(mnl_attr_get_payload(attr)), len);
            return absl::OkStatus();
          }
          case IFLA_LINKINFO:
            return ParseLinkInfo(attr, event);
          case IFLA_CARRIER_CHANGES:
            return ParseCarrierCount(attr, "IFLA_CARRIER_CHANGES", event.carrier_changes, event);
          case IFLA_CARRIER_UP_COUNT:
            return ParseCarrierCount(attr, "IFLA_CARRIER_UP_COUNT", event.carrier_up_count, event);
          case IFLA_CARRIER_DOWN_COUNT:
            return ParseCarrierCount(attr, "IFLA_CARRIER_DOWN_COUNT", event.carrier_down_count,
                                     event);
          default:
            return absl::OkStatus();
        }
      });
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("ifindex ", event.ifindex, ": ", status.message()));
  }
  if (!have_name) {
    return absl::InvalidArgumentError(
        absl::StrCat("ifindex ", event.ifindex, ": no IFLA_IFNAME attribute"));
  }
  return absl::OkStatus();
}

absl::StatusOr<LinkEvent> ParseLinkMessage(const nlmsghdr* nlh) {
  LinkEvent event;
  if (absl::Status status = ParseLinkMessage(nlh, &event); !status.ok()) return status;
  return event;
}

}  // namespace portsyncd
