#include "server/config/daemon_config.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace portsyncd {
namespace {

using ::testing::HasSubstr;

TEST(DaemonConfigTest, EmptyFileGivesDefaults) {
  absl::StatusOr<DaemonConfig> config = ParseDaemonConfig("", "/etc/p.conf");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->log_level, "NOTICE");
  EXPECT_EQ(config->engine.db_config_path, kDefaultDbConfigPath);
  EXPECT_EQ(config->engine.netlink_receive_buffer_bytes, 16 * 1024 * 1024);
  EXPECT_EQ(config->engine.runtime_dir, "/run/portsyncd");
}

// Every key set to a value other than its default, and every field checked directly: a key the
// parser ignored would leave its default and fail here (comparing two flattenings cannot tell).
TEST(DaemonConfigTest, ReadsEveryKey) {
  // Any readable file will do for the file keys: only readability is checked at parse time.
  const std::string file = std::string(PORTSYNCD_SOURCE_DIR) + "/deploy/portsyncd.conf";
  absl::StatusOr<DaemonConfig> config = ParseDaemonConfig(absl::StrCat(R"(
db_config = "/tmp/db.json"
log_level = "debug"
runtime_dir = "/tmp/run"
[netlink]
receive_buffer_bytes = 1048576
[ports]
include = ["Ethernet*", "eth*"]
exclude = ["Ethernet-BP*"]
[redis]
enabled = false
timeout_ms = 500
reconnect_initial_ms = 10
reconnect_max_ms = 200
pending_poll_ms = 50
audit_interval_ms = 1000
logger_poll_ms = 300
keyspace_notifications = false
audit_interval_notified_ms = 7000
[grpc]
unix_socket = "/tmp/api.sock"
unix_socket_mode = 0o600
tcp_address = "127.0.0.1:50051"
tcp_insecure = true
tls_cert_file = ")",
                                                                       file, R"("
tls_key_file = ")",
                                                                       file, R"("
tls_client_ca_file = ")",
                                                                       file, R"("
reload_token_file = ")",
                                                                       file, R"("
max_streams = 7
stream_queue_limit = 99
replay_buffer = 123
[metrics]
listen = "127.0.0.1:9999"
)"),
                                                          "/etc/p.conf");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->engine.db_config_path, "/tmp/db.json");
  EXPECT_EQ(config->log_level, "debug");
  EXPECT_EQ(config->engine.runtime_dir, "/tmp/run");
  EXPECT_EQ(config->engine.netlink_receive_buffer_bytes, 1048576);
  EXPECT_FALSE(config->engine.redis_enabled);
  EXPECT_EQ(config->engine.selection.Describe(), "include Ethernet* eth* exclude Ethernet-BP*");
  EXPECT_EQ(config->engine.redis_timeout, absl::Milliseconds(500));
  EXPECT_EQ(config->engine.reconnect_initial, absl::Milliseconds(10));
  EXPECT_EQ(config->engine.reconnect_max, absl::Milliseconds(200));
  EXPECT_EQ(config->engine.pending_poll_interval, absl::Milliseconds(50));
  EXPECT_EQ(config->engine.audit_interval, absl::Milliseconds(1000));
  EXPECT_EQ(config->engine.logger_poll_interval, absl::Milliseconds(300));
  EXPECT_FALSE(config->engine.keyspace_notifications);
  EXPECT_EQ(config->engine.audit_interval_notified, absl::Milliseconds(7000));
  EXPECT_EQ(config->grpc.unix_socket, "/tmp/api.sock");
  EXPECT_EQ(config->grpc.unix_socket_mode, 0600);
  EXPECT_EQ(config->grpc.tcp_address, "127.0.0.1:50051");
  EXPECT_TRUE(config->grpc.tcp_insecure);
  EXPECT_EQ(config->grpc.tls_cert_file, file);
  EXPECT_EQ(config->grpc.tls_key_file, file);
  EXPECT_EQ(config->grpc.tls_client_ca_file, file);
  EXPECT_EQ(config->grpc.reload_token_file, file);
  EXPECT_EQ(config->grpc.max_streams, 7);
  EXPECT_EQ(config->grpc.stream_queue_limit, 99);
  EXPECT_EQ(config->grpc.replay_buffer, 123);
  EXPECT_EQ(config->metrics_listen, "127.0.0.1:9999");
  // And the list above is every key there is: each flattened key differs from its default.
  const std::map<std::string, std::string> read = FlattenConfig(*config);
  const std::map<std::string, std::string> defaults = FlattenConfig(DaemonConfig());
  ASSERT_EQ(read.size(), defaults.size());
  EXPECT_EQ(read.size(), 27u);
  for (const auto& [key, value] : defaults) {
    EXPECT_NE(read.at(key), value) << key << " kept its default: not set above, or not read";
  }
}

