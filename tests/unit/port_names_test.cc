// NaturalLess: Ethernet4 before Ethernet12, and exactly the order its definition gives.
#include "server/stream/port_names.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace portsyncd {
namespace {

TEST(PortNamesTest, NaturalLessIsTheDefinedOrderOnEveryPair) {
  const std::vector<std::string> names = {
      "", "0", "00", "1", "01", "Ethernet", "Ethernet0", "Ethernet00", "Ethernet4", "Ethernet04",
      "Ethernet12", "Ethernet100", "Ethernet1000000000000000000",
      "Ethernet99999999999999999999", "Ethernet18446744073709551615", "PortChannel1",
      "PortChannel0001", "eth0", "Ethernet1a2", "a1", "a01", "a0", "b", "Ethernet-1"};
  for (const std::string& a : names) {
    for (const std::string& b : names) {
      EXPECT_EQ(NaturalLess(a, b), NaturalLessForTest(a, b)) << "'" << a << "' < '" << b << "'";
    }
  }
  EXPECT_TRUE(NaturalLess("Ethernet4", "Ethernet12"));
  EXPECT_TRUE(NaturalLess("Ethernet4", "Ethernet40"));
  EXPECT_TRUE(NaturalLess("Ethernet", "Ethernet0"));
  EXPECT_TRUE(NaturalLess("Ethernet100", "PortChannel1"));
}

TEST(PortNamesTest, NaturalLessIsTheDefinedOrderOnEveryShortName) {
  // Every name of up to four characters from letters, digits with 0, and a dash: the fast paths
  // (a letter where the names differ, numbers of different lengths) and the slow ones (leading
  // zeros, a digit against a letter, one name the other's beginning).
  std::vector<std::string> names = {""};
  for (size_t from = 0, length = 0; length < 4; ++length) {
    const size_t to = names.size();
    for (size_t k = from; k < to; ++k) {
      for (char c : {'a', 'b', '0', '1', '9', '-'}) names.push_back(names[k] + c);
    }
    from = to;
  }
  for (const std::string& a : names) {
    for (const std::string& b : names) {
      ASSERT_EQ(NaturalLess(a, b), NaturalLessForTest(a, b)) << "'" << a << "' < '" << b << "'";
    }
  }
}

}  // namespace
}  // namespace portsyncd
