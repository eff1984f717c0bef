// ConfigReloader on a real hub (fed by a FakeEngine) and a temporary config file: what a reload
// applies, what it reports, and that a bad file changes nothing.
#include "server/config/config_reloader.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/fake_engine.h"

namespace portsyncd {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class ConfigReloaderTest : public ::testing::Test {
 protected:
  ConfigReloaderTest() : hub_(&engine_, "run1", EventHubOptions{}) {
    char tmpl[] = "/tmp/portsyncd-reload-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/portsyncd.conf";
  }
  ~ConfigReloaderTest() override { std::system(("rm -rf " + dir_).c_str()); }

  void Write(const std::string& text) { std::ofstream(path_) << text; }
  std::unique_ptr<ConfigReloader> Make(const std::string& initial) {
    Write(initial);
    // As main() does: the command line (here --runtime-dir) over the file, at start and at
    // every reload.
    auto command_line = [](DaemonConfig& c) { c.engine.runtime_dir = "/from/cli"; };
    absl::StatusOr<DaemonConfig> running = LoadDaemonConfig(path_);
    EXPECT_TRUE(running.ok()) << running.status();
    command_line(*running);
    return std::make_unique<ConfigReloader>(
        path_, true, *running, command_line, &hub_, &notifier_, &counters_,
        [this](const PortSelection& s) { applied_.push_back(s.Describe()); });
  }

  FakeEngine engine_;
  EventHub hub_;
  SystemdNotifier notifier_;  // no NOTIFY_SOCKET: a no-op
  ServerCounters counters_;
  std::string dir_, path_;
  std::vector<std::string> applied_;  // selections handed to the engine
};

TEST_F(ConfigReloaderTest, LiveKeysTakeEffectAndRestartOnlyKeysAreReportedUntilARestart) {
  auto reloader = Make("[grpc]\nmax_streams = 64\n");
  Write("[grpc]\nmax_streams = 5\nstream_queue_limit = 100\n[redis]\ntimeout_ms = 900\n");
  absl::StatusOr<ReloadResult> result = reloader->Reload();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(result->changed_keys,
              ElementsAre("grpc.max_streams", "grpc.stream_queue_limit", "redis.timeout_ms"));
  EXPECT_THAT(result->restart_required_keys, ElementsAre("redis.timeout_ms"));
  EXPECT_EQ(hub_.max_streams(), 5u) << "applied to new streams at once";
  EXPECT_EQ(hub_.stream_queue_limit(), 100u);
  EXPECT_THAT(reloader->Description(), HasSubstr("waiting for a restart: redis.timeout_ms"));
  // Not in effect: the next reload reports it again, and nothing else.
  result = reloader->Reload();
  ASSERT_TRUE(result.ok());
  EXPECT_THAT(result->changed_keys, ElementsAre("redis.timeout_ms"));
  EXPECT_EQ(counters_.reloads_ok.load(), 2u);
}

TEST_F(ConfigReloaderTest, TheCommandLineStillWinsAfterAReload) {
  auto reloader = Make("runtime_dir = \"/from/file\"\n");
  Write("runtime_dir = \"/from/file/too\"\n");
  absl::StatusOr<ReloadResult> result = reloader->Reload();
  ASSERT_TRUE(result.ok());
  EXPECT_THAT(result->changed_keys, IsEmpty()) << "--runtime-dir overrides both files";
}

TEST_F(ConfigReloaderTest, ABadFileIsRefusedInOneLineWithFileLineAndKeyAndChangesNothing) {
  auto reloader = Make("[grpc]\nmax_streams = 64\n");
  Write("[grpc]\nmax_streams = 5\nmax_streamz = 6\n");
  absl::StatusOr<ReloadResult> result = reloader->Reload();
  ASSERT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string message(result.status().message());
  EXPECT_THAT(message, HasSubstr(path_ + ":3"));
  EXPECT_THAT(message, HasSubstr("max_streamz"));
  EXPECT_THAT(message, HasSubstr("the running configuration is unchanged"));
  EXPECT_EQ(message.find('\n'), std::string::npos) << "one line";
  EXPECT_EQ(hub_.max_streams(), 64u);
  EXPECT_EQ(counters_.reloads_failed.load(), 1u);
}

TEST_F(ConfigReloaderTest, AChangedSelectionGoesToTheEngineOnceAndABadOneChangesNothing) {
  auto reloader = Make("");
  Write("[ports]\ninclude = [\"Ethernet*\", \"eth*\"]\n");
  absl::StatusOr<ReloadResult> result = reloader->Reload();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(result->changed_keys, ElementsAre("ports.include"));
  EXPECT_THAT(result->restart_required_keys, IsEmpty()) << "live";
  EXPECT_THAT(applied_, ElementsAre("include Ethernet* eth*"));
  result = reloader->Reload();  // the same file: nothing to hand on
  ASSERT_TRUE(result.ok());
  EXPECT_THAT(applied_, ElementsAre("include Ethernet* eth*"));
  // A bad pattern: refused, the running selection kept.
  Write("[ports]\ninclude = [\"eth*\"]\nexclude = [\"eth*\"]\n");
  result = reloader->Reload();
  ASSERT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(result.status().message(),
              HasSubstr(path_ + ":3: ports.exclude: 'eth*' is also in include"));
  EXPECT_THAT(applied_, ElementsAre("include Ethernet* eth*"));
}

TEST_F(ConfigReloaderTest, HostModeInTheFileWaitsForARestartAndDoesNotWidenTheSetNow) {
  auto reloader = Make("");
  Write("[redis]\nenabled = false\n");
  absl::StatusOr<ReloadResult> result = reloader->Reload();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(result->restart_required_keys, ElementsAre("redis.enabled"));
  EXPECT_THAT(applied_, IsEmpty()) << "still a SONiC switch: its default set stays until a restart";
}

}  // namespace
}  // namespace portsyncd
