// LogLevelFollower: CONFIG_DB LOGGER|portsyncd LOGLEVEL changes set the log level; an unchanged
// value (so a level given on the command line stays) and a value that is no level do not.
#include "core/log_level_follower.h"

#include "gtest/gtest.h"
#include "core/logging.h"

namespace portsyncd {
namespace {

RedisReply Value(const char* s) {
  RedisReply r;
  r.type = RedisReply::Type::kString;
  r.str = s;
  return r;
}

class LogLevelFollowerTest : public ::testing::Test {
 protected:
  LogLevelFollowerTest() : before_(GetLogLevel()) { SetLogLevel(LogLevel::kInfo); }
  ~LogLevelFollowerTest() override { SetLogLevel(before_); }
  const LogLevel before_;
};

TEST_F(LogLevelFollowerTest, OnlyAChangeToALevelSetsIt) {
  LogLevelFollower follower;
  follower.set_seen("NOTICE");  // what startup read; INFO came from the command line
  EXPECT_FALSE(follower.OnValue(Value("NOTICE")));
  EXPECT_EQ(GetLogLevel(), LogLevel::kInfo) << "the command line wins until LOGGER changes";
  EXPECT_TRUE(follower.OnValue(Value("DEBUG")));
  EXPECT_EQ(GetLogLevel(), LogLevel::kDebug);
  EXPECT_FALSE(follower.OnValue(Value("DEBUG")));
  EXPECT_FALSE(follower.OnValue(Value("LOUD")));
  EXPECT_EQ(GetLogLevel(), LogLevel::kDebug) << "a value that is no level is ignored";
  EXPECT_FALSE(follower.OnValue(RedisReply{})) << "deleted: nothing to follow";
  EXPECT_TRUE(follower.OnValue(Value("NOTICE")));
  EXPECT_EQ(GetLogLevel(), LogLevel::kNotice);
}

}  // namespace
}  // namespace portsyncd
