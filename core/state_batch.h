// A batch of STATE_DB port writes: its commands, and what is done once Redis answered them.
// Shared by the two threads that write ports (core/state_writer.h, core/direct_writer.h).
// Pure but for the model, the tracker and the counters it is handed.
#ifndef PORTSYNCD_CORE_STATE_BATCH_H_
#define PORTSYNCD_CORE_STATE_BATCH_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/engine_shared.h"
#include "core/port_model.h"
#include "core/redis_client.h"
#include "core/write_tracker.h"

namespace portsyncd {

// A DEL that Redis refused or that found no key notifies nothing.
inline bool DelNotifiedNothing(const RedisReply& reply) {
  return reply.is_error() || (reply.type == RedisReply::Type::kInteger && reply.integer == 0);
}

// DEL and/or HSET per write, in order. `key_prefix`: "PORT_TABLE" + STATE_DB's separator.
std::vector<RedisArgv> StateBatchCommands(const std::vector<StateWrite>& writes,
                                          absl::string_view key_prefix);
// How many commands StateBatchCommands makes of `writes`.
size_t StateBatchCommandCount(const std::vector<StateWrite>& writes);
// Appends StateBatchCommands(writes, key_prefix) to `out` in Redis' protocol (RESP), byte for
// byte what hiredis makes of them, without building them: the engine thread's path for each
// kernel change (core/direct_writer.h).
void AppendStateBatchProtocol(const std::vector<StateWrite>& writes, absl::string_view key_prefix,
                              std::string* out);

// Redis answered the commands StateBatchCommands makes of `writes` with `replies` at
// `acked`. Call with the model's mutex held. Completes each write in `model` (a refused one is
// not recorded), takes back from `tracker` (may be null) the notifications of commands that
// notified nothing (a DEL that found no key, a refused command), records each successful write's
// event-to-STATE_DB latency and counts the batch. Returns the first refusal, OK when none; sets
// *someone_else when a take-back showed someone else's write landed in between (the writer must
// run to check the key).
[[nodiscard]] absl::Status CompleteStateBatch(const std::vector<StateWrite>& writes,
                                              absl::string_view key_prefix,
                                              const std::vector<RedisReply>& replies,
                                              absl::Time acked, PortModel& model,
                                              WriteTracker* tracker, EngineCounters& counters,
                                              bool* someone_else);

}  // namespace portsyncd

#endif  // PORTSYNCD_CORE_STATE_BATCH_H_
