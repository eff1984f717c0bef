// libFuzzer target: bytes from a Redis server through hiredis' reply reader with our
// ReplyElementLimit, our copy of each reply (CopyRedisReply), then the reply checks the engine
// applies (CheckReplies). The server is ours, but a reply must never crash the daemon or exhaust
// its memory, whatever its shape (nesting, sizes, types, declared lengths).
#include <hiredis/hiredis.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/redis_connection.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace portsyncd;
  redisReader* reader = redisReaderCreate();
  if (reader == nullptr) return 0;
  // As every RedisConnection does: hiredis 0.14 would otherwise calloc whatever an array header
  // declares ("*1000000000" asks for 8 GB) before any element arrives.
  ReplyElementLimit limit;
  limit.Attach(reader);
  std::vector<RedisReply> replies;
  if (redisReaderFeed(reader, reinterpret_cast<const char*>(data), size) == REDIS_OK) {
    void* raw = nullptr;
    while (redisReaderGetReply(reader, &raw) == REDIS_OK && raw != nullptr) {
      replies.push_back(CopyRedisReply(static_cast<const redisReply*>(raw)));
      freeReplyObject(raw);
      raw = nullptr;
    }
  }
  redisReaderFree(reader);
  std::vector<RedisArgv> commands(replies.size(), RedisArgv{"HSET", "PORT_TABLE|Ethernet0"});
  (void)CheckReplies(commands, replies);
  return 0;
}
