#include "core/netlink_socket.h"

#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/netlink_parser.h"

namespace portsyncd {
namespace {

// Large enough for any datagram the kernel sends for link messages (dumps use up to 32 KiB).
constexpr size_t kReceiveBufferSize = 64 * 1024;

absl::Status Errno(absl::string_view what) {
  return absl::ErrnoToStatus(errno, absl::StrCat("netlink: ", what));
}

}  // namespace

NetlinkSocket::~NetlinkSocket() {
  if (events_ != nullptr) mnl_socket_close(events_);
  if (requests_ != nullptr) mnl_socket_close(requests_);
}

absl::StatusOr<std::unique_ptr<NetlinkSocket>> NetlinkSocket::Create(const Options& options) {
  auto socket = std::unique_ptr<NetlinkSocket>(new NetlinkSocket());
  socket->buffer_.resize(kReceiveBufferSize);
  socket->next_seq_ = static_cast<uint32_t>(time(nullptr));

  socket->events_ = mnl_socket_open(NETLINK_ROUTE);
  if (socket->events_ == nullptr) return Errno("socket(NETLINK_ROUTE)");
  if (mnl_socket_bind(socket->events_, RTMGRP_LINK, MNL_SOCKET_AUTOPID) < 0) {
    return Errno("bind to RTNLGRP_LINK");
  }
  const int fd = mnl_socket_get_fd(socket->events_);
  int size = options.receive_buffer_bytes;
  // SO_RCVBUFFORCE needs CAP_NET_ADMIN and ignores rmem_max; without it SO_RCVBUF is capped at
  // net.core.rmem_max.
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) == 0) {
    socket->forced_ = true;
  } else if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)) != 0) {
    return Errno(absl::StrCat("setsockopt(SO_RCVBUF, ", size, ")"));
  }
  socklen_t len = sizeof(socket->effective_receive_buffer_);
  getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &socket->effective_receive_buffer_, &len);
  if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) return Errno("O_NONBLOCK");

  socket->requests_ = mnl_socket_open(NETLINK_ROUTE);
  if (socket->requests_ == nullptr) return Errno("socket(NETLINK_ROUTE) for requests");
  if (mnl_socket_bind(socket->requests_, 0, MNL_SOCKET_AUTOPID) < 0) {
    return Errno("bind request socket");
  }
  return socket;
}

int NetlinkSocket::fd() const { return mnl_socket_get_fd(events_); }

static void BuildDumpRequest(char* buf, uint32_t seq) {
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = RTM_GETLINK;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  nlh->nlmsg_seq = seq;
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
}

absl::StatusOr<uint32_t> NetlinkSocket::RequestDump() {
  alignas(nlmsghdr) char buf[256] = {};
  const uint32_t seq = next_seq_++;
  BuildDumpRequest(buf, seq);
  const auto* nlh = reinterpret_cast<const nlmsghdr*>(buf);
  if (mnl_socket_sendto(events_, nlh, nlh->nlmsg_len) < 0) return Errno("send RTM_GETLINK dump");
  return seq;
}

absl::StatusOr<NetlinkSocket::ReadResult> NetlinkSocket::ReadAvailable(
    absl::FunctionRef<void(const nlmsghdr*)> on_message, int max_datagrams) {
  ReadResult result;
  const int fd = this->fd();
  while (result.datagrams < max_datagrams) {
    iovec iov{buffer_.data(), buffer_.size()};
    sockaddr_nl addr{};
    msghdr msg{};
    msg.msg_name = &addr;
    msg.msg_namelen = sizeof(addr);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    // MSG_TRUNC makes recvmsg return the datagram's real length, so truncation is detectable.
    const ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_TRUNC);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return result;
      if (errno == EINTR) continue;
      if (errno == ENOBUFS) {
        result.overflow = true;
        continue;  // the socket is usable again; keep draining what is queued
      }
      return Errno("recvmsg");
    }
    if (addr.nl_pid != 0) continue;  // only the kernel speaks to us
    ++result.datagrams;
    size_t len = static_cast<size_t>(n);
    const bool truncated = len > buffer_.size() || (msg.msg_flags & MSG_TRUNC) != 0;
    if (truncated) {
      result.overflow = true;  // counted and repaired (a re-dump) as an overflow, not malformed
      len = buffer_.size();
    }
    const auto* nlh = reinterpret_cast<const nlmsghdr*>(buffer_.data());
    int left = static_cast<int>(len);
    while (NetlinkMessageOk(nlh, left)) {
      ++result.messages;
      on_message(nlh);
      nlh = mnl_nlmsg_next(nlh, &left);
    }
    if (left > 0 && !truncated) ++malformed_headers_;  // bytes that form no whole message
  }
  return result;
}

absl::StatusOr<std::vector<LinkEvent>> NetlinkSocket::ListLinks() {
  alignas(nlmsghdr) char request[256] = {};
  const uint32_t seq = next_seq_++;
  BuildDumpRequest(request, seq);
  const auto* req = reinterpret_cast<const nlmsghdr*>(request);
  if (mnl_socket_sendto(requests_, req, req->nlmsg_len) < 0) return Errno("send RTM_GETLINK");

  std::vector<LinkEvent> links;
  std::vector<char> buf(kReceiveBufferSize);
  while (true) {
    const ssize_t n = mnl_socket_recvfrom(requests_, buf.data(), buf.size());
    if (n < 0) return Errno("receive RTM_GETLINK dump");
    const auto* nlh = reinterpret_cast<const nlmsghdr*>(buf.data());
    int left = static_cast<int>(n);
    for (; NetlinkMessageOk(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
      if (nlh->nlmsg_seq != seq) continue;
      if (nlh->nlmsg_type == NLMSG_DONE) return links;
      if (nlh->nlmsg_type == NLMSG_ERROR) {
        const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
        errno = -err->error;
        return Errno("RTM_GETLINK dump refused");
      }
      absl::StatusOr<LinkEvent> link = ParseLinkMessage(nlh);
      if (link.ok()) {
        links.push_back(*std::move(link));
      } else {
        ++malformed_messages_;
      }
    }
  }
}

absl::Status NetlinkSocket::SetAdminDown(int32_t ifindex) {
  alignas(nlmsghdr) char buf[256] = {};
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = RTM_NEWLINK;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  const uint32_t seq = next_seq_++;
  nlh->nlmsg_seq = seq;
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = ifindex;
  ifi->ifi_change = IFF_UP;
  ifi->ifi_flags = 0;
  if (mnl_socket_sendto(requests_, nlh, nlh->nlmsg_len) < 0) {
    return Errno(absl::StrCat("send set-down for ifindex ", ifindex));
  }
  char reply[MNL_SOCKET_BUFFER_SIZE];
  while (true) {
    const ssize_t n = mnl_socket_recvfrom(requests_, reply, sizeof(reply));
    if (n < 0) return Errno(absl::StrCat("receive ack for set-down of ifindex ", ifindex));
    const auto* r = reinterpret_cast<const nlmsghdr*>(reply);
    int left = static_cast<int>(n);
    for (; NetlinkMessageOk(r, left); r = mnl_nlmsg_next(r, &left)) {
      if (r->nlmsg_seq != seq || r->nlmsg_type != NLMSG_ERROR) continue;
      const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(r));
      if (err->error == 0) return absl::OkStatus();
      errno = -err->error;
      return Errno(absl::StrCat("set ifindex ", ifindex, " down"));
    }
  }
}

}  // namespace portsyncd
