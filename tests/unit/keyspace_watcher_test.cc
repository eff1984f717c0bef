// KeyspaceEventsSufficient: which notify-keyspace-events values let the engine stop polling; and
// the watcher's coalescing, against a scripted server on a unix socket (the test decides when each
// notification arrives and when the watcher's pause ends). The watcher is also tested against a
// real redis-server: tests/integration/test_keyspace.py.
#include "core/keyspace_watcher.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/unix_listener.h"

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

// Answers the watcher's CONFIG GET (AKE) and PSUBSCRIBE, then sends what the test asks for.
class ScriptedPubSubServer {
 public:
  ScriptedPubSubServer() : thread_([this] { Serve(); }) {}
  ~ScriptedPubSubServer() {
    thread_.join();
    if (conn_ >= 0) close(conn_);
  }
  DbEndpoint endpoint() const { return DbEndpoint{"STATE_DB", 6, "|", listener_.path(), "", 0}; }
  // A keyspace notification of `key` in database 6, as Redis sends it to a PSUBSCRIBEr. Written
  // to the socket before this returns.
  void Notify(const std::string& key, const std::string& event) { NotifyAll({key}, event); }
  // One notification per key, in one write.
  void NotifyAll(const std::vector<std::string>& keys, const std::string& event) {
    absl::MutexLock lock(&mu_);
    ASSERT_TRUE(mu_.AwaitWithTimeout(absl::Condition(
                                         +[](int* fd) { return *fd >= 0; }, &conn_),
                                     absl::Seconds(10)));
    const std::string pattern = "__keyspace@6__:PORT_TABLE|*";
    std::string m;
    for (const std::string& key : keys) {
      const std::string channel = "__keyspace@6__:" + key;
      m += "*4\r\n$8\r\npmessage\r\n";
      for (const std::string* s : {&pattern, &channel, &event}) {
        absl::StrAppend(&m, "$", s->size(), "\r\n", *s, "\r\n");
      }
    }
    ASSERT_EQ(write(conn_, m.data(), m.size()), static_cast<ssize_t>(m.size()));
  }

 private:
  // Reads the client's requests until `end` has arrived.
  bool ReadUntil(int conn, std::string& got, const std::string& end) {
    char buf[4096];
    while (got.find(end) == std::string::npos) {
      pollfd pfd{conn, POLLIN, 0};
      if (poll(&pfd, 1, 10000) != 1) return false;
      const ssize_t n = read(conn, buf, sizeof(buf));
      if (n <= 0) return false;
      got.append(buf, n);
    }
    return true;
  }
  void Serve() {
    const int conn = listener_.Accept();
    if (conn < 0) return;
    std::string got;
    const std::string flags = "*2\r\n$22\r\nnotify-keyspace-events\r\n$3\r\nAKE\r\n";
    const std::string pattern = "__keyspace@6__:PORT_TABLE|*";
    const std::string subscribed =
        absl::StrCat("*3\r\n$10\r\npsubscribe\r\n$", pattern.size(), "\r\n", pattern, "\r\n:1\r\n");
    if (!ReadUntil(conn, got, "notify-keyspace-events\r\n") ||
        write(conn, flags.data(), flags.size()) != static_cast<ssize_t>(flags.size()) ||
        !ReadUntil(conn, got, pattern + "\r\n") ||
        write(conn, subscribed.data(), subscribed.size()) !=
            static_cast<ssize_t>(subscribed.size())) {
      close(conn);
      return;
    }
    {
      absl::MutexLock lock(&mu_);
      conn_ = conn;
    }
    // Until the watcher hangs up.
    char buf[256];
    while (read(conn, buf, sizeof(buf)) > 0) {
    }
  }

  UnixListener listener_{"keyspace-test"};
  absl::Mutex mu_;
  int conn_ ABSL_GUARDED_BY(mu_) = -1;
  std::thread thread_;  // last: it uses the above
};

// Records what the watcher delivers, and each coalescing pause ("|" and its length) where it
// came; a pause holds the watcher until the test releases it.
class Recorder : public KeyspaceListener {
 public:
  void OnKeyspaceEvent(int tag, absl::string_view key_suffix, absl::string_view event) override {
    absl::MutexLock lock(&mu_);
    sequence_.push_back(absl::StrCat(tag, ":", key_suffix, ":", event));
    ++events_;
  }
  void OnKeyspaceActive(bool active, absl::string_view) override {
    absl::MutexLock lock(&mu_);
    active_ = active;
  }
  // The watcher's coalesce_wait.
  void Pause(absl::Duration wait) {
    absl::MutexLock lock(&mu_);
    sequence_.push_back(absl::StrCat("|", absl::FormatDuration(wait)));
    const size_t pause = ++pauses_;
    auto released = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return released_ >= pause; };
    mu_.Await(absl::Condition(&released));
  }
  void Release() {
    absl::MutexLock lock(&mu_);
    ++released_;
  }
  // No pause waits any more.
  void ReleaseAll() {
    absl::MutexLock lock(&mu_);
    released_ = SIZE_MAX;
  }
  void AwaitActive() {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&active_), absl::Seconds(10));
  }
  // Wait (10 s at most) for `n` notifications, or `n` pauses; the sequence so far.
  std::vector<std::string> AwaitEvents(size_t n) { return AwaitCount(&events_, n); }
  std::vector<std::string> AwaitPauses(size_t n) { return AwaitCount(&pauses_, n); }

 private:
  std::vector<std::string> AwaitCount(const size_t* count, size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return *count >= n; };
    mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(10));
    return sequence_;
  }

  absl::Mutex mu_;
  bool active_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::string> sequence_ ABSL_GUARDED_BY(mu_);
  size_t events_ ABSL_GUARDED_BY(mu_) = 0;
  size_t pauses_ ABSL_GUARDED_BY(mu_) = 0;
  size_t released_ ABSL_GUARDED_BY(mu_) = 0;
};

