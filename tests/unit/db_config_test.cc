#include "core/db_config.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace portsyncd {
namespace {

using ::testing::HasSubstr;

constexpr char kValid[] = R"({
  "INSTANCES": {
    "redis": {"hostname": "127.0.0.1", "port": 6379, "unix_socket_path": "/var/run/redis/redis.sock",
              "persistence_for_warm_boot": "yes"},
    "redis2": {"hostname": "10.0.0.1", "port": 6380}
  },
  "DATABASES": {
    "APPL_DB": {"id": 0, "separator": ":", "instance": "redis"},
    "CONFIG_DB": {"id": 4, "separator": "|", "instance": "redis"},
    "STATE_DB": {"id": 6, "separator": "|", "instance": "redis2"},
    "COUNTERS_DB": {"id": 2, "separator": ":", "instance": "redis"}
  },
  "VERSION": "1.0"
})";

TEST(DbConfigTest, ParsesSonicFormatAndIgnoresUnknownKeys) {
  absl::StatusOr<DbConfig> config = DbConfig::Parse(kValid, "db.json");
  ASSERT_TRUE(config.ok()) << config.status();
  absl::StatusOr<DbEndpoint> appl = config->Endpoint("APPL_DB");
  ASSERT_TRUE(appl.ok());
  EXPECT_EQ(appl->id, 0);
  EXPECT_EQ(appl->separator, ":");
  EXPECT_EQ(appl->unix_socket_path, "/var/run/redis/redis.sock");
  absl::StatusOr<DbEndpoint> state = config->Endpoint("STATE_DB");
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->id, 6);
  EXPECT_EQ(state->separator, "|");
  EXPECT_EQ(state->unix_socket_path, "");
  EXPECT_EQ(state->hostname, "10.0.0.1");
  EXPECT_EQ(state->port, 6380);
  EXPECT_EQ(state->Describe(), "STATE_DB (tcp:10.0.0.1:6380 db 6)");
}

TEST(DbConfigTest, SeparatorComesFromTheFile) {
  std::string text = kValid;
  text.replace(text.find(R"("separator": "|", "instance": "redis2")"), 16, R"("separator": "#")");
  absl::StatusOr<DbConfig> config = DbConfig::Parse(text, "db.json");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->Endpoint("STATE_DB")->separator, "#");
}

struct BadCase {
  const char* name;
  const char* text;
  const char* expected;
};
// Names the case in test output instead of dumping its bytes.
void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

class DbConfigBadTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(DbConfigBadTest, IsRefusedNamingFileAndKey) {
  absl::StatusOr<DbConfig> config = DbConfig::Parse(GetParam().text, "/etc/db.json");
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(), HasSubstr("/etc/db.json"));
  EXPECT_THAT(config.status().message(), HasSubstr(GetParam().expected));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, DbConfigBadTest,
    ::testing::Values(BadCase{"NotJson", "{\"INSTANCES\": ", "not valid JSON"},
                      BadCase{"NotObject", "[1, 2]", "must be a JSON object"},
                      BadCase{"NoInstances", R"({"DATABASES": {}})", "INSTANCES"},
                      BadCase{"NoDatabases", R"({"INSTANCES": {}})", "DATABASES"},
                      BadCase{"MissingStateDb",
                              R"({"INSTANCES": {"r": {"hostname": "h", "port": 1}},
                    "DATABASES": {"APPL_DB": {"id": 0, "separator": ":", "instance": "r"},
                                  "CONFIG_DB": {"id": 4, "separator": "|", "instance": "r"}}})",
                              "DATABASES.STATE_DB: missing"},
                      BadCase{"MissingId",
                              R"({"INSTANCES": {"r": {"hostname": "h", "port": 1}},
                    "DATABASES": {"APPL_DB": {"separator": ":", "instance": "r"}}})",
                              "DATABASES.APPL_DB.id: missing"},
                      BadCase{"IdNotInteger",
                              R"({"INSTANCES": {"r": {"hostname": "h", "port": 1}},
                    "DATABASES": {"APPL_DB": {"id": "0", "separator": ":", "instance": "r"}}})",
                              "DATABASES.APPL_DB.id: must be an integer"},
                      BadCase{"UnknownInstance",
                              R"({"INSTANCES": {"r": {"hostname": "h", "port": 1}},
                    "DATABASES": {"APPL_DB": {"id": 0, "separator": ":", "instance": "x"}}})",
                              "INSTANCES.x: missing"},
                      BadCase{"MissingPort",
                              R"({"INSTANCES": {"r": {"hostname": "h"}},
                    "DATABASES": {"APPL_DB": {"id": 0, "separator": ":", "instance": "r"}}})",
                              "INSTANCES.r.port: missing"},
                      // Found by tests/fuzz/db_config_fuzzer: a number JSON cannot hold
                      // threw json::out_of_range past the parse_error handler (terminate).
                      BadCase{"NumberOverflow", R"({"INSTANCES": {}, "DATABASES": 1e400})",
                              "not valid JSON: [json.exception.out_of_range.406] number overflow"},
                      // Before: read as int, 4294967302 wrapped to 6 and was accepted.
                      BadCase{"IdWrapsPastInt",
                              R"({"INSTANCES": {"r": {"hostname": "h", "port": 1}},
                    "DATABASES": {"APPL_DB": {"id": 4294967302, "separator": ":", "instance": "r"}}})",
                              "DATABASES.APPL_DB.id: out of range: 4294967302"},
                      BadCase{"NegativeIdWrapsPastInt",
                              R"({"INSTANCES": {"r": {"hostname": "h", "port": 1}},
                    "DATABASES": {"APPL_DB": {"id": -4294967290, "separator": ":", "instance": "r"}}})",
                              "DATABASES.APPL_DB.id: out of range: -4294967290"},
                      BadCase{
                          "PortWrapsPastInt",
                          R"({"INSTANCES": {"r": {"hostname": "h", "port": 18446744073709551615}},
                    "DATABASES": {"APPL_DB": {"id": 0, "separator": ":", "instance": "r"}}})",
                          "INSTANCES.r.port: out of range: 18446744073709551615"},
                      BadCase{"EmptySeparator",
                              R"({"INSTANCES": {"r": {"hostname": "h", "port": 1}},
                    "DATABASES": {"APPL_DB": {"id": 0, "separator": "", "instance": "r"}}})",
                              "separator: must not be empty"}),
    [](const auto& test_info) { return test_info.param.name; });

TEST(DbConfigTest, MissingFileNamesThePathAndTheFlag) {
  absl::StatusOr<DbConfig> config = DbConfig::Load("/nonexistent/database_config.json");
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(), HasSubstr("/nonexistent/database_config.json"));
  EXPECT_THAT(config.status().message(), HasSubstr("--db-config"));
}

}  // namespace
}  // namespace portsyncd
