#include "bench/psbench_common.h"

#include <fcntl.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace psbench {

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

void Die(const std::string& msg) {
  std::fprintf(stderr, "psbench: %s\n", msg.c_str());
  std::exit(1);
}

void EnterNetns(const std::string& ns, int* saved_fd) {
  *saved_fd = -1;
  if (ns.empty()) return;
  *saved_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  int fd = open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
  if (*saved_fd < 0 || fd < 0) Die("cannot open network namespace " + ns + ": " + strerror(errno));
  if (setns(fd, CLONE_NEWNET) != 0) Die("setns " + ns + ": " + strerror(errno));
  close(fd);
}

void LeaveNetns(int saved_fd) {
  if (saved_fd < 0) return;
  if (setns(saved_fd, CLONE_NEWNET) != 0) Die(std::string("setns back: ") + strerror(errno));
  close(saved_fd);
}

mnl_socket* OpenRtnl(bool subscribe_links, int rcvbuf_bytes) {
  mnl_socket* nl = mnl_socket_open(NETLINK_ROUTE);
  if (nl == nullptr) Die(std::string("netlink socket: ") + strerror(errno));
  if (rcvbuf_bytes > 0 &&
      setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf_bytes,
                 sizeof(rcvbuf_bytes)) != 0) {
    setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUF, &rcvbuf_bytes, sizeof(rcvbuf_bytes));
  }
  if (mnl_socket_bind(nl, subscribe_links ? RTMGRP_LINK : 0, MNL_SOCKET_AUTOPID) != 0) {
    Die(std::string("netlink bind: ") + strerror(errno));
  }
  return nl;
}

void SetLink(mnl_socket* nl, int ifindex, unsigned flags_mask, unsigned flags, uint32_t mtu,
             bool ack) {
  char buf[256];
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = RTM_NEWLINK;
  nlh->nlmsg_flags = NLM_F_REQUEST | (ack ? NLM_F_ACK : 0);
  static uint32_t seq = 1;
  nlh->nlmsg_seq = seq++;
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = ifindex;
  ifi->ifi_change = flags_mask;
  ifi->ifi_flags = flags;
  if (mtu > 0) mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
  if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
    Die(std::string("netlink send: ") + strerror(errno));
  }
  if (!ack) return;
  char rbuf[8192];
  ssize_t n = mnl_socket_recvfrom(nl, rbuf, sizeof(rbuf));
  if (n < 0) Die(std::string("netlink ack: ") + strerror(errno));
  if (mnl_cb_run(rbuf, n, nlh->nlmsg_seq, mnl_socket_get_portid(nl), nullptr, nullptr) < 0) {
    Die("RTM_NEWLINK on ifindex " + std::to_string(ifindex) + ": " + strerror(errno));
  }
}

int DrainErrors(mnl_socket* nl) {
  char buf[8192];
  int errors = 0;
  for (;;) {
    ssize_t n = recv(mnl_socket_get_fd(nl), buf, sizeof(buf), MSG_DONTWAIT);
    if (n <= 0) return errors;
    for (auto* nlh = reinterpret_cast<nlmsghdr*>(buf); mnl_nlmsg_ok(nlh, static_cast<int>(n));
         nlh = mnl_nlmsg_next(nlh, reinterpret_cast<int*>(&n))) {
      if (nlh->nlmsg_type == NLMSG_ERROR) {
        auto* err = static_cast<nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
        if (err->error != 0) ++errors;
      }
    }
  }
}

std::vector<int> Ifindexes(const std::string& ns, const std::vector<std::string>& names) {
  std::vector<int> out;
  out.reserve(names.size());
  InNetns(ns, [&] {
    for (const auto& name : names) {
      unsigned idx = if_nametoindex(name.c_str());
      if (idx == 0) Die("no interface " + name + " in namespace " + ns);
      out.push_back(static_cast<int>(idx));
    }
  });
  return out;
}

std::vector<std::string> PortNames(int n, const std::string& prefix) {
  std::vector<std::string> out;
  out.reserve(n);
  for (int i = 0; i < n; ++i) out.push_back(prefix + std::to_string(i));
  return out;
}

redisContext* ConnectRedis(const std::string& unix_socket, int db) {
  redisContext* c = redisConnectUnix(unix_socket.c_str());
  if (c == nullptr || c->err) {
    Die("redis connect " + unix_socket + ": " + (c ? c->errstr : "out of memory"));
  }
  auto* r = static_cast<redisReply*>(redisCommand(c, "SELECT %d", db));
  CheckReply(r, c, "SELECT");
  freeReplyObject(r);
  return c;
}

void CheckReply(redisReply* r, redisContext* c, const char* what) {
  if (r == nullptr) Die(std::string(what) + ": " + c->errstr);
  if (r->type == REDIS_REPLY_ERROR) Die(std::string(what) + ": " + r->str);
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * v.size()));
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

}  // namespace psbench