class KeyspaceWatcherTest : public ::testing::Test {
 protected:
  KeyspaceWatcher::Options MakeOptions() {
    KeyspaceWatcher::Options options;
    options.coalesce = absl::Milliseconds(5);
    options.coalesce_wait = [this](absl::Duration wait) { recorder_.Pause(wait); };
    options.clock = &clock_;  // moves only when the test says
    return options;
  }
  void TearDown() override {
    recorder_.ReleaseAll();  // before the watcher's destructor joins its thread
    watcher_.Stop();
  }

  ScriptedPubSubServer server_;
  Recorder recorder_;
  FakeClock clock_;
  KeyspaceWatcher watcher_{
      {KeyspaceWatch{server_.endpoint(), "PORT_TABLE|", 7}}, &recorder_, MakeOptions()};
};

using ::testing::ElementsAre;

TEST_F(KeyspaceWatcherTest, ANotificationSoonAfterTheLastWaitsForTheIntervalAndIsReadWithOthers) {
  watcher_.Start();
  recorder_.AwaitActive();
  // The first is read at once.
  server_.Notify("PORT_TABLE|Ethernet0", "hset");
  EXPECT_THAT(recorder_.AwaitEvents(1), ElementsAre("7:Ethernet0:hset"));
  // One no time after it waits the whole interval; two more come meanwhile: one read.
  server_.Notify("PORT_TABLE|Ethernet4", "hset");
  EXPECT_THAT(recorder_.AwaitPauses(1), ElementsAre("7:Ethernet0:hset", "|5ms"));
  server_.NotifyAll({"PORT_TABLE|Ethernet8", "PORT_TABLE|Ethernet0"}, "del");
  recorder_.Release();
  EXPECT_THAT(recorder_.AwaitEvents(4), ElementsAre("7:Ethernet0:hset", "|5ms", "7:Ethernet4:hset",
                                                    "7:Ethernet8:del", "7:Ethernet0:del"));
  // After a quiet interval: at once.
  clock_.Advance(absl::Milliseconds(5));
  server_.Notify("PORT_TABLE|Ethernet12", "hset");
  EXPECT_EQ(recorder_.AwaitEvents(5).back(), "7:Ethernet12:hset");
  // 2 ms after: the rest of the interval.
  clock_.Advance(absl::Milliseconds(2));
  server_.Notify("PORT_TABLE|Ethernet16", "hset");
  recorder_.Release();  // (the pause returns at once)
  EXPECT_THAT(recorder_.AwaitEvents(6),
              ElementsAre("7:Ethernet0:hset", "|5ms", "7:Ethernet4:hset", "7:Ethernet8:del",
                          "7:Ethernet0:del", "7:Ethernet12:hset", "|3ms", "7:Ethernet16:hset"));
}

TEST_F(KeyspaceWatcherTest, ABacklogLargerThanOneReadIsReadToItsEndInOneWakeUp) {
  watcher_.Start();
  recorder_.AwaitActive();
  server_.Notify("PORT_TABLE|Ethernet0", "hset");
  recorder_.AwaitEvents(1);
  server_.Notify("PORT_TABLE|Ethernet4", "hset");
  recorder_.AwaitPauses(1);
  // About 55 KiB while it waits (one write, within the socket's buffer): hiredis reads 16 KiB
  // at a time. Read in pieces, the rest would wait for another interval (a second pause, which
  // this test never releases).
  constexpr int kBacklog = 512;
  std::vector<std::string> keys;
  for (int i = 0; i < kBacklog; ++i) keys.push_back(absl::StrCat("PORT_TABLE|Ethernet", 100 + i));
  server_.NotifyAll(keys, "hset");
  recorder_.Release();
  const std::vector<std::string> sequence = recorder_.AwaitEvents(2 + kBacklog);
  EXPECT_EQ(sequence.size(), 3u + kBacklog);  // one pause
  EXPECT_EQ(sequence.back(), absl::StrCat("7:Ethernet", 100 + kBacklog - 1, ":hset"));
}

}  // namespace
}  // namespace portsyncd
