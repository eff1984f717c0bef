// FakeRedis: an in-memory Redis for unit tests of the parts that talk to Redis through
// RedisClient / RedisConnector (core/redis_client.h). It interprets the commands portsyncd sends
// (HSET HGET HMGET HGETALL HEXISTS EXISTS DEL SCAN, and the ProducerStateTable EVAL) on hashes
// and plain strings, answers WRONGTYPE like Redis for a hash command on a string, and counts
// every command. Tests can take the server down (connects fail), break the open connections,
// and intercept a command just before it runs (to inject someone else's write at that exact
// moment). Keyspace notifications of every write are queued for the test to deliver.
//
// Single-threaded: the test and the part under test run on one thread.
#ifndef PORTSYNCD_TESTS_UNIT_FAKE_REDIS_H_
#define PORTSYNCD_TESTS_UNIT_FAKE_REDIS_H_

#include <fnmatch.h>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/redis_client.h"

namespace portsyncd {

class FakeRedis : public RedisConnector {
 public:
  using Hash = std::map<std::string, std::string>;
  using Value = std::variant<Hash, std::string>;  // a hash, or a string (a wrong-type key)
  struct Notification {
    int db;
    std::string key;
    std::string event;  // "hset", "del"
  };
  // Runs just before a command: return a reply to answer instead of running it. Breaking the
  // connections here lets the command run and loses the replies of the whole pipeline.
  using Intercept = std::function<std::optional<RedisReply>(int db, const RedisArgv& argv)>;

  // RedisConnector.
  absl::StatusOr<std::unique_ptr<RedisClient>> Connect(const DbEndpoint& endpoint,
                                                       absl::Duration) override {
    ++connects;
    if (down) return absl::UnavailableError("fake redis: connection refused");
    return std::unique_ptr<RedisClient>(new Client(*this, endpoint, generation_));
  }

  // Every open connection breaks (its next command fails; broken() turns true).
  void BreakConnections() { ++generation_; }

  Hash* FindHash(int db, const std::string& key) {
    auto it = dbs_[db].find(key);
    return it == dbs_[db].end() ? nullptr : std::get_if<Hash>(&it->second);
  }
  bool Exists(int db, const std::string& key) { return dbs_[db].count(key) > 0; }
  void SetString(int db, const std::string& key, std::string value) {
    dbs_[db][key] = std::move(value);
  }
  void SetField(int db, const std::string& key, const std::string& field, std::string value) {
    std::get<Hash>(dbs_[db].try_emplace(key, Hash{}).first->second)[field] = std::move(value);
  }
  void Delete(int db, const std::string& key) { dbs_[db].erase(key); }
  // Commands run (or intercepted) so far with this name ("HSET"), and refused (error replies).
  int count(const std::string& name) const {
    auto it = counts_.find(name);
    return it == counts_.end() ? 0 : it->second;
  }
  int errors = 0;
  int connects = 0;
  size_t largest_pipeline = 0;  // commands in the longest pipeline sent so far
  bool down = false;
  Intercept intercept;
  std::vector<Notification> notifications;

 private:
  class Client : public RedisClient {
   public:
    Client(FakeRedis& server, DbEndpoint endpoint, int generation)
        : server_(server), endpoint_(std::move(endpoint)), generation_(generation) {}
    absl::StatusOr<RedisReply> Command(const RedisArgv& argv) override {
      absl::StatusOr<std::vector<RedisReply>> replies = Pipeline({argv});
      if (!replies.ok()) return replies.status();
      return std::move(replies->front());
    }
    absl::StatusOr<std::vector<RedisReply>> Pipeline(
        const std::vector<RedisArgv>& commands) override {
      if (broken_ || generation_ != server_.generation_ || server_.down) {
        broken_ = true;
        return absl::UnavailableError("fake redis: connection broken");
      }
      server_.largest_pipeline = std::max(server_.largest_pipeline, commands.size());
      std::vector<RedisReply> replies;
      for (const RedisArgv& argv : commands) {
        // Broken mid-pipeline (by an intercept): what ran, ran; the replies are lost.
        if (generation_ != server_.generation_ || server_.down) {
          broken_ = true;
          return absl::UnavailableError("fake redis: connection broken");
        }
        replies.push_back(server_.Run(endpoint_.id, argv));
      }
      return replies;
    }
    bool broken() const override { return broken_; }
    const DbEndpoint& endpoint() const override { return endpoint_; }

   private:
    FakeRedis& server_;
    DbEndpoint endpoint_;
    int generation_;
    bool broken_ = false;
  };

