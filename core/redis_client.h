// RedisClient and RedisConnector: the Redis commands the engine uses, behind an interface, so
// the parts that talk to Redis (core/startup.h, core/state_writer.h) run against the real
// server (RedisConnection) or an in-memory fake in unit tests (tests/unit/fake_redis.h), in the
// way sonic-pins keeps its adapters (STYLE.md).
//
// Not thread-safe: a client is used by one thread at a time. A failed status from Command or
// Pipeline means the connection broke (broken() turns true for good; the owner connects again);
// a Redis error reply is a reply of type kError, not a failed status.
#ifndef PORTSYNCD_CORE_REDIS_CLIENT_H_
#define PORTSYNCD_CORE_REDIS_CLIENT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/db_config.h"

namespace portsyncd {

using RedisArgv = std::vector<std::string>;

// A reply, copied out of hiredis: enough for everything portsyncd reads.
struct RedisReply {
  enum class Type { kNil, kInteger, kString, kStatus, kError, kArray };
  Type type = Type::kNil;
  long long integer = 0;
  std::string str;  // kString, kStatus, kError
  std::vector<RedisReply> elements;

  bool is_nil() const { return type == Type::kNil; }
  bool is_error() const { return type == Type::kError; }
};

// One connection to one SONiC database.
class RedisClient {
 public:
  virtual ~RedisClient() = default;
  // One command, one round trip.
  [[nodiscard]] virtual absl::StatusOr<RedisReply> Command(const RedisArgv& argv) = 0;
  // Sends all commands, then reads all replies: one round trip for the whole batch.
  [[nodiscard]] virtual absl::StatusOr<std::vector<RedisReply>> Pipeline(
      const std::vector<RedisArgv>& commands) = 0;
  virtual bool broken() const = 0;
  virtual const DbEndpoint& endpoint() const = 0;
  // endpoint.db_name + separator + key for table `table`: Key("PORT_TABLE", "Ethernet0").
  std::string Key(absl::string_view table, absl::string_view key) const;
};

// Opens clients: RedisConnection::Connect for the real server.
class RedisConnector {
 public:
  virtual ~RedisConnector() = default;
  [[nodiscard]] virtual absl::StatusOr<std::unique_ptr<RedisClient>> Connect(
      const DbEndpoint& endpoint, absl::Duration timeout) = 0;
};

// The process' connector to real Redis servers.
RedisConnector& RealRedisConnector();

// The three databases the engine uses, connected together and dropped together.
struct DbEndpoints {
  DbEndpoint config;
  DbEndpoint appl;
  DbEndpoint state;
};
struct DbClients {
  std::unique_ptr<RedisClient> config;
  std::unique_ptr<RedisClient> appl;
  std::unique_ptr<RedisClient> state;
  bool broken() const { return config->broken() || appl->broken() || state->broken(); }
};
[[nodiscard]] absl::StatusOr<DbClients> ConnectDatabases(RedisConnector& connector,
                                                         const DbEndpoints& endpoints,
                                                         absl::Duration timeout);

// Errors from a pipeline's replies, if any, as one status naming the first failed command.
[[nodiscard]] absl::Status CheckReplies(const std::vector<RedisArgv>& commands,
                                        const std::vector<RedisReply>& replies);

// SCANs the whole keyspace for `pattern` (never KEYS, which blocks the server).
[[nodiscard]] absl::StatusOr<std::vector<std::string>> ScanKeys(RedisClient& client,
                                                                absl::string_view pattern);

}  // namespace portsyncd

#endif  // PORTSYNCD_CORE_REDIS_CLIENT_H_
