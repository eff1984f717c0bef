// The daemon's command line and what it overrides; the reload token; the wait for SONiC's
// database config (on a fake clock, the file created by the test's own "sleep").
#include "server/config/command_line.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/config/reload_token.h"
#include "server/ops/db_config_wait.h"
#include "tests/unit/argv.h"

namespace portsyncd {
namespace {

using ::testing::HasSubstr;

struct Parsed {
  std::optional<int> exit;
  CommandLine cl;
  std::string out, err;
};

Parsed Parse(std::vector<std::string> args) {
  Argv argv("portsyncd", std::move(args));
  Parsed p;
  std::ostringstream out, err;
  p.exit = ParseCommandLine(argv.argc(), argv.argv(), p.cl, out, err);
  p.out = out.str();
  p.err = err.str();
  return p;
}

TEST(CommandLineTest, OptionsAreParsedAndOverrideTheFile) {
  Parsed p = Parse({"--config", "/x.conf", "-d", "/db.json", "--log-level", "DEBUG",
                    "--runtime-dir", "/run/x", "--netlink-buffer", "1048576"});
  ASSERT_FALSE(p.exit.has_value()) << p.err;
  EXPECT_EQ(p.cl.config_path, "/x.conf");
  DaemonConfig config;
  config.log_level = "NOTICE";
  ApplyCommandLine(p.cl, config);
  EXPECT_EQ(config.engine.db_config_path, "/db.json");
  EXPECT_EQ(config.log_level, "DEBUG");
  EXPECT_FALSE(config.engine.apply_db_log_level_at_start) << "the command line's level wins";
  EXPECT_EQ(config.engine.netlink_receive_buffer_bytes, 1048576);
  EXPECT_EQ(config.grpc.unix_socket, "/run/x/portsyncd.sock") << "the socket follows --runtime-dir";
  Parsed s = Parse({"--socket", "/tmp/s.sock"});
  ApplyCommandLine(s.cl, config);
  EXPECT_EQ(config.grpc.unix_socket, "/tmp/s.sock");
}

TEST(CommandLineTest, BadUsageExitsTwoWithAnExplanation) {
  for (const auto& [args, says] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--log-level", "LOUD"}, "is not one of EMERG"},
           {{"--netlink-buffer", "12"}, "between 65536 and 1073741824"},
           {{"--bogus"}, "Try 'portsyncd --help'"},
           {{"extra"}, "unexpected argument 'extra'"},
           {{"--no-redis", "--db-config", "/db.json"}, "contradict each other"}}) {
    Parsed p = Parse(args);
    EXPECT_EQ(p.exit, 2) << args[0];
    EXPECT_THAT(p.err, HasSubstr(says));
  }
}

TEST(CommandLineTest, NoRedisIsHostModeWithItsDefaultSelection) {
  Parsed p = Parse({"--no-redis"});
  ASSERT_FALSE(p.exit.has_value()) << p.err;
  DaemonConfig config;
  ApplyCommandLine(p.cl, config);
  EXPECT_FALSE(config.engine.redis_enabled);
  EXPECT_EQ(config.engine.selection.Describe(), "include * exclude lo");
  // A file's own [ports] stays what it said.
  absl::StatusOr<DaemonConfig> file = ParseDaemonConfig("[ports]\ninclude = [\"eth*\"]\n", "/p");
  ASSERT_TRUE(file.ok());
  ApplyCommandLine(p.cl, *file);
  EXPECT_EQ(file->engine.selection.Describe(), "include eth*");
}

TEST(CommandLineTest, HelpAndVersionExitZeroOnStdout) {
  Parsed help = Parse({"--help"});
  EXPECT_EQ(help.exit, 0);
  EXPECT_THAT(help.out, HasSubstr("--check-config"));
  Parsed version = Parse({"-V"});
  EXPECT_EQ(version.exit, 0);
  EXPECT_THAT(version.out, HasSubstr("portsyncd "));
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/portsyncd-unit-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::system(("rm -rf " + path_).c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(ReloadTokenTest, AGeneratedTokenIsWrittenOnlyForTheOwnerAndNeverThroughASymlink) {
  TempDir dir;
  DaemonConfig config;
  config.engine.runtime_dir = dir.path();
  absl::StatusOr<std::string> token = ReloadToken(config);
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(token->size(), 64u);
  std::ifstream in(dir.path() + "/reload.token");
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, *token);
  struct stat st {};
  ASSERT_EQ(stat((dir.path() + "/reload.token").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_NE(*ReloadToken(config), *token) << "a new token each start";

  unlink((dir.path() + "/reload.token").c_str());
  ASSERT_EQ(symlink((dir.path() + "/elsewhere").c_str(), (dir.path() + "/reload.token").c_str()),
            0);
  EXPECT_EQ(ReloadToken(config).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(access((dir.path() + "/elsewhere").c_str(), F_OK), 0) << "written through a symlink";
}

TEST(ReloadTokenTest, AConfiguredTokenFileIsReadAndAnEmptyOneRefused) {
  TempDir dir;
  DaemonConfig config;
  config.grpc.reload_token_file = dir.path() + "/token";
  EXPECT_EQ(ReloadToken(config).status().code(), absl::StatusCode::kFailedPrecondition);
  std::ofstream(config.grpc.reload_token_file) << "  \n";
  EXPECT_EQ(ReloadToken(config).status().code(), absl::StatusCode::kFailedPrecondition);
  std::ofstream(config.grpc.reload_token_file) << " secret \n";
  EXPECT_EQ(*ReloadToken(config), "secret");
}

TEST(DbConfigWaitTest, AFileThatIsThereIsNotWaitedFor) {
  TempDir dir;
  std::ofstream(dir.path() + "/db.json") << "{}";
  FakeClock clock;
  int sleeps = 0;
  EXPECT_EQ(WaitForDbConfig(dir.path() + "/db.json", SystemdNotifier(), clock,
                            [&](absl::Duration) { return ++sleeps, false; }),
            DbConfigWait::kThere);
  EXPECT_EQ(sleeps, 0);
}

TEST(DbConfigWaitTest, AMissingFileIsWaitedForUntilItAppearsOrAStopIsAsked) {
  TempDir dir;
  const std::string path = dir.path() + "/db.json";
  FakeClock clock;
  int sleeps = 0;
  EXPECT_EQ(WaitForDbConfig(path, SystemdNotifier(), clock,
                            [&](absl::Duration d) {
                              clock.Advance(d);
                              if (++sleeps == 3) std::ofstream(path) << "{}";
                              return false;
                            }),
            DbConfigWait::kAppeared);
  EXPECT_EQ(sleeps, 3);
  unlink(path.c_str());
  EXPECT_EQ(WaitForDbConfig(path, SystemdNotifier(), clock, [](absl::Duration) { return true; }),
            DbConfigWait::kStopped);
}

}  // namespace
}  // namespace portsyncd