  static RedisReply Integer(long long n) {
    RedisReply r;
    r.type = RedisReply::Type::kInteger;
    r.integer = n;
    return r;
  }
  static RedisReply Bulk(std::string s) {
    RedisReply r;
    r.type = RedisReply::Type::kString;
    r.str = std::move(s);
    return r;
  }
  static RedisReply Array(std::vector<RedisReply> elements) {
    RedisReply r;
    r.type = RedisReply::Type::kArray;
    r.elements = std::move(elements);
    return r;
  }
  RedisReply Error(std::string message) {
    ++errors;
    RedisReply r;
    r.type = RedisReply::Type::kError;
    r.str = std::move(message);
    return r;
  }
  RedisReply WrongType() {
    return Error("WRONGTYPE Operation against a key holding the wrong kind of value");
  }

  // The hash at `key` (created when `create`), or null with *wrong set for a string key.
  Hash* HashAt(int db, const std::string& key, bool create, bool* wrong) {
    *wrong = false;
    auto it = dbs_[db].find(key);
    if (it == dbs_[db].end()) {
      if (!create) return nullptr;
      it = dbs_[db].emplace(key, Hash{}).first;
    }
    Hash* hash = std::get_if<Hash>(&it->second);
    *wrong = hash == nullptr;
    return hash;
  }

  RedisReply Run(int db, const RedisArgv& argv) {
    ++counts_[argv[0]];
    if (intercept) {
      if (std::optional<RedisReply> reply = intercept(db, argv)) {
        if (reply->is_error()) ++errors;
        return *reply;
      }
    }
    const std::string& cmd = argv[0];
    bool wrong = false;
    if (cmd == "HSET") {
      Hash* hash = HashAt(db, argv[1], /*create=*/true, &wrong);
      if (wrong) return WrongType();
      long long added = 0;
      for (size_t i = 2; i + 1 < argv.size(); i += 2) {
        added += hash->insert_or_assign(argv[i], argv[i + 1]).second ? 1 : 0;
      }
      notifications.push_back({db, argv[1], "hset"});
      return Integer(added);
    }
    if (cmd == "HGET" || cmd == "HMGET" || cmd == "HEXISTS" || cmd == "HGETALL") {
      Hash* hash = HashAt(db, argv[1], /*create=*/false, &wrong);
      if (wrong) return WrongType();
      auto field = [&](const std::string& name) {
        if (hash == nullptr || hash->count(name) == 0) return RedisReply{};
        return Bulk(hash->at(name));
      };
      if (cmd == "HGET") return field(argv[2]);
      if (cmd == "HEXISTS") return Integer(hash != nullptr && hash->count(argv[2]) > 0);
      std::vector<RedisReply> out;
      if (cmd == "HMGET") {
        for (size_t i = 2; i < argv.size(); ++i) out.push_back(field(argv[i]));
      } else if (hash != nullptr) {
        for (const auto& [f, v] : *hash) {
          out.push_back(Bulk(f));
          out.push_back(Bulk(v));
        }
      }
      return Array(std::move(out));
    }
    if (cmd == "EXISTS") return Integer(dbs_[db].count(argv[1]));
    if (cmd == "DEL") {
      long long n = 0;
      for (size_t i = 1; i < argv.size(); ++i) {
        if (dbs_[db].erase(argv[i]) > 0) {
          ++n;
          notifications.push_back({db, argv[i], "del"});
        }
      }
      return Integer(n);
    }
    if (cmd == "SCAN") {  // SCAN 0 MATCH <pattern> COUNT n: everything in one page
      std::vector<RedisReply> keys;
      for (const auto& [key, value] : dbs_[db]) {
        if (fnmatch(argv[3].c_str(), key.c_str(), 0) == 0) keys.push_back(Bulk(key));
      }
      return Array({Bulk("0"), Array(std::move(keys))});
    }
    if (cmd ==
        "EVAL") {  // ProducerStateSet: KEYS[2] the key set, KEYS[3] the hash; ARGV key, f v...
      Hash* hash = HashAt(db, argv[5], /*create=*/true, &wrong);
      if (wrong) return Error("ERR Error running script: WRONGTYPE");
      for (size_t i = 8; i + 1 < argv.size(); i += 2) (*hash)[argv[i]] = argv[i + 1];
      notifications.push_back({db, argv[5], "hset"});
      return RedisReply{};
    }
    return Error(absl::StrCat("ERR unknown command '", cmd, "' (fake)"));
  }

  std::map<int, std::map<std::string, Value>> dbs_;
  std::map<std::string, int> counts_;
  int generation_ = 0;
};

}  // namespace portsyncd

#endif  // PORTSYNCD_TESTS_UNIT_FAKE_REDIS_H_