struct BadCase {
  const char* name;
  const char* text;
  const char* expected;  // "<file>:<line>: <key>: ..."
};
// Names the case in test output instead of dumping its bytes.
void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

class DaemonConfigBadTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(DaemonConfigBadTest, IsRefusedWithFileLineAndKey) {
  absl::StatusOr<DaemonConfig> config = ParseDaemonConfig(GetParam().text, "/etc/p.conf");
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(), HasSubstr(GetParam().expected));
  EXPECT_THAT(config.status().message(), ::testing::Not(HasSubstr("\n")));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, DaemonConfigBadTest,
    ::testing::Values(
        BadCase{"UnknownTopLevelKey", "log_level = \"INFO\"\ncolour = 1\n",
                "/etc/p.conf:2: colour: unknown key"},
        BadCase{"UnknownKeyInTable", "[netlink]\nreceive_buffer_bytes = 1048576\nbufsize = 2\n",
                "/etc/p.conf:3: netlink.bufsize: unknown key"},
        BadCase{"UnknownTable", "\n[http]\nport = 1\n", "http: unknown table"},
        BadCase{"WrongType", "\n\nlog_level = 3\n", "/etc/p.conf:3: log_level: must be a string"},
        BadCase{"BadLogLevel", "log_level = \"LOUD\"\n",
                "/etc/p.conf:1: log_level: 'LOUD' is not one of"},
        BadCase{"OutOfRange", "[netlink]\nreceive_buffer_bytes = 100\n",
                "/etc/p.conf:2: netlink.receive_buffer_bytes: 100 is out of range"},
        BadCase{"BackoffInverted", "[redis]\nreconnect_initial_ms = 900\n",
                "/etc/p.conf:2: redis.reconnect_initial_ms: redis.reconnect_initial_ms (900) "
                "must not exceed"},
        // One line, like every other refusal (toml11's own message is five lines).
        BadCase{"SyntaxErrorMissingValue", "# c\nlog_level = \n",
                "/etc/p.conf:2: log_level: invalid TOML: missing value after key-value "
                "separator '=' (expected value, but got nothing)"},
        BadCase{"SyntaxErrorBrokenTable", "[grpc]\nmax_streams = 3\n[grpc\n",
                "/etc/p.conf:3: [grpc: invalid TOML: "},
        BadCase{"SyntaxErrorDuplicateKey", "log_level = 'INFO'\nlog_level = 'INFO'\n",
                "/etc/p.conf:"},
        // Found by tests/fuzz/daemon_config_fuzzer: toml11 read outside the text while
        // reporting invalid UTF-8 inside a '...' string (ASan: heap-buffer-overflow).
        BadCase{"InvalidUtf8InLiteralString", "log_level = 'NOTICE'\nruntime_dir = '\x8d'\n",
                "/etc/p.conf:2: not valid UTF-8 (byte 0x8d at offset 36)"},
        BadCase{"PortsNotAnArray", "[ports]\ninclude = \"eth*\"\n",
                "/etc/p.conf:2: ports.include: must be an array of strings"},
        BadCase{"PortsNotStrings", "[ports]\nexclude = [1]\n",
                "/etc/p.conf:2: ports.exclude: must be an array of strings"},
        BadCase{"PortsBadPattern", "[ports]\n\ninclude = [\"eth*\", \"eth[0-\"]\n",
                "/etc/p.conf:3: ports.include: pattern 'eth[0-' has a '[' without its closing"},
        BadCase{"PortsPatternWithSpace", "[ports]\nexclude = [\"br 0\"]\n",
                "/etc/p.conf:2: ports.exclude: pattern 'br 0' holds a character no interface "
                "name can"},
        BadCase{"PortsIncludeEmpty", "[ports]\ninclude = []\n",
                "/etc/p.conf:2: ports.include: an empty list selects no interface"},
        BadCase{"PortsExcludeEverything", "[ports]\nexclude = [\"*\"]\n",
                "/etc/p.conf:2: ports.exclude: '*' excludes every interface"},
        BadCase{"PortsInBoth", "[ports]\ninclude = [\"eth*\", \"br0\"]\nexclude = [\"br0\"]\n",
                "/etc/p.conf:3: ports.exclude: 'br0' is also in include"},
        // Against the mode's default include, named as such.
        BadCase{"PortsExcludesTheDefault", "[ports]\nexclude = [\"Ethernet*\"]\n",
                "/etc/p.conf:2: ports.exclude: 'Ethernet*' is also in include; say which one you "
                "mean (the default include in this mode: Ethernet* PortChannel*)"},
        BadCase{"RedisEnabledNotBool", "[redis]\nenabled = \"no\"\n",
                "/etc/p.conf:2: redis.enabled: must be true or false"},
        BadCase{"InvalidUtf8Minimal", "'\x8d'", "/etc/p.conf:1: not valid UTF-8"},
        BadCase{"Utf8Overlong", "# \xc0\xaf\n", "/etc/p.conf:1: not valid UTF-8 (byte 0xc0"},
        BadCase{"Utf8Surrogate", "\n# \xed\xa0\x80\n", "/etc/p.conf:2: not valid UTF-8"},
        BadCase{"Utf8Truncated", "# \xe2\x82", "/etc/p.conf:1: not valid UTF-8"}),
    [](const auto& test_info) { return test_info.param.name; });

