#include "core/redis_connection.h"

#include <sys/time.h>


#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/status_macros.h"

namespace portsyncd {

RedisReply CopyRedisReply(const redisReply* reply) {
  RedisReply out;
  switch (reply->type) {
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::kInteger;
      out.integer = reply->integer;
      break;
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::kString;
      out.str.assign(reply->str, reply->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::kStatus;
      out.str.assign(reply->str, reply->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = RedisReply::Type::kError;
      out.str.assign(reply->str, reply->len);
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::kArray;
      out.elements.reserve(reply->elements);
      for (size_t i = 0; i < reply->elements; ++i) {
        out.elements.push_back(CopyRedisReply(reply->element[i]));
      }
      break;
    default:
      out.type = RedisReply::Type::kNil;
  }
  return out;
}

namespace {

struct ReplyDeleter {
  void operator()(void* reply) const { freeReplyObject(reply); }
};

}  // namespace

redisContext* ConnectRedisContext(const DbEndpoint& endpoint, absl::Duration timeout) {
  const timeval tv = absl::ToTimeval(timeout);
  redisContext* context =
      endpoint.unix_socket_path.empty()
          ? redisConnectWithTimeout(endpoint.hostname.c_str(), endpoint.port, tv)
          : redisConnectUnixWithTimeout(endpoint.unix_socket_path.c_str(), tv);
  if (context != nullptr && context->err == 0) redisSetTimeout(context, tv);
  return context;
}

void RedisContextDeleter::operator()(redisContext* context) const {
  if (context != nullptr) redisFree(context);
}

void AppendRedisCommand(redisContext* context, const RedisArgv& argv) {
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
  ptrs.reserve(argv.size());
  lens.reserve(argv.size());
  for (const std::string& arg : argv) {
    ptrs.push_back(arg.data());
    lens.push_back(arg.size());
  }
  redisAppendCommandArgv(context, static_cast<int>(argv.size()), ptrs.data(), lens.data());
}

void ReplyElementLimit::Attach(redisReader* reader) {
  functions_ = *reader->fn;
  base_create_array_ = functions_.createArray;
  functions_.createArray = &ReplyElementLimit::CreateArray;
  reader->fn = &functions_;
  reader->privdata = this;
  used_ = 0;
}

void* ReplyElementLimit::CreateArray(const redisReadTask* task, int elements) {
  auto* self = static_cast<ReplyElementLimit*>(task->privdata);
  if (task->parent == nullptr) self->used_ = 0;  // the outermost array: a new reply
  if (elements > 0) self->used_ += elements;
  if (elements < -1 || self->used_ > self->max_elements_) {
    self->exceeded_ = true;
    return nullptr;  // hiredis turns this into a reader error ("Out of memory")
  }
  return self->base_create_array_(task, elements);
}

RedisConnection::RedisConnection(redisContext* context, DbEndpoint endpoint)
    : context_(context), endpoint_(std::move(endpoint)) {
  reply_limit_.Attach(context_->reader);
}

RedisConnection::~RedisConnection() { redisFree(context_); }

absl::StatusOr<std::unique_ptr<RedisConnection>> RedisConnection::Connect(
    const DbEndpoint& endpoint, absl::Duration timeout) {
  redisContext* context = ConnectRedisContext(endpoint, timeout);
  if (context == nullptr) {
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot allocate a Redis context for ", endpoint.Describe()));
  }
  if (context->err != 0) {
    std::string message =
        absl::StrCat("cannot connect to ", endpoint.Describe(), ": ", context->errstr);
    if (!endpoint.unix_socket_path.empty() && absl::StrContains(context->errstr, "denied")) {
      // Debian's redis-server makes its socket 0700 redis:redis; root without
      // CAP_DAC_OVERRIDE (our systemd unit drops it) cannot open that.
      absl::StrAppend(&message,
                      " (the socket must be writable by portsyncd: e.g. redis.conf "
                      "unixsocketperm 770 and portsyncd in the socket's group, "
                      "SupplementaryGroups=redis in the unit; docs/OPERATIONS.md)");
    }
    redisFree(context);
    return absl::UnavailableError(message);
  }
  auto connection = std::unique_ptr<RedisConnection>(new RedisConnection(context, endpoint));
  ASSIGN_OR_RETURN(RedisReply reply, connection->Command({"SELECT", absl::StrCat(endpoint.id)}));
  if (reply.is_error()) {
    return absl::FailedPreconditionError(
        absl::StrCat(endpoint.Describe(), ": SELECT ", endpoint.id, " failed: ", reply.str));
  }
  return connection;
}

absl::Status RedisConnection::IoError(absl::string_view what) {
  broken_ = true;
  if (reply_limit_.exceeded()) {
    // Unavailable, like any broken connection: the owner reconnects with backoff.
    return absl::UnavailableError(
        absl::StrCat(endpoint_.Describe(), ": ", what, ": the reply declares more than ",
                     reply_limit_.max_elements(), " array elements; refused, connection dropped"));
  }
  return absl::UnavailableError(absl::StrCat(endpoint_.Describe(), ": ", what, ": ",
                                             context_->errstr[0] ? context_->errstr : "I/O error"));
}

absl::StatusOr<RedisReply> RedisConnection::Command(const RedisArgv& argv) {
  ASSIGN_OR_RETURN(std::vector<RedisReply> replies, Pipeline({argv}));
  return std::move(replies.front());
}

absl::StatusOr<std::vector<RedisReply>> RedisConnection::Pipeline(
    const std::vector<RedisArgv>& commands) {
  if (broken_)
    return absl::UnavailableError(absl::StrCat(endpoint_.Describe(), ": connection broken"));
  for (const RedisArgv& argv : commands) AppendRedisCommand(context_, argv);
  std::vector<RedisReply> replies;
  replies.reserve(commands.size());
  for (size_t i = 0; i < commands.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(context_, &raw) != REDIS_OK || raw == nullptr) {
      return IoError(absl::StrCat(commands[i].empty() ? "" : commands[i][0], " failed"));
    }
    std::unique_ptr<void, ReplyDeleter> owned(raw);
    replies.push_back(CopyRedisReply(static_cast<redisReply*>(raw)));
  }
  return replies;
}

}  // namespace portsyncd
