// libFuzzer target: bytes from a Redis server through hiredis' reply reader and our copy of each
// reply (CopyRedisReply), then the reply checks the engine applies (CheckReplies). The server is
// ours, but a reply must never crash the daemon whatever its shape (nesting, sizes, types).
#include <hiredis/hiredis.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/redis_connection.h"

namespace {

// True when the input declares an array of more than a million elements ("*<n>" with n past
// 10^6). hiredis 0.14 callocs n pointers as soon as it reads the header (hiredis 1.x caps n), so
// a Redis server that sends "*1000000000" makes it ask for 8 GB: memory exhaustion by a hostile
// server, a hiredis limitation outside portsyncd's threat model (its Redis is the local SONiC
// database) that our code cannot bound. Such inputs are skipped so the fuzzer explores the rest.
bool DeclaresHugeArray(const uint8_t* data, size_t size) {
  for (size_t i = 0; i < size; ++i) {
    if (data[i] != '*') continue;
    size_t digits = 0;
    for (size_t j = i + 1; j < size && data[j] >= '0' && data[j] <= '9'; ++j) ++digits;
    if (digits > 6) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace portsyncd;
  if (DeclaresHugeArray(data, size)) return 0;
  redisReader* reader = redisReaderCreate();
  if (reader == nullptr) return 0;
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
