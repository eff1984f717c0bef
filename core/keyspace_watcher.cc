#include "core/keyspace_watcher.h"

#include <hiredis/hiredis.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "core/logging.h"
#include "core/redis_connection.h"
#include "core/thread_name.h"

namespace portsyncd {

bool KeyspaceEventsSufficient(absl::string_view flags) {
  auto has = [&](char c) { return flags.find(c) != absl::string_view::npos; };
  return has('K') && (has('A') || (has('g') && has('h')));
}

struct KeyspaceWatcher::Instance {
  DbEndpoint endpoint;  // where to connect (the first watch's; id unused)
  std::string label;    // "unix:/path" or "tcp:host:port"
  std::vector<KeyspaceWatch> watches;
  bool active = false;  // this thread only, and SetActive under mu_
};

namespace {

std::string InstanceLabel(const DbEndpoint& e) {
  return e.unix_socket_path.empty() ? absl::StrCat("tcp:", e.hostname, ":", e.port)
                                    : absl::StrCat("unix:", e.unix_socket_path);
}

struct ContextDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};
using Context = std::unique_ptr<redisContext, ContextDeleter>;

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

absl::string_view Str(const redisReply* r) {
  return r != nullptr && r->str != nullptr ? absl::string_view(r->str, r->len)
                                           : absl::string_view();
}

// One blocking round trip on a context not (yet) in subscribe mode.
absl::StatusOr<Reply> RoundTrip(redisContext* c, const RedisArgv& argv) {
  AppendRedisCommand(c, argv);
  void* raw = nullptr;
  if (redisGetReply(c, &raw) != REDIS_OK || raw == nullptr) {
    return absl::UnavailableError(absl::StrCat(argv[0], " failed: ", c->errstr));
  }
  return Reply(static_cast<redisReply*>(raw));
}

}  // namespace

