// KernelFollower: follows the kernel's links into the model, with dumps and overflow recovery.
//
// After startup it requests a full link dump, then reads netlink: each RTM_NEWLINK/DELLINK is
// applied to the model (docs/COMPATIBILITY.md 3), and the ports that became dirty go to
// STATE_DB through its DirectWriter (the writer thread is woken for what remains). A receive-buffer
// overflow (events lost) or an interrupted dump starts a new dump; only a complete dump removes
// ports the kernel no longer has, and the first complete one is the initial sync. Malformed
// messages are counted and skipped.
//
// Thread: the engine thread (Run). It never waits for Redis (the DirectWriter's connection is
// non-blocking), so a slow or absent Redis cannot stall netlink reading; memory stays bounded by
// the port count (the model keeps one state per port). Owns: the dump in progress, the
// heartbeat, the initial-sync time, the DirectWriter. Shares: the model (SharedModel; its mutex
// held while one batch of datagrams, already read and parsed, is applied), the counters. Calls:
// the netlink socket, the model's listener (each batch's changes), the DirectWriter.
#ifndef PORTSYNCD_CORE_KERNEL_FOLLOWER_H_
#define PORTSYNCD_CORE_KERNEL_FOLLOWER_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "core/clock.h"
#include "core/direct_writer.h"
#include "core/engine_shared.h"
#include "core/logging.h"
#include "core/netlink_socket.h"
#include "core/write_tracker.h"

namespace portsyncd {

class KernelFollower {
 public:
  // `wake_fd` becomes readable when `stopping` turns true; `ping_fd` when the watchdog asks for
  // a heartbeat (both eventfds the engine owns).
  // `state_key_prefix` and `tracker` (null without notifications): for the DirectWriter.
  KernelFollower(const EngineOptions& options, SharedModel& shared, EngineCounters& counters,
                 int wake_fd, int ping_fd, const std::atomic<bool>& stopping,
                 std::string state_key_prefix, WriteTracker* tracker,
                 const Clock& clock = RealClock());

  // Reads `netlink` until `stopping`: Begin, then Step each time poll() says something is
  // ready (or a dump's timer is due). Errors only when poll() itself fails.
  [[nodiscard]] absl::Status Run(LinkEventSource& netlink);
  // For tests, which call these without a thread or poll(): requests the first dump.
  void Begin(LinkEventSource& netlink);
  // One pass: reads what `netlink` has queued, applies it, ends or restarts dumps (an
  // interrupted one, an overflow, a dump silent for kDumpStall), hands the dirty ports on.
  void Step();
  // A dump that sends nothing this long is abandoned and requested again.
  static constexpr absl::Duration kDumpStall = absl::Seconds(5);

  // Any thread: asks for a new dump of every link (the selection of ports changed), at the
  // engine thread's next pass (the caller wakes it).
  void RequestDump() { dump_requested_.store(true); }

  // Any thread.
  void Heartbeat() { heartbeat_ns_.store(absl::ToUnixNanos(absl::Now())); }
  absl::Time heartbeat() const { return absl::FromUnixNanos(heartbeat_ns_.load()); }
  bool initial_sync_done() const { return initial_sync_done_.load(); }
  absl::Time initial_sync_time() const { return absl::FromUnixNanos(initial_sync_ns_.load()); }

 private:
  void StartDump();
  // Applies what netlink has queued; true when link messages arrived.
  bool ProcessNetlink(bool& dump_done, bool& need_redump);

  const EngineOptions& options_;
  SharedModel& shared_;
  EngineCounters& counters_;
  const int wake_fd_;
  const int ping_fd_;
  const std::atomic<bool>& stopping_;
  const Clock& clock_;
  DirectWriter direct_;
  LinkEventSource* netlink_ = nullptr;  // from Begin()
  bool need_redump_ = false;
  // The next dump is asked for by a [ports] change alone: counted as selection_dumps, not as a
  // resync (a dump that also serves an overflow counts as the selection's).
  bool redump_for_selection_ = false;

  // Engine thread only: the dump in progress (seq 0: none).
  uint32_t dump_seq_ = 0;
  bool dump_interrupted_ = false;
  absl::Time dump_activity_ = absl::InfinitePast();  // last message of the current dump
  LogRateLimiter dump_error_log_{10.0};
  LogRateLimiter parse_error_log_{5.0};
  uint64_t malformed_headers_seen_ = 0;  // NetlinkSocket::malformed_headers() already counted
  // One batch's link messages, parsed before the model lock is taken (reused between batches).
  struct Parsed {
    LinkEvent event;
    bool from_dump = false;
  };
  std::vector<Parsed> events_;
  bool drained_ = true;  // the last read left nothing queued (a re-dump may be asked for)

  std::atomic<bool> dump_requested_{false};
  std::atomic<int64_t> heartbeat_ns_{absl::ToUnixNanos(absl::Now())};
  std::atomic<bool> initial_sync_done_{false};
  std::atomic<int64_t> initial_sync_ns_{0};
};

}  // namespace portsyncd

#endif  // PORTSYNCD_CORE_KERNEL_FOLLOWER_H_
