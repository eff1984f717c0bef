// NaturalLess: Ethernet4 before Ethernet12, and exactly the order its definition gives.
#include "server/stream/port_names.h"

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
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

// Every name of up to `length` characters from `alphabet`.
std::vector<std::string> AllNames(const std::string& alphabet, size_t length) {
  std::vector<std::string> names = {""};
  for (size_t from = 0, l = 0; l < length; ++l) {
    const size_t to = names.size();
    for (size_t k = from; k < to; ++k) {
      for (char c : alphabet) names.push_back(names[k] + c);
    }
    from = to;
  }
  return names;
}

TEST(PortNamesTest, NaturalLessIsTheDefinedOrderOnEveryShortName) {
  // The fast paths (a letter where the names differ, numbers of different lengths) and the slow
  // ones (leading zeros, a digit against a letter, one name the other's beginning), with bytes
  // above 0x7f, which compare unsigned (as memcmp) like every other.
  for (const auto& [alphabet, length] :
       {std::pair<std::string, size_t>{"ab019-", 4}, {"a09-~\x80\xff", 3}}) {
    const std::vector<std::string> names = AllNames(alphabet, length);
    for (const std::string& a : names) {
      for (const std::string& b : names) {
        ASSERT_EQ(NaturalLess(a, b), NaturalLessForTest(a, b))
            << "'" << absl::CHexEscape(a) << "' < '" << absl::CHexEscape(b) << "'";
      }
    }
  }
}

}  // namespace
}  // namespace portsyncd
