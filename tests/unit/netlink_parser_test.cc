// ParseLinkMessage on messages built with libmnl's own builders, well-formed and malformed.
#include "core/netlink_parser.h"

#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstring>
#include <set>
#include <vector>

#include "core/port_model.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace portsyncd {
namespace {

using ::testing::HasSubstr;

// Builds one link message in an aligned buffer.
class LinkMessage {
 public:
  explicit LinkMessage(uint16_t type = RTM_NEWLINK) : buf_(8192, 0) {
    nlh_ = mnl_nlmsg_put_header(buf_.data());
    nlh_->nlmsg_type = type;
    ifi_ = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh_, sizeof(ifinfomsg)));
    ifi_->ifi_family = AF_UNSPEC;
    ifi_->ifi_index = 7;
    ifi_->ifi_flags = IFF_UP | IFF_RUNNING | IFF_LOWER_UP;
  }
  LinkMessage& Name(const char* name) {
    mnl_attr_put_strz(nlh_, IFLA_IFNAME, name);
    return *this;
  }
  LinkMessage& Mtu(uint32_t mtu) {
    mnl_attr_put_u32(nlh_, IFLA_MTU, mtu);
    return *this;
  }
  LinkMessage& Master(uint32_t master) {
    mnl_attr_put_u32(nlh_, IFLA_MASTER, master);
    return *this;
  }
  LinkMessage& Kind(const char* kind) {
    nlattr* info = mnl_attr_nest_start(nlh_, IFLA_LINKINFO);
    mnl_attr_put_strz(nlh_, IFLA_INFO_KIND, kind);
    mnl_attr_nest_end(nlh_, info);
    return *this;
  }
  LinkMessage& Attr(uint16_t type, const void* data, size_t len) {
    mnl_attr_put(nlh_, type, len, data);
    return *this;
  }
  ifinfomsg* ifi() { return ifi_; }
  nlmsghdr* nlh() { return nlh_; }

 private:
  std::vector<char> buf_;
  nlmsghdr* nlh_;
  ifinfomsg* ifi_;
};

TEST(HardwareAddressTest, HoldsAnyAddressTheKernelGivesInlineAndFormatsItOnRequest) {
  HardwareAddress a;
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(a.Text(), "");
  uint8_t bytes[HardwareAddress::kMaxBytes];
  for (size_t i = 0; i < sizeof(bytes); ++i) bytes[i] = static_cast<uint8_t>(0xf0 + i);
  a.Assign(bytes, sizeof(bytes));  // e.g. an InfiniBand address is 20 bytes; 32 is the most
  EXPECT_EQ(a.Text().size(), 3 * HardwareAddress::kMaxBytes - 1);
  EXPECT_EQ(a.Text().substr(0, 11), "f0:f1:f2:f3");
  HardwareAddress b;
  b.Assign(bytes, 6);
  EXPECT_EQ(b.Text(), "f0:f1:f2:f3:f4:f5");
  EXPECT_NE(a, b);
  HardwareAddress c;
  c.Assign(bytes, 6);
  EXPECT_EQ(b, c);
  // Held in the port itself: a Port is no larger than with the std::string it replaced.
  EXPECT_LE(sizeof(Port), 224u);
}

TEST(NetlinkParserTest, ParsesEveryFieldOfANewlink) {
  LinkMessage m;
  const uint8_t mac[6] = {0x52, 0x54, 0x00, 0xab, 0xcd, 0xef};
  m.Name("Ethernet8").Mtu(9100).Master(3).Kind("veth").Attr(IFLA_ADDRESS, mac, sizeof(mac));
  uint8_t oper = IF_OPER_UP;
  m.Attr(IFLA_OPERSTATE, &oper, 1);
  absl::StatusOr<LinkEvent> event = ParseLinkMessage(m.nlh());
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->type, LinkEvent::Type::kNewLink);
  EXPECT_EQ(event->name, "Ethernet8");
  EXPECT_EQ(event->ifindex, 7);
  EXPECT_EQ(event->mtu, 9100u);
  EXPECT_TRUE(event->has_mtu);
  EXPECT_EQ(event->master, 3u);
  EXPECT_EQ(event->kind, "veth");
  EXPECT_EQ(event->operstate, IF_OPER_UP);
  EXPECT_EQ(event->mac.Text(), "52:54:00:ab:cd:ef");
  EXPECT_EQ(event->family, AF_UNSPEC);
  EXPECT_TRUE(event->admin_up());
  EXPECT_TRUE(event->oper_up());
}

