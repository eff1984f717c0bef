#include "core/redis_client.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/redis_connection.h"
#include "core/status_macros.h"

namespace portsyncd {
namespace {

class RealConnector : public RedisConnector {
 public:
  absl::StatusOr<std::unique_ptr<RedisClient>> Connect(const DbEndpoint& endpoint,
                                                       absl::Duration timeout) override {
    ASSIGN_OR_RETURN(std::unique_ptr<RedisConnection> connection,
                     RedisConnection::Connect(endpoint, timeout));
    return std::unique_ptr<RedisClient>(std::move(connection));
  }
};

}  // namespace

RedisConnector& RealRedisConnector() {
  static RealConnector* const connector = new RealConnector;
  return *connector;
}

absl::StatusOr<DbClients> ConnectDatabases(RedisConnector& connector, const DbEndpoints& endpoints,
                                           absl::Duration timeout) {
  DbClients db;
  ASSIGN_OR_RETURN(db.config, connector.Connect(endpoints.config, timeout));
  ASSIGN_OR_RETURN(db.appl, connector.Connect(endpoints.appl, timeout));
  ASSIGN_OR_RETURN(db.state, connector.Connect(endpoints.state, timeout));
  return db;
}

std::string RedisClient::Key(absl::string_view table, absl::string_view key) const {
  return absl::StrCat(table, endpoint().separator, key);
}

absl::Status CheckReplies(const std::vector<RedisArgv>& commands,
                          const std::vector<RedisReply>& replies) {
  for (size_t i = 0; i < replies.size() && i < commands.size(); ++i) {
    if (replies[i].is_error()) {
      const RedisArgv& argv = commands[i];
      // EVAL's first argument is a script: name the key it writes (ProducerStateSet's hash).
      const bool eval = argv[0] == "EVAL" && argv.size() > 5;
      const std::string& what = eval ? argv[5] : argv.size() > 1 ? argv[1] : argv[0];
      return absl::InternalError(absl::StrCat("Redis refused ", argv[0], " ",
                                              what == argv[0] ? "" : what, ": ", replies[i].str));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> ScanKeys(RedisClient& connection,
                                                  absl::string_view pattern) {
  // SCAN may return a key more than once (when the table is resized between calls): sorted and
  // deduplicated at the end (a vector, not a set: 100,000 keys at startup).
  std::vector<std::string> keys;
  std::string cursor = "0";
  do {
    ASSIGN_OR_RETURN(
        RedisReply reply,
        connection.Command({"SCAN", cursor, "MATCH", std::string(pattern), "COUNT", "10000"}));
    if (reply.type != RedisReply::Type::kArray || reply.elements.size() != 2) {
      return absl::InternalError(
          absl::StrCat(connection.endpoint().Describe(), ": unexpected SCAN reply ", reply.str));
    }
    cursor = reply.elements[0].str;
    for (RedisReply& key : reply.elements[1].elements) keys.push_back(std::move(key.str));
  } while (cursor != "0");
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return keys;
}

}  // namespace portsyncd
