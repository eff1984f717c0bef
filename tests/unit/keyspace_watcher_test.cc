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
#include "gmock/gmock.h"
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

// Answers the watcher's CONFIG GET (AKE) and PSUBSCRIBE, then sends what the test asks for.
class ScriptedPubSubServer {
 public:
  ScriptedPubSubServer() {
    char tmpl[] = "/tmp/psd-keyspace-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/redis.sock";
    listener_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    path_.copy(addr.sun_path, sizeof(addr.sun_path) - 1);
    EXPECT_EQ(bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(listen(listener_, 1), 0);
    thread_ = std::thread([this] { Serve(); });
  }
  ~ScriptedPubSubServer() {
    thread_.join();
    if (conn_ >= 0) close(conn_);
    close(listener_);
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }
  DbEndpoint endpoint() const { return DbEndpoint{"STATE_DB", 6, "|", path_, "", 0}; }
  // A keyspace notification of `key` in database 6, as Redis sends it to a PSUBSCRIBEr. Written
  // to the socket before this returns.
  void Notify(const std::string& key, const std::string& event) {
    absl::MutexLock lock(&mu_);
    ASSERT_TRUE(mu_.AwaitWithTimeout(absl::Condition(
                                         +[](int* fd) { return *fd >= 0; }, &conn_),
                                     absl::Seconds(10)));
    const std::string pattern = "__keyspace@6__:PORT_TABLE|*";
    const std::string channel = "__keyspace@6__:" + key;
    std::string m = "*4\r\n$8\r\npmessage\r\n";
    for (const std::string* s : {&pattern, &channel, &event}) {
      absl::StrAppend(&m, "$", s->size(), "\r\n", *s, "\r\n");
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
    pollfd pfd{listener_, POLLIN, 0};
    if (poll(&pfd, 1, 10000) != 1) return;
    const int conn = accept(listener_, nullptr, nullptr);
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

  std::string dir_;
  std::string path_;
  int listener_ = -1;
  std::thread thread_;
  absl::Mutex mu_;
  int conn_ ABSL_GUARDED_BY(mu_) = -1;
};

// Records each read's notifications as one batch, and holds the watcher in its coalescing pause
// until the test releases it.
class BatchRecorder : public KeyspaceListener {
 public:
  void OnKeyspaceEvent(int tag, absl::string_view key_suffix, absl::string_view event) override {
    absl::MutexLock lock(&mu_);
    current_.push_back(absl::StrCat(tag, ":", key_suffix, ":", event));
  }
  void OnKeyspaceActive(bool active, absl::string_view) override {
    absl::MutexLock lock(&mu_);
    active_ = active;
  }
  // The watcher's coalesce_wait: the batch read so far is complete; wait for Release().
  void Pause() {
    absl::MutexLock lock(&mu_);
    batches_.push_back(std::move(current_));
    current_.clear();
    const size_t pause = batches_.size();
    auto released = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return released_ >= pause; };
    mu_.Await(absl::Condition(&released));
  }
  void Release() {
    absl::MutexLock lock(&mu_);
    ++released_;
  }
  // No pause waits any more (before Stop, so a failed test still ends).
  void ReleaseAll() {
    absl::MutexLock lock(&mu_);
    released_ = SIZE_MAX;
  }
  void AwaitActive() {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&active_), absl::Seconds(10));
  }
  // Waits (10 s at most) until the watcher has paused `n` times; the batches read before each
  // pause.
  std::vector<std::vector<std::string>> AwaitPauses(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return batches_.size() >= n; };
    mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(10));
    return batches_;
  }

 private:
  absl::Mutex mu_;
  bool active_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::string> current_ ABSL_GUARDED_BY(mu_);
  std::vector<std::vector<std::string>> batches_ ABSL_GUARDED_BY(mu_);
  size_t released_ ABSL_GUARDED_BY(mu_) = 0;
};

TEST(KeyspaceWatcherTest, NotificationsDuringThePauseAfterAReadAreReadTogether) {
  ScriptedPubSubServer server;
  BatchRecorder recorder;
  KeyspaceWatcher::Options options;
  options.coalesce = absl::Hours(1);  // never reached: the test ends each pause
  options.coalesce_wait = [&recorder] { recorder.Pause(); };
  KeyspaceWatcher watcher({KeyspaceWatch{server.endpoint(), "PORT_TABLE|", 7}}, &recorder, options);
  watcher.Start();
  recorder.AwaitActive();
  // After a quiet spell the first notification is delivered at once, then the watcher pauses.
  server.Notify("PORT_TABLE|Ethernet0", "hset");
  EXPECT_THAT(recorder.AwaitPauses(1),
              ::testing::ElementsAre(::testing::ElementsAre("7:Ethernet0:hset")));
  // Three more while it pauses: one read takes them all.
  server.Notify("PORT_TABLE|Ethernet4", "hset");
  server.Notify("PORT_TABLE|Ethernet8", "del");
  server.Notify("PORT_TABLE|Ethernet0", "hset");
  recorder.Release();
  EXPECT_THAT(recorder.AwaitPauses(2),
              ::testing::ElementsAre(::testing::ElementsAre("7:Ethernet0:hset"),
                                     ::testing::ElementsAre("7:Ethernet4:hset", "7:Ethernet8:del",
                                                            "7:Ethernet0:hset")));
  recorder.ReleaseAll();
  watcher.Stop();
}

}  // namespace
}  // namespace portsyncd
