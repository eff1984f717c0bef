// KeyspaceWatcher: Redis keyspace notifications for a few key prefixes, on threads of its own.
//
// docs/COMPATIBILITY.md 7.3 and 7.8: when the server has keyspace notifications enabled (SONiC's
// database runs with `notify-keyspace-events AKE`), the engine learns of an APPL_DB entry
// appearing, of someone else touching our STATE_DB keys, and of a LOGGER change the moment they
// happen, instead of polling. Without them it keeps polling; the watcher says which, and why.
//
// One thread per Redis instance (unix socket or host:port) among the watched databases. Each:
// connects, reads `CONFIG GET notify-keyspace-events` (never changes it: the server is not ours),
// PSUBSCRIBEs to `__keyspace@<db>__:<prefix>*` for each watch, reports itself active, then hands
// every notification to the listener. Idle, it sleeps in poll() with no timeout: no wake-ups. On
// any error it reports itself inactive, waits with backoff and starts over; when the server's
// notifications are off it checks again every `recheck_interval`. While subscribed and quiet for
// `recheck_interval`, it reads the setting again on a short side connection, so turning
// notifications off at run time is noticed within that time. While a thread is not
// subscribed, notifications are lost: the listener must treat every activation as "anything may
// have changed" (the engine audits everything then).
#ifndef PORTSYNCD_CORE_KEYSPACE_WATCHER_H_
#define PORTSYNCD_CORE_KEYSPACE_WATCHER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/clock.h"
#include "core/db_config.h"

struct redisContext;

namespace portsyncd {

class ReplyElementLimit;

struct KeyspaceWatch {
  DbEndpoint endpoint;
  std::string key_prefix;  // "PORT_TABLE|": keys starting with it are reported
  int tag = 0;             // handed back with each event
};

class KeyspaceListener {
 public:
  virtual ~KeyspaceListener() = default;
  // A notification: `key_suffix` is the key without the watch's prefix, `event` Redis' event
  // name ("hset", "del", "hdel", "expired", ...). Called on a watcher thread: keep it short.
  virtual void OnKeyspaceEvent(int tag, absl::string_view key_suffix, absl::string_view event) = 0;
  // Every watch is subscribed (true), or at least one is not (false, with the reason). Called
  // on transitions only, on a watcher thread.
  virtual void OnKeyspaceActive(bool active, absl::string_view why) = 0;
};

// True when a notify-keyspace-events value delivers what the engine needs: keyspace channels
// ('K') with hash and generic events ('h' and 'g', or 'A', which includes both). Pure.
bool KeyspaceEventsSufficient(absl::string_view flags);

class KeyspaceWatcher {
 public:
  struct Options {
    absl::Duration timeout = absl::Seconds(2);  // connect and each setup round trip
    absl::Duration reconnect_initial = absl::Milliseconds(50);
    absl::Duration reconnect_max = absl::Milliseconds(500);
    // When the server's notifications are off (or CONFIG GET is refused), look again this often.
    absl::Duration recheck_interval = absl::Seconds(30);
    // A read sooner than this after the last read that delivered notifications waits for the
    // rest of the interval, so a burst (our own writes during a storm: one notification each)
    // costs a wake-up per interval, not one per notification; a notification after a quiet
    // interval is read at once. Each wake-up reads everything there is.
    absl::Duration coalesce = absl::ZeroDuration();
    // Tests: called instead of the coalescing wait, with its length, on the watcher's thread
    // (a deterministic pause: it returns when the test says).
    std::function<void(absl::Duration)> coalesce_wait;
    // Where `coalesce` reads the time (RealClock() when null); must outlive the watcher.
    const Clock* clock = nullptr;
  };

  // `listener` must outlive the watcher. Starts no thread until Start().
  KeyspaceWatcher(std::vector<KeyspaceWatch> watches, KeyspaceListener* listener, Options options);
  ~KeyspaceWatcher();  // stops and joins
  KeyspaceWatcher(const KeyspaceWatcher&) = delete;
  KeyspaceWatcher& operator=(const KeyspaceWatcher&) = delete;

  void Start();
  void Stop();

 private:
  struct Instance;
  void Run(Instance& instance);
  // Reads notifications until the connection fails or Stop(); returns why it ended.
  std::string Listen(Instance& instance, redisContext* c, const ReplyElementLimit& limit);
  void SetActive(Instance& instance, bool active, absl::string_view why);
  // A new connection to the instance (keepalive on TCP); check c->err.
  redisContext* Connect(const Instance& instance);
  // CONFIG GET notify-keyspace-events; FailedPrecondition when the server refuses to say.
  static absl::StatusOr<std::string> ReadFlags(redisContext* c);
  // Sleeps up to `d` unless stopped; returns true when stopped.
  bool Sleep(absl::Duration d);
  // Waits `wait` before the next read (Options::coalesce), unless stopped.
  void Coalesce(absl::Duration wait);
  // Reads per wake-up at most (16 KiB each).
  static constexpr int kMaxReadsPerWake = 64;
  // Something to read on `fd` now (or it closed).
  static bool Readable(int fd);

  KeyspaceListener* const listener_;
  const Options options_;
  const Clock& clock_;
  std::vector<std::unique_ptr<Instance>> instances_;
  int stop_fd_ = -1;  // eventfd
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> threads_;

  absl::Mutex mu_;
  size_t active_instances_ ABSL_GUARDED_BY(mu_) = 0;
  bool reported_active_ ABSL_GUARDED_BY(mu_) = false;
  bool reported_once_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace portsyncd

#endif  // PORTSYNCD_CORE_KEYSPACE_WATCHER_H_
