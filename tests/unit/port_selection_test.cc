// PortSelection: [ports] include/exclude patterns, the defaults of both modes, and the patterns
// refused with a reason.
#include "core/port_selection.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace portsyncd {
namespace {

using ::testing::HasSubstr;

PortSelection Make(std::vector<std::string> include, std::vector<std::string> exclude = {}) {
  absl::StatusOr<PortSelection> s = PortSelection::Create(std::move(include), std::move(exclude));
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : PortSelection::Sonic();
}

TEST(PortSelectionTest, TheSonicDefaultIsUpstreamsCaseSensitivePrefixRule) {
  const PortSelection& s = PortSelection::Upstream();
  EXPECT_EQ(s, PortSelection::Sonic());
  for (const char* name : {"Ethernet0", "Ethernet124", "PortChannel0001", "Ethernet",
                           "Ethernet-BP0", "Ethernet-IB0", "Ethernet-Rec0", "EthernetX"}) {
    EXPECT_TRUE(s.Selects(name)) << name;
  }
  for (const char* name : {"eth0", "lo", "Vlan10", "ethernet0", "Bridge", "docker0", "",
                           "xEthernet0", "portchannel1", "Loopback0"}) {
    EXPECT_FALSE(s.Selects(name)) << name;
  }
  EXPECT_EQ(s.Describe(), "include Ethernet* PortChannel*");
}

TEST(PortSelectionTest, TheHostDefaultIsEveryNetdevButTheLoopback) {
  const PortSelection s = PortSelection::Host();
  for (const char* name : {"eth0", "enp3s0", "br0", "veth1a2b", "docker0", "Ethernet0", "bond0",
                           "wlan0", "lo0", "tap7"}) {
    EXPECT_TRUE(s.Selects(name)) << name;
  }
  EXPECT_FALSE(s.Selects("lo"));
  EXPECT_EQ(s.Describe(), "include * exclude lo");
}

TEST(PortSelectionTest, PatternsAreShellPatternsAndExcludeWins) {
  const PortSelection s = Make({"eth?", "en[ps]*", "br-*", "veth[0-9][!x]"}, {"enp0*", "br-tmp"});
  EXPECT_TRUE(s.Selects("eth1"));
  EXPECT_FALSE(s.Selects("eth10"));  // '?' is one character
  EXPECT_TRUE(s.Selects("enp3s0"));
  EXPECT_TRUE(s.Selects("ens5"));
  EXPECT_FALSE(s.Selects("eno1"));
  EXPECT_FALSE(s.Selects("enp0s31f6")) << "excluded";
  EXPECT_TRUE(s.Selects("br-lan"));
  EXPECT_FALSE(s.Selects("br-tmp")) << "excluded";
  EXPECT_TRUE(s.Selects("veth1a"));
  EXPECT_FALSE(s.Selects("veth1x"));
  // A literal is an exact name; a backslash escapes a wildcard.
  const PortSelection literal = Make({"Ethernet0", "odd\\*name"});
  EXPECT_TRUE(literal.Selects("Ethernet0"));
  EXPECT_FALSE(literal.Selects("Ethernet04"));
  EXPECT_TRUE(literal.Selects("odd*name"));
  EXPECT_FALSE(literal.Selects("oddXname"));
  // Character classes are brackets too.
  EXPECT_TRUE(Make({"eth[[:digit:]]"}).Selects("eth7"));
}

TEST(PortSelectionTest, APatternThatCanMatchNoNameIsRefusedWithWhy) {
  struct Case {
    const char* pattern;
    const char* why;
  };
  const Case cases[] = {
      {"", "must not be empty"},
      {"eth 0", "no interface name can"},
      {"eth0\t", "no interface name can"},
      {"net/eth0", "no interface name can"},
      {"eth0:1", "no interface name can"},
      {"eth[0-9", "without its closing ']'"},
      {"eth[[:digit:]", "without its closing ']'"},
      {"eth0\\", "lone '\\'"},
      {"Ethernet0123456789", "longer than an interface name can be"},
  };
  for (const Case& c : cases) {
    absl::Status s = PortSelection::ValidatePattern(c.pattern);
    EXPECT_FALSE(s.ok()) << "'" << c.pattern << "'";
    EXPECT_THAT(s.message(), HasSubstr(c.why)) << "'" << c.pattern << "'";
  }
  // Long with a wildcard can match (the wildcard may match nothing): allowed.
  EXPECT_TRUE(PortSelection::ValidatePattern("Ethernet[0-9][0-9][0-9]*").ok());
  EXPECT_TRUE(PortSelection::ValidatePattern("eth[:]").ok()) << "':' inside brackets is syntax";
}

TEST(PortSelectionTest, ListsThatSelectNothingOrContradictEachOtherAreRefused) {
  auto error = [](std::vector<std::string> include, std::vector<std::string> exclude) {
    absl::StatusOr<PortSelection> s = PortSelection::Create(std::move(include), std::move(exclude));
    return s.ok() ? std::string("accepted") : std::string(s.status().message());
  };
  EXPECT_THAT(error({}, {}), HasSubstr("include: an empty list selects no interface"));
  EXPECT_THAT(error({"eth*"}, {"*"}), HasSubstr("exclude: '*' excludes every interface"));
  EXPECT_THAT(error({"eth*", "br0"}, {"br0"}), HasSubstr("exclude: 'br0' is also in include"));
  EXPECT_THAT(error({"eth*", "bad pattern"}, {}), HasSubstr("include: pattern 'bad pattern'"));
  EXPECT_THAT(error({"eth*"}, {"x["}), HasSubstr("exclude: pattern 'x['"));
  EXPECT_EQ(error({"*"}, {"lo"}), "accepted");
}

TEST(PortSelectionTest, ASetThatCanOnlyBeNarrowerIsToldFromOneThatMayBeWider) {
  const PortSelection wide = Make({"Ethernet*", "eth*"}, {"Ethernet4"});
  EXPECT_TRUE(Make({"Ethernet*"}, {"Ethernet4"}).SelectsNoMoreThan(wide));
  EXPECT_TRUE(Make({"Ethernet*", "eth*"}, {"Ethernet4", "eth9"}).SelectsNoMoreThan(wide));
  EXPECT_TRUE(wide.SelectsNoMoreThan(wide));
  EXPECT_FALSE(Make({"Ethernet*", "eth*", "br*"}, {"Ethernet4"}).SelectsNoMoreThan(wide));
  EXPECT_FALSE(Make({"Ethernet*", "eth*"}).SelectsNoMoreThan(wide)) << "Ethernet4 comes back";
  EXPECT_FALSE(PortSelection::Host().SelectsNoMoreThan(PortSelection::Sonic()));
}

}  // namespace
}  // namespace portsyncd