TEST(NetlinkParserTest, ParsingIntoAUsedEventLeavesNothingOfTheOldOne) {
  LinkMessage full;
  const uint8_t mac[6] = {0x52, 0x54, 0x00, 0xab, 0xcd, 0xef};
  const uint32_t changes = 7;
  full.Name("Ethernet8").Mtu(9100).Master(3).Kind("veth").Attr(IFLA_ADDRESS, mac, sizeof(mac));
  full.Attr(IFLA_CARRIER_CHANGES, &changes, 4);
  LinkEvent event;
  ASSERT_TRUE(ParseLinkMessage(full.nlh(), &event).ok());
  LinkMessage bare(RTM_DELLINK);
  bare.Name("Ethernet4");
  ASSERT_TRUE(ParseLinkMessage(bare.nlh(), &event).ok());
  absl::StatusOr<LinkEvent> fresh = ParseLinkMessage(bare.nlh());
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(event, *fresh);
  EXPECT_TRUE(event.mac.empty());
  EXPECT_EQ(event.kind, "");
}

TEST(NetlinkParserTest, ParsesTheKernelsCarrierCounters) {
  LinkMessage m;
  m.Name("Ethernet8");
  absl::StatusOr<LinkEvent> none = ParseLinkMessage(m.nlh());
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_carrier_counts);  // e.g. an AF_BRIDGE copy: keep what we had
  const uint32_t changes = 7, up = 4, down = 3;
  m.Attr(IFLA_CARRIER_CHANGES, &changes, 4).Attr(IFLA_CARRIER_UP_COUNT, &up, 4);
  m.Attr(IFLA_CARRIER_DOWN_COUNT, &down, 4);
  absl::StatusOr<LinkEvent> event = ParseLinkMessage(m.nlh());
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_TRUE(event->has_carrier_counts);
  EXPECT_EQ(event->carrier_changes, 7u);
  EXPECT_EQ(event->carrier_up_count, 4u);
  EXPECT_EQ(event->carrier_down_count, 3u);
}

TEST(NetlinkParserTest, RejectsCarrierCounterOfWrongSize) {
  LinkMessage m;
  const uint16_t short_count = 1;
  m.Name("Ethernet0").Attr(IFLA_CARRIER_UP_COUNT, &short_count, sizeof(short_count));
  absl::StatusOr<LinkEvent> event = ParseLinkMessage(m.nlh());
  ASSERT_FALSE(event.ok());
  EXPECT_THAT(event.status().message(), HasSubstr("IFLA_CARRIER_UP_COUNT"));
}

TEST(NetlinkParserTest, ParsesADellink) {
  LinkMessage m(RTM_DELLINK);
  m.Name("Ethernet0");
  absl::StatusOr<LinkEvent> event = ParseLinkMessage(m.nlh());
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->type, LinkEvent::Type::kDelLink);
  EXPECT_FALSE(event->has_mtu);
  EXPECT_EQ(event->master, 0u);
}

TEST(NetlinkParserTest, OperFollowsIffRunningNotLowerUp) {
  LinkMessage m;
  m.Name("Ethernet0");
  m.ifi()->ifi_flags = IFF_UP | IFF_LOWER_UP;  // dormant: lower layer up, not running
  absl::StatusOr<LinkEvent> event = ParseLinkMessage(m.nlh());
  ASSERT_TRUE(event.ok());
  EXPECT_TRUE(event->admin_up());
  EXPECT_FALSE(event->oper_up());
}

TEST(NetlinkParserTest, ParsesABridgeFamilyCopy) {
  LinkMessage m;
  m.ifi()->ifi_family = AF_BRIDGE;
  m.Name("Ethernet0").Master(9);
  absl::StatusOr<LinkEvent> event = ParseLinkMessage(m.nlh());
  ASSERT_TRUE(event.ok());
  EXPECT_EQ(event->family, AF_BRIDGE);
}

TEST(NetlinkParserTest, AcceptsFifteenByteName) {
  LinkMessage m;
  m.Name("Ethernet1234567");
  absl::StatusOr<LinkEvent> event = ParseLinkMessage(m.nlh());
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->name.size(), 15u);
}

TEST(NetlinkParserTest, RejectsNameLongerThanFifteenBytes) {
  LinkMessage m;
  m.Name("Ethernet12345678");
  absl::StatusOr<LinkEvent> event = ParseLinkMessage(m.nlh());
  ASSERT_FALSE(event.ok());
  EXPECT_THAT(event.status().message(), HasSubstr("16 bytes"));
}

