#include "server/gnmi/gnmi_paths.h"

#include <linux/if.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace portsyncd {
namespace {

using ::testing::HasSubstr;

gnmi::Path P(std::initializer_list<std::pair<const char*, const char*>> elems,
             const char* origin = "") {
  gnmi::Path path;
  path.set_origin(origin);
  for (const auto& [name, key] : elems) {
    gnmi::PathElem* e = path.add_elem();
    e->set_name(name);
    if (key != nullptr) (*e->mutable_key())["name"] = key;
  }
  return path;
}

absl::StatusOr<OcSelector> Parse(const gnmi::Path& path) { return ParseOcPath(gnmi::Path(), path); }

TEST(GnmiPathsTest, WildcardsContainersAndLeavesSelectWhatTheSpecSays) {
  struct Case {
    gnmi::Path path;
    std::string port;
    uint32_t leaves;
  };
  const Case cases[] = {
      {P({}), "", kAllLeaves},
      {P({{"interfaces", nullptr}}), "", kAllLeaves},
      {P({{"openconfig-interfaces:interfaces", nullptr}}), "", kAllLeaves},
      {P({{"interfaces", nullptr}, {"interface", "*"}}), "", kAllLeaves},
      {P({{"interfaces", nullptr}, {"interface", nullptr}, {"state", nullptr}}), "", kAllLeaves},
      {P({{"interfaces", nullptr}, {"interface", "Ethernet4"}, {"state", nullptr}}), "Ethernet4",
       kAllLeaves},
      {P({{"interfaces", nullptr},
          {"interface", "Ethernet4"},
          {"state", nullptr},
          {"oper-status", nullptr}}),
       "Ethernet4", kLeafOperStatus},
      {P({{"interfaces", nullptr}, {"*", nullptr}, {"state", nullptr}, {"counters", nullptr}}), "",
       kCounterLeaves},
      {P({{"interfaces", nullptr},
          {"interface", nullptr},
          {"state", nullptr},
          {"counters", nullptr},
          {"carrier-transitions", nullptr}}),
       "", kLeafCarrierTransitions},
      {P({{"interfaces", nullptr}, {"interface", nullptr}, {"state", nullptr}, {"*", nullptr}}), "",
       kAllLeaves},
      // Any interface name: [ports] include may follow it (or a reload may, later).
      {P({{"interfaces", nullptr}, {"interface", "eth0"}, {"state", nullptr}}), "eth0", kAllLeaves},
  };
  for (const Case& c : cases) {
    absl::StatusOr<OcSelector> s = Parse(c.path);
    ASSERT_TRUE(s.ok()) << PathToString(gnmi::Path(), c.path) << ": " << s.status();
    EXPECT_EQ(s->port, c.port) << PathToString(gnmi::Path(), c.path);
    EXPECT_EQ(s->leaves, c.leaves) << PathToString(gnmi::Path(), c.path);
  }
  // The prefix and the path join.
  absl::StatusOr<OcSelector> joined =
      ParseOcPath(P({{"interfaces", nullptr}, {"interface", "PortChannel1"}}, "openconfig"),
                  P({{"state", nullptr}, {"mtu", nullptr}}));
  ASSERT_TRUE(joined.ok()) << joined.status();
  EXPECT_EQ(joined->port, "PortChannel1");
  EXPECT_EQ(joined->leaves, kLeafMtu);
}

TEST(GnmiPathsTest, ErrorsHaveTheCodesCollectorsExpect) {
  struct Case {
    gnmi::Path path;
    absl::StatusCode code;
    const char* text;
  };
  gnmi::Path element;
  element.add_element("interfaces");
  gnmi::Path other_key = P({{"interfaces", nullptr}, {"interface", nullptr}});
  (*other_key.mutable_elem(1)->mutable_key())["ifindex"] = "3";
  const Case cases[] = {
      {P({{"system", nullptr}}), absl::StatusCode::kNotFound, "/system is not served"},
      {P({{"interfaces", nullptr}, {"interface", nullptr}, {"config", nullptr}}),
       absl::StatusCode::kNotFound, "only the interface's 'state'"},
      {P({{"interfaces", nullptr}, {"interface", nullptr}, {"state", nullptr}, {"speed", nullptr}}),
       absl::StatusCode::kNotFound, "no leaf 'speed'"},
      {P({{"interfaces", nullptr},
          {"interface", nullptr},
          {"state", nullptr},
          {"mtu", nullptr},
          {"x", nullptr}}),
       absl::StatusCode::kNotFound, "leaves have no children"},
      {P({{"interfaces", nullptr}, {"interface", "Ethernet0 "}}),
       absl::StatusCode::kInvalidArgument, "whitespace"},
      {P({{"interfaces", nullptr}, {"", nullptr}}), absl::StatusCode::kInvalidArgument,
       "empty name"},
      {P({{"interfaces", "x"}}), absl::StatusCode::kInvalidArgument, "takes no keys"},
      {other_key, absl::StatusCode::kInvalidArgument, "one key, 'name'"},
      {element, absl::StatusCode::kInvalidArgument, "deprecated 'element'"},
      {P({{"interfaces", nullptr}}, "sonic-db"), absl::StatusCode::kUnimplemented,
       "origin 'sonic-db'"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<OcSelector> s = Parse(c.path);
    ASSERT_FALSE(s.ok()) << PathToString(gnmi::Path(), c.path);
    EXPECT_EQ(s.status().code(), c.code) << s.status();
    EXPECT_THAT(s.status().message(), HasSubstr(c.text));
  }
  absl::StatusOr<OcSelector> two_origins =
      ParseOcPath(P({}, "openconfig"), P({{"interfaces", nullptr}}, "openconfig-interfaces"));
  EXPECT_EQ(two_origins.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckEncoding(gnmi::ASCII).code(), absl::StatusCode::kUnimplemented);
  EXPECT_TRUE(CheckEncoding(gnmi::JSON).ok());
}

Port SomePort() {
  Port p;
  p.name = "Ethernet8";
  p.in_kernel = true;
  p.ifindex = 7;
  p.flags = IFF_UP;  // admin up, oper down
  p.mtu = 9100;
  p.oper_last_change = absl::FromUnixNanos(1'700'000'000'123'456'789);
  p.netdev_since = absl::FromUnixNanos(1'600'000'000'000'000'000);
  p.carrier_changes = 5;
  p.carrier_up_count = 2;
  p.carrier_down_count = 3;
  return p;
}

TEST(GnmiPathsTest, LeafValuesComeFromThePortAndTheKernelsCounters) {
  const OcLeaves leaves = OcLeavesOf(SomePort());
  EXPECT_EQ(leaves.name, "Ethernet8");
  EXPECT_TRUE(leaves.admin_up);
  EXPECT_FALSE(leaves.oper_up);
  EXPECT_EQ(leaves.mtu, 9100u);
  EXPECT_EQ(leaves.ifindex, 7u);
  EXPECT_EQ(leaves.last_change_ns, 1'700'000'000'123'456'789u);
  EXPECT_EQ(leaves.carrier_transitions, 5u);
  EXPECT_EQ(leaves.interface_transitions, 5u);  // up + down
  EXPECT_EQ(leaves.last_clear_ns, 1'600'000'000'000'000'000u);
  OcLeaves other = leaves;
  other.mtu = 1500;
  other.oper_up = true;
  EXPECT_EQ(ChangedLeaves(leaves, other), kLeafMtu | kLeafOperStatus);
  EXPECT_EQ(ChangedLeaves(leaves, leaves), 0u);
}

TEST(GnmiPathsTest, EachEncodingWritesTheValuesItsWay) {
  const OcLeaves leaves = OcLeavesOf(SomePort());
  const uint32_t selected = kLeafOperStatus | kLeafMtu | kLeafLastChange;
  gnmi::Notification proto, json, ietf;
  BuildUpdate(leaves, selected, 42, OcFormat{gnmi::PROTO, "openconfig", "sw1"}, 3, &proto);
  EXPECT_EQ(proto.timestamp(), 42);
  EXPECT_EQ(proto.prefix().origin(), "openconfig");
  EXPECT_EQ(proto.prefix().target(), "sw1");
  EXPECT_EQ(PathToString(proto.prefix(), gnmi::Path()), "/interfaces/interface[name=Ethernet8]");
  ASSERT_EQ(proto.update_size(), 3);
  EXPECT_EQ(PathToString(proto.update(0).path(), gnmi::Path()), "/state/oper-status");
  EXPECT_EQ(proto.update(0).val().string_val(), "DOWN");
  EXPECT_EQ(proto.update(0).duplicates(), 3u);
  EXPECT_EQ(proto.update(1).val().uint_val(), 9100u);
  EXPECT_EQ(proto.update(2).val().uint_val(), 1'700'000'000'123'456'789u);
  BuildUpdate(leaves, selected, 42, OcFormat{gnmi::JSON, "", ""}, 0, &json);
  EXPECT_EQ(json.update(0).val().json_val(), "\"DOWN\"");
  EXPECT_EQ(json.update(1).val().json_val(), "9100");
  EXPECT_EQ(json.update(2).val().json_val(), "1700000000123456789");
  EXPECT_EQ(json.update(0).duplicates(), 0u);
  BuildUpdate(leaves, selected, 42, OcFormat{gnmi::JSON_IETF, "", ""}, 0, &ietf);
  EXPECT_EQ(ietf.update(1).val().json_ietf_val(), "9100");
  EXPECT_EQ(ietf.update(2).val().json_ietf_val(), "\"1700000000123456789\"");  // RFC 7951
  // A name JSON must escape.
  OcLeaves odd = leaves;
  odd.name = "Ethernet\"1\\";
  gnmi::Notification escaped;
  BuildUpdate(odd, kLeafName, 1, OcFormat{gnmi::JSON, "", ""}, 0, &escaped);
  EXPECT_EQ(escaped.update(0).val().json_val(), "\"Ethernet\\\"1\\\\\"");
  gnmi::Notification del;
  BuildDelete("Ethernet8", 7, OcFormat{}, &del);
  ASSERT_EQ(del.delete__size(), 1);
  EXPECT_EQ(PathToString(del.delete_(0), gnmi::Path()), "/interfaces/interface[name=Ethernet8]");
}

TEST(GnmiPathsTest, EncodedResponsesAreByteForByteTheSerializedMessages) {
  OcLeaves plain = OcLeavesOf(SomePort());
  OcLeaves zero;  // every number 0, both statuses DOWN
  zero.name = "Ethernet0";
  OcLeaves odd = plain;
  odd.name = "Ethernet\"1\\";
  odd.oper_up = true;
  odd.last_change_ns = ~uint64_t{0};
  for (const OcLeaves& port : {plain, zero, odd}) {
    for (gnmi::Encoding encoding : {gnmi::PROTO, gnmi::JSON, gnmi::JSON_IETF}) {
      for (const auto& [origin, target] : {std::pair{"", ""}, std::pair{"openconfig", "sw1"},
                                           std::pair{"openconfig-interfaces", ""}}) {
        const OcFormat format{encoding, origin, target};
        for (uint32_t leaves : {kAllLeaves, uint32_t{kLeafOperStatus}, kCounterLeaves,
                                uint32_t{kLeafName | kLeafMtu | kLeafLastChange}}) {
          for (uint32_t duplicates : {0u, 3u, 300u}) {
            for (int64_t timestamp :
                 {int64_t{0}, int64_t{42}, int64_t{1'700'000'000'123'456'789}, int64_t{-1}}) {
              gnmi::SubscribeResponse message;
              BuildUpdate(port, leaves, timestamp, format, duplicates, message.mutable_update());
              const SharedBytes encoded =
                  EncodeUpdateResponse(port, leaves, timestamp, format, duplicates);
              std::vector<grpc::Slice> slices;
              ASSERT_TRUE(encoded->Dump(&slices).ok());
              std::string bytes;
              for (const grpc::Slice& slice : slices) {
                bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
              }
              ASSERT_EQ(bytes, message.SerializeAsString())
                  << port.name << " encoding " << encoding << " origin '" << origin << "' leaves "
                  << leaves << " duplicates " << duplicates << " at " << timestamp;
            }
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace portsyncd
