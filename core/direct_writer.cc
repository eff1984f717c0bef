#include "core/direct_writer.h"

#include <fcntl.h>
#include <hiredis/hiredis.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/state_batch.h"

namespace portsyncd {

RedisContextPtr ConnectDirect(const DbEndpoint& endpoint, absl::Duration timeout,
                              std::string* error) {
  RedisContextPtr context(ConnectRedisContext(endpoint, timeout));
  if (context == nullptr || context->err != 0) {
    *error = absl::StrCat("cannot connect: ", context ? context->errstr : "out of memory");
    return nullptr;
  }
  auto* reply = static_cast<redisReply*>(redisCommand(context.get(), "SELECT %d", endpoint.id));
  const bool selected = reply != nullptr && reply->type != REDIS_REPLY_ERROR;
  if (reply != nullptr) freeReplyObject(reply);
  if (!selected) {
    *error = absl::StrCat("SELECT ", endpoint.id, " failed");
    return nullptr;
  }
  const int flags = fcntl(context->fd, F_GETFL);
  if (flags < 0 || fcntl(context->fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    *error = absl::StrCat("fcntl: ", std::strerror(errno));
    return nullptr;
  }
  context->flags &= ~REDIS_BLOCK;  // hiredis then treats EAGAIN as "later", not an error
  return context;
}

DirectWriter::DirectWriter(const EngineOptions& options, std::string key_prefix,
                           SharedModel& shared, EngineCounters& counters, WriteTracker* tracker)
    : options_(options),
      key_prefix_(std::move(key_prefix)),
      shared_(shared),
      counters_(counters),
      tracker_(tracker) {}

void DirectWriter::Want() {
  if (wanted_ || active() || !options_.direct_writes) return;
  wanted_ = true;
  shared_.direct.Want();
}

void DirectWriter::Adopt() {
  if (active()) return;
  context_ = shared_.direct.Take();
  if (context_ == nullptr) return;
  wanted_ = false;
  reply_limit_.Attach(context_->reader);
  LOG_INFO("direct STATE_DB connection: up; port writes go from the engine thread to Redis");
}

pollfd DirectWriter::PollFd() const {
  if (!active()) return {-1, 0, 0};
  short events = POLLIN;  // replies, or the server closing the connection
  if (output_pending_) events |= POLLOUT;
  return {context_->fd, events, 0};
}

bool DirectWriter::Send(absl::Time now) {
  if (!active()) return false;
  // Full: what is dirty goes out when the oldest batch is answered (CompleteOldest).
  if (in_flight_.size() >= kMaxBatchesInFlight) return true;
  Batch batch;
  {
    absl::MutexLock lock(&shared_.mu);
    batch.writes = shared_.model.TakeDirty();  // never a port whose write is in flight
  }
  if (batch.writes.empty()) return true;
  batch.commands = StateBatchCommandCount(batch.writes);
  // The notifications these writes will cause are ours (WriteTracker::OnEvent skips them).
  if (tracker_ != nullptr) tracker_->ExpectWrites(batch.writes);
  protocol_.clear();
  AppendStateBatchProtocol(batch.writes, key_prefix_, &protocol_);
  redisAppendFormattedCommand(context_.get(), protocol_.data(), protocol_.size());
  batch.sent = now;
  in_flight_.push_back(std::move(batch));
  int done = 0;
  if (redisBufferWrite(context_.get(), &done) != REDIS_OK) {
    GiveUp(absl::StrCat("write: ", context_->errstr));
    return false;
  }
  output_pending_ = done == 0;  // the rest when the socket is writable
  return true;
}

void DirectWriter::OnReady(short revents, absl::Time now) {
  if (!active()) return;
  if ((revents & POLLOUT) != 0 && output_pending_) {
    int done = 0;
    if (redisBufferWrite(context_.get(), &done) != REDIS_OK) {
      return GiveUp(absl::StrCat("write: ", context_->errstr));
    }
    output_pending_ = done == 0;
  }
  if ((revents & (POLLIN | POLLHUP | POLLERR)) == 0) return;
  if (redisBufferRead(context_.get()) != REDIS_OK) {
    return GiveUp(context_->errstr[0] ? context_->errstr : "connection closed");
  }
  bool completed = false;
  // Batches completed before an error are recorded: say so before giving the rest up.
  const auto fail = [&](const std::string& why) {
    if (completed) shared_.NotifyStateChange();
    GiveUp(why);
  };
  while (true) {
    void* raw = nullptr;
    if (redisGetReplyFromReader(context_.get(), &raw) != REDIS_OK) {
      return fail(reply_limit_.exceeded() ? std::string("a reply declared too many array elements")
                                          : absl::StrCat("protocol error: ", context_->errstr));
    }
    if (raw == nullptr) break;
    RedisReply reply = CopyRedisReply(static_cast<redisReply*>(raw));
    freeReplyObject(raw);
    if (!busy()) return fail("a reply nothing asked for");
    replies_.push_back(std::move(reply));
    if (replies_.size() == in_flight_.front().commands) {
      CompleteOldest(now);
      completed = true;
    }
  }
  if (!completed) return;
  shared_.NotifyStateChange();
  // What became dirty while those batches were in flight.
  if (!Send(now)) shared_.writer.Wake();
}

void DirectWriter::CompleteOldest(absl::Time now) {
  Batch& batch = in_flight_.front();
  counters_.redis_round_trip.Record(now - batch.sent);
  absl::Status refused;
  {
    absl::MutexLock lock(&shared_.mu);
    bool someone_else = false;
    refused = CompleteStateBatch(batch.writes, key_prefix_, replies_, now, shared_.model, tracker_,
                                 counters_, &someone_else);
    if (someone_else) shared_.writer.Wake();  // the writer checks that key
  }
  replies_.clear();
  in_flight_.pop_front();
  if (!refused.ok()) {
    counters_.redis_errors.fetch_add(1);
    if (log_.Allow()) LOG_WARN("Redis: ", refused.message(), "; the audit will retry");
  }
}

void DirectWriter::CheckTimeout(absl::Time now) {
  if (busy() && now >= deadline()) {
    GiveUp(absl::StrCat("no reply within ", absl::FormatDuration(options_.redis_timeout)));
  }
}

void DirectWriter::GiveUp(const std::string& why, bool quiet) {
  if (!active()) return;
  if (!quiet) {
    counters_.redis_errors.fetch_add(1);
    if (log_.Allow()) {
      LOG_WARN("direct STATE_DB connection: ", why,
               "; the writer thread takes its writes over and reconnects");
    }
  }
  context_.reset();
  output_pending_ = false;
  replies_.clear();
  if (busy()) {
    // Unknown what was applied: written again by the writer thread.
    if (tracker_ != nullptr) tracker_->Clear();
    absl::MutexLock lock(&shared_.mu);
    for (const Batch& batch : in_flight_) shared_.model.AbandonWrites(batch.writes);
    shared_.writer.Wake();
  }
  in_flight_.clear();
  if (!quiet) Want();
  shared_.writer.Wake();
}

}  // namespace portsyncd
