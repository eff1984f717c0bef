// NetlinkSocket: the rtnetlink link-event socket (RTNLGRP_LINK) plus a request socket.
//
// Threading: one thread owns it (the engine thread). Nothing here parses link attributes; the
// raw messages go to the caller, which uses ParseLinkMessage.
#ifndef PORTSYNCD_CORE_NETLINK_SOCKET_H_
#define PORTSYNCD_CORE_NETLINK_SOCKET_H_

#include <linux/netlink.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "core/link_event.h"

struct mnl_socket;

namespace portsyncd {

// What startup asks of the kernel's links (docs/COMPATIBILITY.md 2 step 6), behind an interface
// so unit tests of core/startup.h never touch a real interface.
class LinkControl {
 public:
  virtual ~LinkControl() = default;
  // Every link that exists now. Unparseable entries are skipped and counted.
  [[nodiscard]] virtual absl::StatusOr<std::vector<LinkEvent>> ListLinks() = 0;
  // Clears IFF_UP on `ifindex` (ip link set down).
  [[nodiscard]] virtual absl::Status SetAdminDown(int32_t ifindex) = 0;
  // Entries ListLinks skipped so far.
  virtual uint64_t malformed_messages() const = 0;
};

// What the engine thread reads link events from: the event socket, behind an interface so unit
// tests feed KernelFollower the datagrams, dumps and overflows they want
// (tests/unit/kernel_follower_test.cc). NetlinkSocket is the real one.
class LinkEventSource {
 public:
  struct ReadResult {
    int datagrams = 0;
    int messages = 0;
    // ENOBUFS (the kernel dropped messages because the buffer was full) or a truncated datagram:
    // messages were lost, and only a fresh dump can tell the current state.
    bool overflow = false;
  };
  virtual ~LinkEventSource() = default;
  // Readable when messages are queued.
  virtual int fd() const = 0;
  // Requests a dump of every link; its replies carry the returned sequence number.
  [[nodiscard]] virtual absl::StatusOr<uint32_t> RequestDump() = 0;
  // Calls `on_message` for each message of the datagrams queued now (at most `max_datagrams`).
  [[nodiscard]] virtual absl::StatusOr<ReadResult> ReadAvailable(
      absl::FunctionRef<void(const nlmsghdr*)> on_message, int max_datagrams) = 0;
  // Messages whose header did not fit their datagram, so far.
  virtual uint64_t malformed_headers() const = 0;
  virtual int effective_receive_buffer() const = 0;
};

// Both, as one socket pair the engine opens in Run(): NetlinkSocket, or a fake in a unit test
// of the whole engine (tests/unit/engine_test.cc).
class LinkSocket : public LinkControl, public LinkEventSource {
 public:
  // The receive buffer was set with SO_RCVBUFFORCE (past net.core.rmem_max).
  virtual bool receive_buffer_forced() const = 0;
};

class NetlinkSocket : public LinkSocket {
 public:
  struct Options {
    // Receive buffer for link events. 16 MiB (32 MiB in effect) held a 65k-event storm without
    // overflow on our test machines; the kernel default (~208 KiB) holds only ~92 link messages.
    int receive_buffer_bytes = 16 * 1024 * 1024;
  };

  // Opens the event socket (joined to RTNLGRP_LINK, non-blocking) and the request socket.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<NetlinkSocket>> Create(
      const Options& options);
  ~NetlinkSocket();
  NetlinkSocket(const NetlinkSocket&) = delete;
  NetlinkSocket& operator=(const NetlinkSocket&) = delete;

  int fd() const override;
  // The receive buffer the kernel actually granted (getsockopt; twice what was asked for).
  int effective_receive_buffer() const override { return effective_receive_buffer_; }
  bool receive_buffer_forced() const override { return forced_; }

  // Sends an RTM_GETLINK dump request on the event socket; replies arrive through ReadAvailable
  // with nlmsg_seq == the returned sequence number, ending with NLMSG_DONE.
  [[nodiscard]] absl::StatusOr<uint32_t> RequestDump() override;

  // Reads the datagrams queued now (at most `max_datagrams`) without blocking, and calls
  // `on_message` for each netlink message in each (NEWLINK, DELLINK, DONE, ERROR...). Messages
  // whose header is inconsistent with the datagram are not passed on; they count in
  // `malformed_headers`.
  [[nodiscard]] absl::StatusOr<ReadResult> ReadAvailable(
      absl::FunctionRef<void(const nlmsghdr*)> on_message, int max_datagrams) override;

  // Every link that exists now, from a blocking dump on the request socket (startup only).
  // Unparseable entries are skipped and counted in `malformed_messages`.
  [[nodiscard]] absl::StatusOr<std::vector<LinkEvent>> ListLinks() override;

  // Clears IFF_UP on `ifindex` (ip link set down) and waits for the kernel's answer.
  [[nodiscard]] absl::Status SetAdminDown(int32_t ifindex) override;

  uint64_t malformed_headers() const override { return malformed_headers_; }
  uint64_t malformed_messages() const override { return malformed_messages_; }

 private:
  NetlinkSocket() = default;

  mnl_socket* events_ = nullptr;
  mnl_socket* requests_ = nullptr;
  uint32_t next_seq_ = 1;
  int effective_receive_buffer_ = 0;
  bool forced_ = false;
  uint64_t malformed_headers_ = 0;
  uint64_t malformed_messages_ = 0;
  std::vector<char> buffer_;
};

}  // namespace portsyncd

#endif  // PORTSYNCD_CORE_NETLINK_SOCKET_H_
