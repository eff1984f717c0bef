// Netlink for unit tests, without a kernel: link and control messages built by hand (as the
// kernel sends them), and FakeLinkSocket, the engine's whole LinkSocket (a dump answered with
// the links the test says exist, live datagrams the test pushes, a pollable fd), for a test of
// the whole engine on fakes (engine_test).
#ifndef PORTSYNCD_TESTS_UNIT_FAKE_NETLINK_H_
#define PORTSYNCD_TESTS_UNIT_FAKE_NETLINK_H_

#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/rtnetlink.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "core/netlink_socket.h"

namespace portsyncd {

using Datagram = std::vector<char>;

// One RTM_NEWLINK/RTM_DELLINK with a name and an MTU.
inline Datagram Link(uint16_t type, uint32_t seq, const char* name, int32_t ifindex,
                     uint16_t nl_flags = 0, uint32_t flags = IFF_UP | IFF_RUNNING,
                     uint32_t mtu = 9100) {
  Datagram buf(1024);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = type;
  nlh->nlmsg_seq = seq;
  nlh->nlmsg_flags = nl_flags;
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = ifindex;
  ifi->ifi_flags = flags;
  mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
  mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
  buf.resize(nlh->nlmsg_len);
  return buf;
}

// NLMSG_DONE (carrying `value`) or NLMSG_ERROR (carrying the error `value`).
inline Datagram Control(uint16_t type, uint32_t seq, int value) {
  Datagram buf(256);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = type;
  nlh->nlmsg_seq = seq;
  if (type == NLMSG_ERROR) {
    auto* err = static_cast<nlmsgerr*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nlmsgerr)));
    err->error = value;
  } else {
    *static_cast<int*>(mnl_nlmsg_put_extra_header(nlh, sizeof(int))) = value;
  }
  buf.resize(nlh->nlmsg_len);
  return buf;
}

// Hands each message of `d` to `on_message`, counting them in `result`.
inline void Deliver(const Datagram& d, absl::FunctionRef<void(const nlmsghdr*)> on_message,
                    LinkEventSource::ReadResult& result) {
  ++result.datagrams;
  int len = static_cast<int>(d.size());
  for (auto* nlh = reinterpret_cast<const nlmsghdr*>(d.data()); mnl_nlmsg_ok(nlh, len);
       nlh = mnl_nlmsg_next(nlh, &len)) {
    on_message(nlh);
    ++result.messages;
  }
}

// Thread-safe: the test pushes from its thread while the engine thread polls and reads.
class FakeLinkSocket : public LinkSocket {
 public:
  struct Netdev {
    std::string name;
    int32_t ifindex;
    uint32_t flags = IFF_UP | IFF_RUNNING;
    uint32_t mtu = 9100;
  };
  FakeLinkSocket() : fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
  ~FakeLinkSocket() override { close(fd_); }

  // What a dump shows (each dump answers at once, complete).
  void SetNetdevs(std::vector<Netdev> netdevs) {
    absl::MutexLock lock(&mu_);
    netdevs_ = std::move(netdevs);
  }
  // A live message (sequence 0), as the kernel multicasts it.
  void Push(Datagram d) {
    absl::MutexLock lock(&mu_);
    queue_.push_back(std::move(d));
    Signal();
  }
  int dumps() const {
    absl::MutexLock lock(&mu_);
    return dumps_;
  }

  // LinkSocket.
  int fd() const override { return fd_; }
  absl::StatusOr<uint32_t> RequestDump() override {
    absl::MutexLock lock(&mu_);
    ++dumps_;
    calls_.push_back("dump");
    const uint32_t seq = ++seq_;
    for (const Netdev& n : netdevs_) {
      queue_.push_back(
          Link(RTM_NEWLINK, seq, n.name.c_str(), n.ifindex, NLM_F_MULTI, n.flags, n.mtu));
    }
    queue_.push_back(Control(NLMSG_DONE, seq, 0));
    Signal();
    return seq;
  }
  absl::StatusOr<ReadResult> ReadAvailable(absl::FunctionRef<void(const nlmsghdr*)> on_message,
                                           int max_datagrams) override {
    std::deque<Datagram> taken;
    {
      absl::MutexLock lock(&mu_);
      uint64_t ignored = 0;
      (void)!read(fd_, &ignored, sizeof(ignored));
      while (!queue_.empty() && static_cast<int>(taken.size()) < max_datagrams) {
        taken.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      if (!queue_.empty()) Signal();  // the rest at the next read
    }
    ReadResult result;
    for (const Datagram& d : taken) Deliver(d, on_message, result);
    return result;
  }
  uint64_t malformed_headers() const override { return 0; }
  int effective_receive_buffer() const override { return 1 << 20; }
  bool receive_buffer_forced() const override { return true; }
  // Startup's list of existing links (a cold start sets their Ethernet ones down): by default
  // none, as at boot before orchagent creates the netdevs; with ListExisting(), what a dump
  // shows.
  absl::StatusOr<std::vector<LinkEvent>> ListLinks() override {
    absl::MutexLock lock(&mu_);
    calls_.push_back("list");
    std::vector<LinkEvent> links;
    if (!list_existing_) return links;
    for (const Netdev& n : netdevs_) {
      LinkEvent e;
      e.name = n.name;
      e.ifindex = n.ifindex;
      e.flags = n.flags;
      e.mtu = n.mtu;
      links.push_back(std::move(e));
    }
    return links;
  }
  absl::Status SetAdminDown(int32_t ifindex) override {
    absl::MutexLock lock(&mu_);
    calls_.push_back(absl::StrCat("down ", ifindex));
    return absl::OkStatus();
  }
  void ListExisting() {
    absl::MutexLock lock(&mu_);
    list_existing_ = true;
  }
  // ListLinks ("list"), SetAdminDown ("down <ifindex>") and RequestDump ("dump"), in order.
  std::vector<std::string> calls() const {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  uint64_t malformed_messages() const override { return 0; }

 private:
  void Signal() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const uint64_t one = 1;
    (void)!write(fd_, &one, sizeof(one));
  }
  const int fd_;
  mutable absl::Mutex mu_;
  bool list_existing_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::string> calls_ ABSL_GUARDED_BY(mu_);
  std::vector<Netdev> netdevs_ ABSL_GUARDED_BY(mu_);
  std::deque<Datagram> queue_ ABSL_GUARDED_BY(mu_);
  uint32_t seq_ ABSL_GUARDED_BY(mu_) = 100;
  int dumps_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace portsyncd

#endif  // PORTSYNCD_TESTS_UNIT_FAKE_NETLINK_H_
