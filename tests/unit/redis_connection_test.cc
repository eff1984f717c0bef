// ReplyElementLimit: hiredis 0.14's reader, fed bytes directly, and RedisConnection against a
// scripted server on a unix socket in a temp dir (a real socket, a misbehaving peer that a real
// redis-server cannot be made to be).
#include "core/redis_connection.h"

#include <hiredis/hiredis.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/unix_listener.h"

namespace portsyncd {
namespace {

using ::testing::HasSubstr;

// Feeds `bytes` to a fresh reader with `limit` attached; returns the replies read before the
// first error (copied) and whether the reader ended in error.
struct ReadResult {
  std::vector<RedisReply> replies;
  bool error = false;
  std::string errstr;
};

ReadResult Read(const std::string& bytes, ReplyElementLimit& limit) {
  ReadResult result;
  redisReader* reader = redisReaderCreate();
  limit.Attach(reader);
  EXPECT_EQ(redisReaderFeed(reader, bytes.data(), bytes.size()), REDIS_OK);
  while (true) {
    void* raw = nullptr;
    if (redisReaderGetReply(reader, &raw) != REDIS_OK) {
      result.error = true;
      result.errstr = reader->errstr;
      break;
    }
    if (raw == nullptr) break;
    result.replies.push_back(CopyRedisReply(static_cast<redisReply*>(raw)));
    freeReplyObject(raw);
  }
  redisReaderFree(reader);
  return result;
}

TEST(ReplyElementLimitTest, RepliesWithinTheLimitAreReadWhole) {
  ReplyElementLimit limit(6);
  // Two replies of 2 + 2 + 2 = 6 elements each: the count starts again with each reply.
  const std::string reply = "*2\r\n*2\r\n:1\r\n:2\r\n*2\r\n$1\r\na\r\n$-1\r\n";
  ReadResult result = Read(reply + reply, limit);
  EXPECT_FALSE(result.error) << result.errstr;
  ASSERT_EQ(result.replies.size(), 2u);
  for (const RedisReply& r : result.replies) {
    ASSERT_EQ(r.type, RedisReply::Type::kArray);
    ASSERT_EQ(r.elements.size(), 2u);
    EXPECT_EQ(r.elements[0].elements[1].integer, 2);
    EXPECT_EQ(r.elements[1].elements[0].str, "a");
    EXPECT_TRUE(r.elements[1].elements[1].is_nil());
  }
  EXPECT_FALSE(limit.exceeded());
}

TEST(ReplyElementLimitTest, NestedArraysCountTowardsOneBudget) {
  ReplyElementLimit limit(5);
  ReadResult result = Read("*2\r\n*2\r\n:1\r\n:2\r\n*2\r\n:3\r\n:4\r\n", limit);
  EXPECT_TRUE(result.error);
  EXPECT_TRUE(result.replies.empty());
  EXPECT_TRUE(limit.exceeded());
}

TEST(ReplyElementLimitTest, AHugeDeclaredArrayIsRefusedBeforeAnyAllocation) {
  // Without the limit hiredis 0.14 callocs 8 GB here (under ASan: a fatal allocation-size
  // report; in production: memory exhaustion).
  ReplyElementLimit limit;
  ReadResult result = Read("*1000000000\r\n", limit);
  EXPECT_TRUE(result.error);
  EXPECT_TRUE(limit.exceeded());
}

TEST(ReplyElementLimitTest, SiblingArraysAddUp) {
  // 10 + 10 x 200 elements: refused at the fifth inner array (10 + 5 x 200 > 1,000).
  ReplyElementLimit limit(1000);
  std::string reply = "*10\r\n";
  for (int i = 0; i < 10; ++i) {
    reply += "*200\r\n";
    for (int j = 0; j < 200; ++j) reply += ":1\r\n";
  }
  ReadResult refused = Read(reply, limit);
  EXPECT_TRUE(refused.error);
  EXPECT_TRUE(limit.exceeded());
  ReplyElementLimit roomy(2010);
  ReadResult read = Read(reply, roomy);
  EXPECT_FALSE(read.error) << read.errstr;
  ASSERT_EQ(read.replies.size(), 1u);
  EXPECT_EQ(read.replies[0].elements.size(), 10u);
  EXPECT_FALSE(roomy.exceeded());
}

TEST(ReplyElementLimitTest, NegativeLengthsOtherThanNilAreRefused) {
  ReplyElementLimit limit;
  ReadResult nil = Read("*-1\r\n", limit);
  EXPECT_FALSE(nil.error) << nil.errstr;
  ASSERT_EQ(nil.replies.size(), 1u);
  EXPECT_TRUE(nil.replies[0].is_nil());
  ReplyElementLimit limit2;
  EXPECT_TRUE(Read("*-5\r\n", limit2).error);
}

// A server that answers the first request (SELECT) with +OK and the second with `reply`.
class ScriptedServer {
 public:
  explicit ScriptedServer(std::string reply)
      : reply_(std::move(reply)), thread_([this] { Serve(); }) {}
  ~ScriptedServer() { thread_.join(); }
  const std::string& path() const { return listener_.path(); }
  // A RedisConnection to this server as STATE_DB (its SELECT gets the +OK).
  absl::StatusOr<std::unique_ptr<RedisConnection>> Connect() const {
    return RedisConnection::Connect(DbEndpoint{"STATE_DB", 6, "|", path(), "", 0},
                                    absl::Seconds(5));
  }

 private:
  void Serve() {
    const int conn = listener_.Accept();
    if (conn < 0) return;
    char buf[4096];
    const std::string replies[] = {"+OK\r\n", reply_};
    for (const std::string& r : replies) {
      if (read(conn, buf, sizeof(buf)) <= 0) break;
      if (write(conn, r.data(), r.size()) != static_cast<ssize_t>(r.size())) break;
    }
    // Wait for the client to hang up, so it reads everything first.
    while (read(conn, buf, sizeof(buf)) > 0) {
    }
    close(conn);
  }

  std::string reply_;
  UnixListener listener_{"redis-conn-test"};
  std::thread thread_;  // last: it uses the above
};

TEST(RedisConnectionTest, AHugeArrayReplyBreaksTheConnectionWithAClearError) {
  ScriptedServer server("*1000000000\r\n");
  absl::StatusOr<std::unique_ptr<RedisConnection>> conn = server.Connect();
  ASSERT_TRUE(conn.ok()) << conn.status();
  absl::StatusOr<RedisReply> reply = (*conn)->Command({"HGETALL", "PORT_TABLE|Ethernet0"});
  ASSERT_FALSE(reply.ok());
  // Unavailable, like any broken connection, so the engine reconnects with backoff.
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(reply.status().message(), HasSubstr("more than 4194304 array elements"));
  EXPECT_THAT(reply.status().message(), HasSubstr("HGETALL"));
  EXPECT_TRUE((*conn)->broken());
}

TEST(RedisConnectionTest, AnOrdinaryArrayReplyIsRead) {
  ScriptedServer server("*2\r\n$5\r\nspeed\r\n$6\r\n100000\r\n");
  absl::StatusOr<std::unique_ptr<RedisConnection>> conn = server.Connect();
  ASSERT_TRUE(conn.ok()) << conn.status();
  absl::StatusOr<RedisReply> reply = (*conn)->Command({"HGETALL", "PORT_TABLE|Ethernet0"});
  ASSERT_TRUE(reply.ok()) << reply.status();
  ASSERT_EQ(reply->elements.size(), 2u);
  EXPECT_EQ(reply->elements[1].str, "100000");
  EXPECT_FALSE((*conn)->broken());
}

}  // namespace
}  // namespace portsyncd