KeyspaceWatcher::KeyspaceWatcher(std::vector<KeyspaceWatch> watches, KeyspaceListener* listener,
                                 Options options)
    : listener_(listener),
      options_(options),
      clock_(options.clock != nullptr ? *options.clock : RealClock()) {
  for (KeyspaceWatch& watch : watches) {
    const std::string label = InstanceLabel(watch.endpoint);
    auto it = std::find_if(instances_.begin(), instances_.end(),
                           [&](const auto& i) { return i->label == label; });
    if (it == instances_.end()) {
      auto instance = std::make_unique<Instance>();
      instance->endpoint = watch.endpoint;
      instance->label = label;
      instances_.push_back(std::move(instance));
      it = instances_.end() - 1;
    }
    (*it)->watches.push_back(std::move(watch));
  }
  stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

KeyspaceWatcher::~KeyspaceWatcher() {
  Stop();
  if (stop_fd_ >= 0) close(stop_fd_);
}

void KeyspaceWatcher::Start() {
  if (stop_fd_ < 0) {
    listener_->OnKeyspaceActive(false, absl::StrCat("eventfd: ", std::strerror(errno)));
    return;
  }
  for (auto& instance : instances_) {
    Instance* i = instance.get();
    threads_.emplace_back([this, i] {
      SetThreadName("ps-keyspace");
      Run(*i);
    });
  }
}

void KeyspaceWatcher::Stop() {
  if (!stopping_.exchange(true)) {
    const uint64_t one = 1;
    ssize_t ignored = write(stop_fd_, &one, sizeof(one));
    (void)ignored;
  }
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

bool KeyspaceWatcher::Sleep(absl::Duration d) {
  pollfd pfd{stop_fd_, POLLIN, 0};
  poll(&pfd, 1, static_cast<int>(absl::ToInt64Milliseconds(d)));
  return stopping_.load();
}

bool KeyspaceWatcher::Readable(int fd) {
  pollfd pfd{fd, POLLIN, 0};
  return poll(&pfd, 1, 0) > 0;
}

void KeyspaceWatcher::Coalesce(absl::Duration wait) {
  if (options_.coalesce_wait) return options_.coalesce_wait(wait);
  Sleep(wait);
}

void KeyspaceWatcher::SetActive(Instance& instance, bool active, absl::string_view why) {
  // The listener is called with mu_ held, so that reports from several instances' threads
  // reach it in the order they were decided (the listener never calls back into the watcher).
  absl::MutexLock lock(&mu_);
  if (instance.active != active) {
    instance.active = active;
    if (active) {
      ++active_instances_;
    } else {
      --active_instances_;
    }
  }
  const bool now_active = active_instances_ == instances_.size();
  // Transitions of the whole, and the first failure (so the reason is heard once).
  const bool report = now_active != reported_active_ || (!reported_once_ && !active);
  reported_once_ = true;
  reported_active_ = now_active;
  if (report) {
    const std::string message =
        now_active ? std::string("subscribed") : absl::StrCat(instance.label, ": ", why);
    listener_->OnKeyspaceActive(now_active, message);
  }
}

absl::StatusOr<std::string> KeyspaceWatcher::ReadFlags(redisContext* c) {
  absl::StatusOr<Reply> flags = RoundTrip(c, {"CONFIG", "GET", "notify-keyspace-events"});
  if (!flags.ok()) return flags.status();
  if ((*flags)->type != REDIS_REPLY_ARRAY || (*flags)->elements != 2) {
    // An error reply: CONFIG renamed or refused by an ACL.
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read notify-keyspace-events: ", Str(flags->get())));
  }
  return std::string(Str((*flags)->element[1]));
}

redisContext* KeyspaceWatcher::Connect(const Instance& instance) {
  redisContext* c = ConnectRedisContext(instance.endpoint, options_.timeout);
  // A subscribed TCP connection is silent when idle: keepalive notices a vanished peer.
  if (c != nullptr && c->err == 0 && instance.endpoint.unix_socket_path.empty()) {
    redisEnableKeepAlive(c);
  }
  return c;
}

void KeyspaceWatcher::Run(Instance& instance) {
  absl::Duration backoff = options_.reconnect_initial;
  while (!stopping_.load()) {
    absl::Duration wait = backoff;
    std::string why;
    {
      ReplyElementLimit limit;  // before the context: it must outlive the context's reader
      Context c(Connect(instance));
      if (c == nullptr || c->err != 0) {
        why = absl::StrCat("cannot connect: ", c ? c->errstr : "out of memory");
      } else {
        limit.Attach(c->reader);
        absl::StatusOr<std::string> flags = ReadFlags(c.get());
        if (!flags.ok()) {
          why = std::string(flags.status().message());
          if (absl::IsFailedPrecondition(flags.status())) wait = options_.recheck_interval;
        } else if (!KeyspaceEventsSufficient(*flags)) {
          why = absl::StrCat("notify-keyspace-events is \"", *flags,
                             "\" on the server (needs K with A, or K with g and h)");
          wait = options_.recheck_interval;
        } else {
          std::vector<std::string> argv = {"PSUBSCRIBE"};
          for (const KeyspaceWatch& w : instance.watches) {
            argv.push_back(absl::StrCat("__keyspace@", w.endpoint.id, "__:", w.key_prefix, "*"));
          }
          absl::StatusOr<Reply> first = RoundTrip(c.get(), argv);
          bool subscribed = first.ok() && (*first)->type == REDIS_REPLY_ARRAY;
          // One confirmation per pattern; the first came with the round trip.
          for (size_t n = 1; subscribed && n < instance.watches.size(); ++n) {
            void* raw = nullptr;
            subscribed = redisGetReply(c.get(), &raw) == REDIS_OK && raw != nullptr;
            Reply owned(static_cast<redisReply*>(raw));
            subscribed = subscribed && owned->type == REDIS_REPLY_ARRAY;
          }
          if (!subscribed) {
            why = first.ok() ? absl::StrCat("PSUBSCRIBE refused: ", Str(first->get()))
                             : std::string(first.status().message());
            // Refused (an ACL, say): not transient. A broken connection is retried with backoff.
            if (first.ok() && (*first)->type != REDIS_REPLY_ARRAY) wait = options_.recheck_interval;
          } else {
            SetActive(instance, true, "");
            backoff = options_.reconnect_initial;
            why = Listen(instance, c.get(), limit);
          }
        }
      }
    }
    if (stopping_.load()) break;
    SetActive(instance, false, why);
    if (Sleep(wait)) break;
    if (wait == backoff) backoff = std::min(backoff * 2, options_.reconnect_max);
  }
  absl::MutexLock lock(&mu_);
  if (instance.active) {
    instance.active = false;
    --active_instances_;
  }
}

std::string KeyspaceWatcher::Listen(Instance& instance, redisContext* c,
                                    const ReplyElementLimit& limit) {
  pollfd fds[2] = {{c->fd, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
  bool read_first = false;  // hiredis may hold notifications that came with the confirmations
  absl::Time last_delivery = absl::InfinitePast();
  while (!stopping_.load()) {
    if (read_first) {
      const int ready =
          poll(fds, 2, static_cast<int>(absl::ToInt64Milliseconds(options_.recheck_interval)));
      if (ready < 0) {
        if (errno == EINTR) continue;
        return absl::StrCat("poll: ", std::strerror(errno));
      }
      if (fds[1].revents != 0) return "stopping";
      if (ready == 0) {
        // Quiet for a while: is the server still notifying? (A subscribed connection cannot
        // ask; a short side connection can. If it cannot connect, the subscription will tell.)
        ReplyElementLimit side_limit;
        Context side(Connect(instance));
        if (side != nullptr && side->err == 0) {
          side_limit.Attach(side->reader);
          absl::StatusOr<std::string> flags = ReadFlags(side.get());
          if (flags.ok() && !KeyspaceEventsSufficient(*flags)) {
            return absl::StrCat("notify-keyspace-events changed to \"", *flags,
                                "\" on the server (needs K with A, or K with g and h)");
          }
        }
        continue;
      }
      // Notifications come in bursts (our own writes notify too: one each in a storm). A read
      // sooner than `coalesce` after the last one that delivered waits for the rest of that
      // interval, so a burst costs a wake-up per interval instead of one per notification; a
      // notification after a quiet interval is read at once.
      if (const absl::Duration since = clock_.Now() - last_delivery;
          options_.coalesce > absl::ZeroDuration() && since < options_.coalesce) {
        Coalesce(options_.coalesce - since);
        if (stopping_.load()) return "stopping";
      }
      // Everything there is (hiredis reads 16 KiB at a time): a backlog left in Redis would
      // grow its output buffer for us until it drops the subscription. Bounded, so a burst
      // cannot keep this loop from delivering.
      int reads = 0;
      do {
        if (redisBufferRead(c) != REDIS_OK) {
          return c->errstr[0] ? std::string(c->errstr) : std::string("connection closed");
        }
      } while (++reads < kMaxReadsPerWake && Readable(c->fd));
    }
    read_first = true;
    const absl::Time read_at = clock_.Now();  // before delivering: the interval starts here
    bool delivered = false;
    while (true) {
      void* raw = nullptr;
      if (redisGetReplyFromReader(c, &raw) != REDIS_OK) {
        return limit.exceeded() ? std::string("a message declared too many array elements")
                                : absl::StrCat("protocol error: ", c->errstr);
      }
      if (raw == nullptr) break;
      Reply reply(static_cast<redisReply*>(raw));
      // ["pmessage", pattern, "__keyspace@<db>__:<key>", event]
      if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 4 ||
          Str(reply->element[0]) != "pmessage") {
        continue;
      }
      absl::string_view channel = Str(reply->element[2]);
      if (!absl::ConsumePrefix(&channel, "__keyspace@")) continue;
      const size_t end = channel.find("__:");
      int db = -1;
      if (end == absl::string_view::npos || !absl::SimpleAtoi(channel.substr(0, end), &db)) {
        continue;
      }
      absl::string_view key = channel.substr(end + 3);
      for (const KeyspaceWatch& w : instance.watches) {
        if (w.endpoint.id == db && absl::StartsWith(key, w.key_prefix)) {
          listener_->OnKeyspaceEvent(w.tag, key.substr(w.key_prefix.size()),
                                     Str(reply->element[3]));
          delivered = true;
          break;
        }
      }
    }
    if (delivered) last_delivery = read_at;
  }
  return "stopping";
}

}  // namespace portsyncd