TEST(DaemonConfigTest, AcceptsUtf8) {
  absl::StatusOr<DaemonConfig> config = ParseDaemonConfig(
      "# caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\nruntime_dir = '/run/\xc3\xa9'\n",
      "/etc/p.conf");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->engine.runtime_dir, "/run/\xc3\xa9");
}

TEST(DaemonConfigTest, MissingFileIsAnError) {
  absl::StatusOr<DaemonConfig> config = LoadDaemonConfig("/nonexistent/portsyncd.conf");
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(), HasSubstr("/nonexistent/portsyncd.conf"));
}

}  // namespace
}  // namespace portsyncd

namespace portsyncd {
namespace {

// deploy/portsyncd.conf documents every key at its default: it must parse, and to the defaults.
TEST(DaemonConfigTest, ShippedConfigFileHoldsExactlyTheDefaults) {
  absl::StatusOr<DaemonConfig> shipped =
      LoadDaemonConfig(std::string(PORTSYNCD_SOURCE_DIR) + "/deploy/portsyncd.conf");
  ASSERT_TRUE(shipped.ok()) << shipped.status();
  const DaemonConfig defaults;
  const EngineOptions& a = shipped->engine;
  const EngineOptions& b = defaults.engine;
  EXPECT_EQ(shipped->log_level, defaults.log_level);
  EXPECT_EQ(a.db_config_path, b.db_config_path);
  EXPECT_EQ(a.runtime_dir, b.runtime_dir);
  EXPECT_EQ(a.netlink_receive_buffer_bytes, b.netlink_receive_buffer_bytes);
  EXPECT_EQ(a.redis_timeout, b.redis_timeout);
  EXPECT_EQ(a.reconnect_initial, b.reconnect_initial);
  EXPECT_EQ(a.reconnect_max, b.reconnect_max);
  EXPECT_EQ(a.pending_poll_interval, b.pending_poll_interval);
  EXPECT_EQ(a.audit_interval, b.audit_interval);
  EXPECT_EQ(a.logger_poll_interval, b.logger_poll_interval);
  // And every key, including [grpc], through the same flattening Reload uses.
  EXPECT_EQ(FlattenConfig(*shipped), FlattenConfig(defaults));
}

TEST(DaemonConfigTest, TcpListenerRules) {
  // TCP needs TLS, or insecure on loopback only.
  absl::StatusOr<DaemonConfig> no_tls =
      ParseDaemonConfig("[grpc]\ntcp_address = \"127.0.0.1:50051\"\n", "/etc/p.conf");
  ASSERT_FALSE(no_tls.ok());
  EXPECT_THAT(
      no_tls.status().message(),
      HasSubstr("/etc/p.conf:2: grpc.tcp_address: a TCP listener needs grpc.tls_cert_file"));
  absl::StatusOr<DaemonConfig> insecure_remote = ParseDaemonConfig(
      "[grpc]\ntcp_address = \"10.0.0.1:50051\"\ntcp_insecure = true\n", "/etc/p.conf");
  ASSERT_FALSE(insecure_remote.ok());
  EXPECT_THAT(insecure_remote.status().message(),
              HasSubstr("/etc/p.conf:3: grpc.tcp_insecure: allowed only on a loopback address"));
  for (const char* address : {"127.0.0.1:50051", "[::1]:50051", "localhost:50051"}) {
    absl::StatusOr<DaemonConfig> loopback = ParseDaemonConfig(
        absl::StrCat("[grpc]\ntcp_address = \"", address, "\"\ntcp_insecure = true\n"),
        "/etc/p.conf");
    EXPECT_TRUE(loopback.ok()) << address << ": " << loopback.status();
  }
  absl::StatusOr<DaemonConfig> missing_cert = ParseDaemonConfig(
      "[grpc]\ntcp_address = \"0.0.0.0:50051\"\ntls_cert_file = \"/nonexistent/cert.pem\"\n"
      "tls_key_file = \"/nonexistent/key.pem\"\n",
      "/etc/p.conf");
  ASSERT_FALSE(missing_cert.ok());
  EXPECT_THAT(missing_cert.status().message(),
              HasSubstr("/etc/p.conf:3: grpc.tls_cert_file: cannot read '/nonexistent/cert.pem'"));
}

TEST(DaemonConfigTest, ReloadDiffNamesChangedKeysAndWhichAreLive) {
  absl::StatusOr<DaemonConfig> a = ParseDaemonConfig("log_level = \"INFO\"\n", "a");
  absl::StatusOr<DaemonConfig> b = ParseDaemonConfig(
      "log_level = \"DEBUG\"\n[redis]\ntimeout_ms = 900\n[grpc]\nmax_streams = 2\n", "b");
  ASSERT_TRUE(a.ok() && b.ok());
  std::vector<std::string> changed;
  const auto before = FlattenConfig(*a);
  for (const auto& [key, value] : FlattenConfig(*b)) {
    if (before.at(key) != value) changed.push_back(key);
  }
  EXPECT_THAT(changed, ::testing::ElementsAre("grpc.max_streams", "log_level", "redis.timeout_ms"));
  EXPECT_TRUE(IsLiveKey("log_level"));
  EXPECT_TRUE(IsLiveKey("grpc.max_streams"));
  EXPECT_FALSE(IsLiveKey("redis.timeout_ms"));
  EXPECT_NE(a->version, b->version);
}

}  // namespace
}  // namespace portsyncd