TEST(NetlinkParserTest, RejectsMissingName) {
  LinkMessage m;
  m.Mtu(1500);
  absl::StatusOr<LinkEvent> event = ParseLinkMessage(m.nlh());
  ASSERT_FALSE(event.ok());
  EXPECT_THAT(event.status().message(), HasSubstr("no IFLA_IFNAME"));
}

TEST(NetlinkParserTest, RejectsEmptyName) {
  LinkMessage m;
  m.Name("");
  EXPECT_FALSE(ParseLinkMessage(m.nlh()).ok());
}

TEST(NetlinkParserTest, RejectsNameWithoutNul) {
  LinkMessage m;
  m.Attr(IFLA_IFNAME, "Ethernet0", 9);
  absl::StatusOr<LinkEvent> event = ParseLinkMessage(m.nlh());
  ASSERT_FALSE(event.ok());
  EXPECT_THAT(event.status().message(), HasSubstr("NUL"));
}

TEST(NetlinkParserTest, RejectsMtuOfWrongSize) {
  LinkMessage m;
  const uint16_t short_mtu = 1500;
  m.Name("Ethernet0").Attr(IFLA_MTU, &short_mtu, sizeof(short_mtu));
  absl::StatusOr<LinkEvent> event = ParseLinkMessage(m.nlh());
  ASSERT_FALSE(event.ok());
  EXPECT_THAT(event.status().message(), HasSubstr("IFLA_MTU"));
}

TEST(NetlinkParserTest, RejectsMasterOfWrongSize) {
  LinkMessage m;
  const uint8_t one = 1;
  m.Name("Ethernet0").Attr(IFLA_MASTER, &one, 1);
  EXPECT_FALSE(ParseLinkMessage(m.nlh()).ok());
}

TEST(NetlinkParserTest, RejectsAttributeRunningPastTheMessage) {
  LinkMessage m;
  m.Name("Ethernet0").Mtu(1500);
  // Claim the MTU attribute is longer than what is left in the message.
  auto* last = reinterpret_cast<nlattr*>(reinterpret_cast<char*>(m.nlh()) + m.nlh()->nlmsg_len -
                                         MNL_ALIGN(sizeof(nlattr) + 4));
  last->nla_len = 64;
  absl::StatusOr<LinkEvent> event = ParseLinkMessage(m.nlh());
  ASSERT_FALSE(event.ok());
  EXPECT_THAT(event.status().message(), HasSubstr("truncated"));
}

TEST(NetlinkParserTest, RejectsTrailingBytesTooShortForAnAttribute) {
  LinkMessage m;
  m.Name("Ethernet0");
  m.nlh()->nlmsg_len += 2;  // two stray bytes after the last attribute
  absl::StatusOr<LinkEvent> event = ParseLinkMessage(m.nlh());
  ASSERT_FALSE(event.ok());
  EXPECT_THAT(event.status().message(), HasSubstr("trailing bytes"));
}

TEST(NetlinkParserTest, RejectsAttributeWithLengthBelowHeader) {
  LinkMessage m;
  m.Name("Ethernet0");
  auto* first = reinterpret_cast<nlattr*>(static_cast<char*>(mnl_nlmsg_get_payload(m.nlh())) +
                                          MNL_ALIGN(sizeof(ifinfomsg)));
  first->nla_len = 2;
  EXPECT_FALSE(ParseLinkMessage(m.nlh()).ok());
}

TEST(NetlinkParserTest, RejectsTruncatedNestedLinkInfo) {
  LinkMessage m;
  m.Name("Ethernet0").Kind("veth");
  // The nested IFLA_INFO_KIND is the last attribute: make it claim more than its nest holds.
  auto* kind = reinterpret_cast<nlattr*>(reinterpret_cast<char*>(m.nlh()) + m.nlh()->nlmsg_len -
                                         MNL_ALIGN(sizeof(nlattr) + 5));
  kind->nla_len = 40;
  absl::StatusOr<LinkEvent> event = ParseLinkMessage(m.nlh());
  ASSERT_FALSE(event.ok());
  EXPECT_THAT(event.status().message(), HasSubstr("IFLA_LINKINFO"));
}

