#include "core/kernel_follower.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "core/netlink_parser.h"
#include "core/netlink_socket.h"

namespace portsyncd {
namespace {

// Datagrams read per iteration: bounds how long the model lock is held and how big one Redis
// batch gets (~64 x up to 32 KiB); the rest is read in the next iteration.
constexpr int kMaxDatagramsPerBatch = 64;

}  // namespace

KernelFollower::KernelFollower(const EngineOptions& options, SharedModel& shared,
                               EngineCounters& counters, int wake_fd, int ping_fd,
                               const std::atomic<bool>& stopping, std::string state_key_prefix,
                               WriteTracker* tracker, const Clock& clock)
    : options_(options),
      shared_(shared),
      counters_(counters),
      wake_fd_(wake_fd),
      ping_fd_(ping_fd),
      stopping_(stopping),
      clock_(clock),
      direct_(options, std::move(state_key_prefix), shared, counters, tracker) {}

void KernelFollower::StartDump() {
  absl::StatusOr<uint32_t> seq = netlink_->RequestDump();
  const absl::Time now = clock_.Now();
  if (!seq.ok()) {
    if (dump_error_log_.Allow()) {
      LOG_ERROR("cannot request a link dump: ", seq.status().message(), "; retrying");
    }
    return;
  }
  dump_seq_ = *seq;
  dump_interrupted_ = false;
  dump_activity_ = now;
  (redump_for_selection_ ? counters_.selection_dumps : counters_.netlink_dumps).fetch_add(1);
  redump_for_selection_ = false;
  absl::MutexLock lock(&shared_.mu);
  shared_.model.BeginDump();
}

void KernelFollower::Begin(LinkEventSource& netlink) {
  netlink_ = &netlink;
  StartDump();
  if (options_.redis_enabled) direct_.Want();
  need_redump_ = dump_seq_ == 0;
}

absl::Status KernelFollower::Run(LinkEventSource& netlink) {
  Begin(netlink);
  while (!stopping_.load()) {
    pollfd fds[4] = {{netlink_->fd(), POLLIN, 0},
                     {wake_fd_, POLLIN, 0},
                     {ping_fd_, POLLIN, 0},
                     direct_.PollFd()};  // fd -1 (ignored by poll) while it has none
    // Wake up without traffic only to retry a dump request, to notice a dump that stalled, or
    // when the direct connection's batch would time out.
    int timeout_ms = dump_seq_ != 0 ? 1000 : need_redump_ ? 100 : -1;
    if (const absl::Time deadline = direct_.deadline(); deadline != absl::InfiniteFuture()) {
      const int64_t ms = absl::ToInt64Milliseconds(absl::Ceil(
          std::max(deadline - clock_.Now(), absl::ZeroDuration()), absl::Milliseconds(1)));
      timeout_ms = timeout_ms < 0 ? static_cast<int>(ms) : std::min<int>(timeout_ms, ms);
    }
    if (poll(fds, 4, timeout_ms) < 0 && errno != EINTR) {
      direct_.GiveUp("stopping", /*quiet=*/true);
      return absl::ErrnoToStatus(errno, "poll");
    }
    if (stopping_.load()) break;
    if (fds[3].fd >= 0 && fds[3].revents != 0) direct_.OnReady(fds[3].revents, clock_.Now());
    direct_.CheckTimeout(clock_.Now());
    while (!options_.test_stall_file.empty() &&
           access(options_.test_stall_file.c_str(), F_OK) == 0 && !stopping_.load()) {
      absl::SleepFor(absl::Milliseconds(20));
    }
    if ((fds[2].revents & POLLIN) != 0) {
      uint64_t pings = 0;
      ssize_t ignored = read(ping_fd_, &pings, sizeof(pings));
      (void)ignored;
    }
    Step();
  }
  direct_.GiveUp("stopping", /*quiet=*/true);  // what is in flight: the writer's last flush
  return absl::OkStatus();
}

void KernelFollower::Step() {
  Heartbeat();
  // A connection the writer thread left (it wrote to ping_fd_, which woke the poll); the next
  // poll watches it.
  direct_.Adopt();
  if (dump_requested_.exchange(false)) {
    redump_for_selection_ = !need_redump_;  // an overflow's re-dump already due is a resync
    need_redump_ = true;
  }
  bool dump_done = false;
  const bool changed = ProcessNetlink(dump_done, need_redump_);
  if (dump_done) {
    // An interrupted dump (NLM_F_DUMP_INTR, an error in NLMSG_DONE, or an overflow while it
    // ran, which may have lost a NEWLINK of a port it had already passed) cannot tell which
    // ports are gone: only a complete one removes ports and counts as the initial sync.
    const bool complete = !dump_interrupted_;
    std::vector<std::string> removed;
    {
      absl::MutexLock lock(&shared_.mu);
      // A resync rewrites every port (COMPATIBILITY 7.1); the initial dump does not: every
      // port it showed was written as it went (StateWriter), and nothing was written before it.
      removed = shared_.model.EndDump(clock_.Now(), complete,
                                      /*rewrite=*/shared_.initial_dump_done);
      shared_.writer.Wake();  // rewrite after a resync; the initial reconcile; PortInitDone
      const bool first_sync = complete && !shared_.initial_dump_done;
      if (first_sync) {
        shared_.initial_dump_done = true;
        initial_sync_ns_.store(absl::ToUnixNanos(clock_.Now()));
        initial_sync_done_.store(true);
      }
      shared_.PublishChangesLocked();
      if (first_sync && shared_.listener != nullptr) shared_.listener->OnInitialSync();
    }
    counters_.ports_removed_by_resync.fetch_add(removed.size());
    if (!removed.empty()) {
      LOG_NOTICE("resync: ", removed.size(),
                 " ports no longer in the kernel: ", absl::StrJoin(removed, " "));
    }
    if (!complete) need_redump_ = true;
    dump_seq_ = 0;
  } else if (dump_seq_ != 0 && clock_.Now() - dump_activity_ > kDumpStall) {
    LOG_WARN("link dump sent nothing for ", absl::FormatDuration(kDumpStall),
             "; requesting a new one");
    {
      absl::MutexLock lock(&shared_.mu);
      (void)shared_.model.EndDump(clock_.Now(), /*complete=*/false);
    }
    dump_seq_ = 0;
    need_redump_ = true;
  }
  if (changed && options_.redis_enabled) {
    // The direct connection writes what the batch made dirty (a port whose write is in flight
    // there, or what exceeds its limit of batches in flight, goes out when the oldest reply
    // comes); the writer thread is woken only for what remains: no direct connection (every
    // write then), a port APPL_DB does not know yet, PortInitDone.
    const bool sent = direct_.Send(clock_.Now());
    absl::MutexLock lock(&shared_.mu);
    if (!sent || shared_.model.newly_awaiting() ||
        (!shared_.port_init_done.load() && shared_.model.pending_empty())) {
      shared_.writer.Wake();
    }
  }
  if (changed || dump_done) shared_.NotifyStateChange();
  // A re-dump is asked for only once everything queued has been read: what is queued when the
  // kernel reports an overflow is older than the messages it dropped, and read after BeginDump it
  // would count as newer than the dump (PortModel::Apply skips a dump entry for a port with a
  // live message since BeginDump), leaving the port at its state before the lost messages.
  if (need_redump_ && dump_seq_ == 0 && drained_) {
    StartDump();
    need_redump_ = dump_seq_ == 0;
  }
}

bool KernelFollower::ProcessNetlink(bool& dump_done, bool& need_redump) {
  const absl::Time now = clock_.Now();
  // Read and parse without the model lock (engine.h: the lock is never held across I/O), into
  // events_ (kept between batches, so its strings keep their capacity); then apply them all
  // under one hold of the lock.
  size_t parsed = 0;
  absl::StatusOr<LinkEventSource::ReadResult> result = netlink_->ReadAvailable(
      [&](const nlmsghdr* nlh) {
        const bool from_dump = dump_seq_ != 0 && nlh->nlmsg_seq == dump_seq_;
        // A reply to a dump we gave up (stalled, refused, replaced): not a live event, and no
        // newer than the dump that replaces it. Dump replies are multipart (NLM_F_MULTI) and
        // reach only the socket that asked; notifications never are, whatever sequence they
        // carry (Linux may copy the requester's into them). Its end frees the kernel's one dump
        // per socket, so a new request can run.
        if (!from_dump && (nlh->nlmsg_flags & NLM_F_MULTI) != 0) return;
        if (from_dump) {
          dump_activity_ = now;
          if ((nlh->nlmsg_flags & NLM_F_DUMP_INTR) != 0) dump_interrupted_ = true;
        }
        switch (nlh->nlmsg_type) {
          case NLMSG_DONE:
            if (from_dump) {
              // NLMSG_DONE carries an int: negative when the dump ended early.
              if (nlh->nlmsg_len >= NLMSG_LENGTH(sizeof(int)) &&
                  *static_cast<const int*>(NLMSG_DATA(nlh)) < 0) {
                dump_interrupted_ = true;
              }
              dump_done = true;
            }
            return;
          case NLMSG_ERROR:
            if (from_dump) {
              const auto* err = static_cast<const nlmsgerr*>(NLMSG_DATA(nlh));
              if (err->error == -ENOBUFS) {
                // The kernel started the dump but our receive buffer was full for its first
                // part: it is still running (Linux keeps cb_running and goes on at our next
                // reads), with this sequence. Asking again would be refused (EBUSY) by an ack
                // a full buffer can drop, leaving us waiting kDumpStall for nothing; wait for
                // it instead (an overflow meanwhile marks it interrupted, as for any dump).
                LOG_INFO("link dump delayed: our receive buffer is full; it goes on as we read");
                return;
              }
              LOG_WARN("link dump refused: ", std::strerror(-err->error), "; retrying");
              dump_seq_ = 0;
              need_redump = true;
            }
            return;
          case RTM_NEWLINK:
          case RTM_DELLINK:
            break;
          default:
            return;
        }
        counters_.netlink_messages.fetch_add(1, std::memory_order_relaxed);
        (nlh->nlmsg_type == RTM_NEWLINK ? counters_.netlink_newlinks : counters_.netlink_dellinks)
            .fetch_add(1, std::memory_order_relaxed);
        if (parsed == events_.size()) events_.emplace_back();
        Parsed& slot = events_[parsed];
        if (absl::Status status = ParseLinkMessage(nlh, &slot.event); !status.ok()) {
          counters_.netlink_parse_errors.fetch_add(1);
          if (uint64_t unlogged = 0; parse_error_log_.Allow(&unlogged)) {
            LOG_ERROR("netlink: skipped a malformed link message: ", status.message(), " (",
                      unlogged, " more since the last report)");
          }
          return;
        }
        slot.from_dump = from_dump;
        ++parsed;
      },
      kMaxDatagramsPerBatch);
  absl::MutexLock lock(&shared_.mu);
  for (size_t i = 0; i < parsed; ++i) {
    const LinkEvent& event = events_[i].event;
    const ApplyOutcome outcome = shared_.model.Apply(
        event, now, events_[i].from_dump ? PortModel::Source::kDump : PortModel::Source::kLive);
    LOG_DEBUG("netlink: ", event.type == LinkEvent::Type::kNewLink ? "NEWLINK " : "DELLINK ",
              event.name, " ifindex ", event.ifindex, " flags 0x", absl::Hex(event.flags), " mtu ",
              event.mtu, " master ", event.master, ": ", ApplyOutcomeName(outcome));
  }
  shared_.PublishChangesLocked();
  // Datagram bytes that formed no whole message (the socket never passes them on): malformed.
  if (const uint64_t bad = netlink_->malformed_headers(); bad != malformed_headers_seen_) {
    counters_.netlink_parse_errors.fetch_add(bad - malformed_headers_seen_);
    if (uint64_t unlogged = 0; parse_error_log_.Allow(&unlogged)) {
      LOG_ERROR("netlink: ", bad - malformed_headers_seen_,
                " datagram(s) ended in bytes that form no whole message; skipped (", unlogged,
                " more malformed since the last report)");
    }
    malformed_headers_seen_ = bad;
  }
  if (!result.ok()) {
    LOG_ERROR("netlink: ", result.status().message());
    drained_ = true;
    return false;
  }
  drained_ = result->datagrams < kMaxDatagramsPerBatch;  // else more is queued: read it first
  if (result->overflow) {
    counters_.netlink_overflows.fetch_add(1);
    LOG_WARN("netlink: receive buffer overflowed (", netlink_->effective_receive_buffer(),
             " bytes); link events were lost, re-reading every link from the kernel");
    need_redump = true;
    if (dump_seq_ != 0) dump_interrupted_ = true;  // redo the dump that was running
  }
  return result->messages > 0;
}

}  // namespace portsyncd