namespace portsyncd {
namespace {

TEST(ParseHostPortTest, TakesHostPortAndBracketedV6AndRefusesTheRest) {
  absl::StatusOr<HostPort> v4 = ParseHostPort("127.0.0.1:9108");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 9108);
  absl::StatusOr<HostPort> v6 = ParseHostPort("[::1]:50051");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 50051);
  for (const char* bad : {"", "9108", "host", "host:", ":9108", "host:0", "host:65536", "host:http",
                          "host:-1", "host:+80", "host: 80", "::1:8080", "fe80::1"}) {
    EXPECT_FALSE(ParseHostPort(bad).ok()) << bad;
  }
}

// [ports] left out takes the mode's default as a pair; a key set replaces its own default.
TEST(DaemonConfigTest, PortsDefaultByModeAndPair) {
  auto selection = [](const std::string& text) {
    absl::StatusOr<DaemonConfig> config = ParseDaemonConfig(text, "/etc/p.conf");
    EXPECT_TRUE(config.ok()) << config.status();
    return config.ok() ? config->engine.selection.Describe() : std::string();
  };
  EXPECT_EQ(selection(""), "include Ethernet* PortChannel*");
  EXPECT_EQ(selection("[redis]\nenabled = false\n"), "include * exclude lo");
  EXPECT_EQ(selection("[redis]\nenabled = false\n[ports]\ninclude = [\"eth*\"]\n"), "include eth*");
  EXPECT_EQ(selection("[redis]\nenabled = false\n[ports]\nexclude = [\"docker*\"]\n"),
            "include * exclude docker*");
  EXPECT_EQ(selection("[ports]\nexclude = [\"Ethernet-BP*\"]\n"),
            "include Ethernet* PortChannel* exclude Ethernet-BP*");
}

TEST(DaemonConfigTest, PortsKeysAreLiveAndTheModeIsNot) {
  EXPECT_TRUE(IsLiveKey("ports.include"));
  EXPECT_TRUE(IsLiveKey("ports.exclude"));
  EXPECT_FALSE(IsLiveKey("redis.enabled"));
}

}  // namespace
}  // namespace portsyncd
