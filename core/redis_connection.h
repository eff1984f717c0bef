// RedisConnection: one synchronous hiredis connection to one SONiC database (SELECTed at connect).
//
// Used from one thread at a time (not thread-safe). Every call has a deadline (the command timeout)
// so a hung server turns into an error, never an endless block. After any I/O error the connection
// is broken for good (`broken()`); the owner drops it and connects again.
#ifndef PORTSYNCD_CORE_REDIS_CONNECTION_H_
#define PORTSYNCD_CORE_REDIS_CONNECTION_H_

#include <hiredis/hiredis.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/db_config.h"
#include "core/redis_client.h"

namespace portsyncd {

// Copies a hiredis reply (and its elements, recursively) out of hiredis' memory. Pure.
RedisReply CopyRedisReply(const redisReply* reply);

// hiredis 0.14 allocates an array reply's element pointers as soon as it reads the header
// ("*<n>\r\n"), before any element arrives, so ten bytes from a misbehaving server could make it
// ask for gigabytes (hiredis 1.x caps this; Debian 12 ships 0.14). ReplyElementLimit bounds the
// elements all arrays of one reply may declare in total; past the bound the reader fails the
// reply instead, as hiredis fails on out-of-memory, and the connection is dropped.
// 4,194,304 elements (32 MiB of pointers) is far above anything portsyncd reads: SCAN pages of
// about 1,000 keys, HGETALL of a port's dozen fields.
inline constexpr int64_t kMaxReplyElements = int64_t{1} << 22;

class ReplyElementLimit {
 public:
  explicit ReplyElementLimit(int64_t max_elements = kMaxReplyElements)
      : max_elements_(max_elements) {}
  ReplyElementLimit(const ReplyElementLimit&) = delete;
  ReplyElementLimit& operator=(const ReplyElementLimit&) = delete;

  // Makes `reader` use this limit. `this` must outlive the reader.
  void Attach(redisReader* reader);
  // True once a reply was refused for declaring more than max_elements().
  bool exceeded() const { return exceeded_; }
  int64_t max_elements() const { return max_elements_; }

 private:
  static void* CreateArray(const redisReadTask* task, int elements);

  const int64_t max_elements_;
  int64_t used_ = 0;  // elements declared so far by the reply being read
  bool exceeded_ = false;
  redisReplyObjectFunctions functions_{};  // hiredis' own, with CreateArray in front
  void* (*base_create_array_)(const redisReadTask*, int) = nullptr;
};

// A raw hiredis context to `endpoint` (unix socket when it has one, else TCP), with `timeout` as
// the connect deadline and the socket's read/write timeout. nullptr or c->err set on failure.
// For connections RedisConnection cannot own (the keyspace watcher's subscriptions).
redisContext* ConnectRedisContext(const DbEndpoint& endpoint, absl::Duration timeout);
// Frees a hiredis context.
struct RedisContextDeleter {
  void operator()(redisContext* context) const;
};
using RedisContextPtr = std::unique_ptr<redisContext, RedisContextDeleter>;

// Queues one command (binary-safe arguments) on the context's output buffer.
void AppendRedisCommand(redisContext* context, const RedisArgv& argv);

class RedisConnection : public RedisClient {
 public:
  // Connects (unix socket when the endpoint has one, else TCP), then SELECTs the database.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<RedisConnection>> Connect(
      const DbEndpoint& endpoint, absl::Duration timeout);

  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // One command, one round trip. A Redis error reply is returned as a reply (type kError), not
  // as a failed status; a failed status means the connection broke.
  [[nodiscard]] absl::StatusOr<RedisReply> Command(const RedisArgv& argv) override;
  // Sends all commands, then reads all replies: one round trip for the whole batch.
  [[nodiscard]] absl::StatusOr<std::vector<RedisReply>> Pipeline(
      const std::vector<RedisArgv>& commands) override;

  bool broken() const override { return broken_; }
  const DbEndpoint& endpoint() const override { return endpoint_; }

 private:
  RedisConnection(redisContext* context, DbEndpoint endpoint);
  absl::Status IoError(absl::string_view what);

  redisContext* context_;
  ReplyElementLimit reply_limit_;
  DbEndpoint endpoint_;
  bool broken_ = false;
};

}  // namespace portsyncd

#endif  // PORTSYNCD_CORE_REDIS_CONNECTION_H_
