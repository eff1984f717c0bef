// The engine thread formats its STATE_DB batches straight into Redis' protocol
// (AppendStateBatchProtocol); the writer thread builds the same commands as argument vectors
// (StateBatchCommands) for hiredis to format. Both must put the same bytes on the wire.
#include "core/state_batch.h"

#include <hiredis/hiredis.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace portsyncd {
namespace {

// What hiredis sends for `commands`.
std::string HiredisProtocol(const std::vector<RedisArgv>& commands) {
  std::string out;
  for (const RedisArgv& argv : commands) {
    std::vector<const char*> args;
    std::vector<size_t> lens;
    for (const std::string& a : argv) {
      args.push_back(a.data());
      lens.push_back(a.size());
    }
    char* cmd = nullptr;
    const long long n =
        redisFormatCommandArgv(&cmd, static_cast<int>(args.size()), args.data(), lens.data());
    EXPECT_GT(n, 0);
    out.append(cmd, n);
    redisFreeCommand(cmd);
  }
  return out;
}

StateWrite Write(const std::string& name, bool del, std::optional<StateFields> set) {
  StateWrite w;
  w.name = name;
  w.del = del;
  w.set = set;
  return w;
}

TEST(StateBatchTest, TheEngineThreadsProtocolIsWhatHiredisMakesOfTheCommands) {
  StateFields up;
  up.oper_up = true;
  up.admin_up = true;
  up.mtu = 9100;
  StateFields down;
  down.mtu = 68;
  const std::vector<StateWrite> writes = {
      Write("Ethernet0", false, up),                   // HSET
      Write("Ethernet4", true, std::nullopt),          // DEL
      Write("Ethernet128", true, down),                // DEL, then HSET
      Write("PortChannel0001", false, StateFields{}),  // MTU 0
  };
  std::string protocol;
  AppendStateBatchProtocol(writes, "PORT_TABLE|", &protocol);
  EXPECT_EQ(protocol, HiredisProtocol(StateBatchCommands(writes, "PORT_TABLE|")));
  EXPECT_EQ(StateBatchCommandCount(writes), 5u);
  EXPECT_EQ(StateBatchCommands(writes, "PORT_TABLE|").size(), 5u);
  // Appends.
  std::string twice = protocol;
  AppendStateBatchProtocol(writes, "PORT_TABLE|", &twice);
  EXPECT_EQ(twice, protocol + protocol);
}

}  // namespace
}  // namespace portsyncd
