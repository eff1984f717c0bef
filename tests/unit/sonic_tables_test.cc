#include "core/sonic_tables.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace portsyncd {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(SonicTablesTest, StateHsetCarriesTheFourFieldsInUpstreamOrder) {
  EXPECT_THAT(StateFieldsHset("PORT_TABLE|Ethernet0", StateFields{true, false, 9100}),
              ElementsAre("HSET", "PORT_TABLE|Ethernet0", "netdev_oper_status", "down", "state",
                          "ok", "admin_status", "up", "mtu", "9100"));
}

TEST(SonicTablesTest, ProducerStateSetNamesChannelKeySetAndStagingHash) {
  RedisArgv argv =
      ProducerStateSet("PORT_TABLE", ":", 0, "Ethernet0", {{"lanes", "0,1"}, {"mtu", "9100"}});
  ASSERT_EQ(argv.size(), 12u);
  EXPECT_EQ(argv[0], "EVAL");
  EXPECT_THAT(argv[1], HasSubstr("SADD"));
  EXPECT_THAT(argv[1], HasSubstr("PUBLISH"));
  EXPECT_EQ(argv[2], "3");
  EXPECT_EQ(argv[3], "PORT_TABLE_CHANNEL@0");
  EXPECT_EQ(argv[4], "PORT_TABLE_KEY_SET");
  EXPECT_EQ(argv[5], "_PORT_TABLE:Ethernet0");
  EXPECT_EQ(argv[6], "G");
  EXPECT_EQ(argv[7], "Ethernet0");
  EXPECT_THAT(std::vector<std::string>(argv.begin() + 8, argv.end()),
              ElementsAre("lanes", "0,1", "mtu", "9100"));
}

}  // namespace
}  // namespace portsyncd
