#include "core/state_batch.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "core/sonic_tables.h"

namespace portsyncd {

std::vector<RedisArgv> StateBatchCommands(const std::vector<StateWrite>& writes,
                                          absl::string_view key_prefix) {
  std::vector<RedisArgv> commands;
  commands.reserve(writes.size());
  for (const StateWrite& write : writes) {
    const std::string key = absl::StrCat(key_prefix, write.name);
    if (write.del) commands.push_back({"DEL", key});
    if (write.set) commands.push_back(StateFieldsHset(key, *write.set));
  }
  return commands;
}

size_t StateBatchCommandCount(const std::vector<StateWrite>& writes) {
  size_t n = 0;
  for (const StateWrite& write : writes) n += (write.del ? 1 : 0) + (write.set ? 1 : 0);
  return n;
}

namespace {

void AppendCommandProtocol(absl::Span<const absl::string_view> argv, std::string* out) {
  absl::StrAppend(out, "*", argv.size(), "\r\n");
  for (absl::string_view arg : argv) absl::StrAppend(out, "$", arg.size(), "\r\n", arg, "\r\n");
}

}  // namespace

void AppendStateBatchProtocol(const std::vector<StateWrite>& writes, absl::string_view key_prefix,
                              std::string* out) {
  std::string key;
  for (const StateWrite& write : writes) {
    key.assign(key_prefix.data(), key_prefix.size());
    key.append(write.name);
    if (write.del) AppendCommandProtocol({"DEL", key}, out);
    if (write.set) {
      const absl::AlphaNum mtu(write.set->mtu);
      AppendCommandProtocol(StateFieldsHsetArgs(key, *write.set, mtu.Piece()), out);
    }
  }
}

absl::Status CompleteStateBatch(const std::vector<StateWrite>& writes, absl::string_view key_prefix,
                                const std::vector<RedisReply>& replies, absl::Time acked,
                                PortModel& model, WriteTracker* tracker, EngineCounters& counters,
                                bool* someone_else) {
  uint64_t deletes = 0;
  for (const StateWrite& write : writes) deletes += write.del ? 1 : 0;
  counters.state_db_batches.fetch_add(1);
  counters.state_db_writes.fetch_add(replies.size() - deletes);
  counters.state_db_deletes.fetch_add(deletes);
  absl::Status refused = absl::OkStatus();
  size_t i = 0;
  for (const StateWrite& write : writes) {
    const size_t n = (write.del ? 1 : 0) + (write.set ? 1 : 0);
    if (tracker != nullptr) {
      // Commands that notify nothing: a DEL of a key that did not exist, and any command Redis
      // refused. Take their expectations back.
      if (write.del && DelNotifiedNothing(replies[i])) {
        if (tracker->TakeBack(/*del=*/true, write.name)) *someone_else = true;
      }
      if (write.set && replies[i + n - 1].is_error()) {
        if (tracker->TakeBack(/*del=*/false, write.name)) *someone_else = true;
      }
    }
    bool ok = true;
    for (size_t j = i; j < i + n; ++j) ok = ok && !replies[j].is_error();
    // A refused write is not recorded: the audit sees the port unwritten and retries it.
    model.CompleteWrite(write, ok);
    if (ok && write.since != absl::InfinitePast()) {
      counters.event_to_state_db.Record(acked - write.since);
    }
    if (!ok && refused.ok()) {
      refused = CheckReplies(StateBatchCommands({write}, key_prefix),
                             {replies.begin() + i, replies.begin() + i + n});
    }
    i += n;
  }
  return refused;
}

}  // namespace portsyncd
