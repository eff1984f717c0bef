// KeyspaceEventsSufficient: which notify-keyspace-events values let the engine stop polling.
// (The watcher itself is tested against a real redis-server: tests/integration/test_keyspace.py.)
#include "core/keyspace_watcher.h"

#include "gtest/gtest.h"

namespace portsyncd {
namespace {

TEST(KeyspaceEventsSufficientTest, NeedsKeyspaceChannelsWithHashAndGenericEvents) {
  for (const char* flags : {"AKE", "KA", "Kgh", "KEA", "Kghx$", "hgK"}) {
    EXPECT_TRUE(KeyspaceEventsSufficient(flags)) << flags;
  }
  // Redis' default (off), keyevent channels only, keyspace without DEL ("g") or HSET ("h").
  for (const char* flags : {"", "EA", "Eg", "Kh", "Kg", "K", "Ex", "AE"}) {
    EXPECT_FALSE(KeyspaceEventsSufficient(flags)) << flags;
  }
}

}  // namespace
}  // namespace portsyncd