TEST(NetlinkParserTest, RejectsMessageShorterThanLinkHeader) {
  LinkMessage m;
  m.nlh()->nlmsg_len = NLMSG_HDRLEN + 4;
  absl::StatusOr<LinkEvent> event = ParseLinkMessage(m.nlh());
  ASSERT_FALSE(event.ok());
  EXPECT_THAT(event.status().message(), HasSubstr("shorter than the link header"));
}

TEST(NetlinkParserTest, RejectsOtherMessageTypes) {
  LinkMessage m(RTM_NEWADDR);
  m.Name("Ethernet0");
  EXPECT_FALSE(ParseLinkMessage(m.nlh()).ok());
}

TEST(NetlinkParserTest, RejectsOversizedAddress) {
  LinkMessage m;
  const std::vector<uint8_t> big(40, 0xff);
  m.Name("Ethernet0").Attr(IFLA_ADDRESS, big.data(), big.size());
  EXPECT_FALSE(ParseLinkMessage(m.nlh()).ok());
}

TEST(NetlinkParserTest, IgnoresUnknownAttributes) {
  LinkMessage m;
  const uint32_t value = 42;
  m.Name("Ethernet0").Attr(IFLA_MAX + 10, &value, sizeof(value)).Mtu(1500);
  absl::StatusOr<LinkEvent> event = ParseLinkMessage(m.nlh());
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->mtu, 1500u);
}

TEST(NetlinkParserTest, EveryTruncationFailsUnlessItEndsAtAnAttributeBoundary) {
  LinkMessage m;
  m.Name("Ethernet0").Mtu(9100).Master(2).Kind("veth");
  const uint32_t full = m.nlh()->nlmsg_len;
  // Where a shorter message is still well formed: after the link header and at the end of each
  // top-level attribute, with or without (some of) its alignment padding.
  std::set<uint32_t> boundaries;
  uint32_t at = NLMSG_HDRLEN + MNL_ALIGN(sizeof(ifinfomsg));
  while (at < full) {
    boundaries.insert(at);
    const uint16_t len =
        reinterpret_cast<const nlattr*>(reinterpret_cast<const char*>(m.nlh()) + at)->nla_len;
    for (uint32_t end = at + len; end < at + MNL_ALIGN(len); ++end) boundaries.insert(end);
    at += MNL_ALIGN(len);
  }
  ASSERT_EQ(at, full);
  for (uint32_t len = NLMSG_HDRLEN; len <= full; ++len) {
    // Exactly `len` bytes on the heap, so ASan sees any read past the message's end.
    std::vector<char> copy(reinterpret_cast<const char*>(m.nlh()),
                           reinterpret_cast<const char*>(m.nlh()) + len);
    reinterpret_cast<nlmsghdr*>(copy.data())->nlmsg_len = len;
    absl::StatusOr<LinkEvent> event = ParseLinkMessage(reinterpret_cast<nlmsghdr*>(copy.data()));
    if (len == full) {
      ASSERT_TRUE(event.ok()) << event.status();
      EXPECT_EQ(event->name, "Ethernet0");
      EXPECT_EQ(event->mtu, 9100u);
      EXPECT_EQ(event->master, 2u);
      EXPECT_EQ(event->kind, "veth");
    } else if (!boundaries.contains(len)) {
      EXPECT_FALSE(event.ok()) << "a message cut at byte " << len << " of " << full
                               << " was accepted";
    }
  }
}

// Found by tests/fuzz/netlink_fuzzer: libmnl's mnl_nlmsg_ok compares (int)nlmsg_len <= len, so
// a header claiming 2 GiB or more passed it and mnl_nlmsg_next stepped outside the datagram.
TEST(NetlinkMessageOkTest, RefusesLengthsPastTheBuffer) {
  LinkMessage m;
  m.Name("Ethernet0");
  const int available = static_cast<int>(m.nlh()->nlmsg_len);
  EXPECT_TRUE(NetlinkMessageOk(m.nlh(), available));
  EXPECT_FALSE(NetlinkMessageOk(m.nlh(), available - 1));
  EXPECT_FALSE(NetlinkMessageOk(m.nlh(), static_cast<int>(sizeof(nlmsghdr)) - 1));
  for (uint32_t len : {0x80000000u, 0xfffffff0u, 0xffffffffu}) {
    m.nlh()->nlmsg_len = len;
    EXPECT_FALSE(NetlinkMessageOk(m.nlh(), available)) << len;
  }
  m.nlh()->nlmsg_len = sizeof(nlmsghdr) - 1;
  EXPECT_FALSE(NetlinkMessageOk(m.nlh(), available));
}

}  // namespace
}  // namespace portsyncd
