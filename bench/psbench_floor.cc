// The floor probe: the least work any portsyncd could do on this machine. It listens to link
// events and reacts to each netlink message with one HSET of the four STATE_DB fields (pipelined
// per receive batch: one round trip for everything one wake-up drained), and starts with one dump
// plus one pipelined write of all ports. No APPL_DB check, no model, no API, no recovery. Run it
// in the switch namespace instead of the daemon under test: every figure of the daemon is a ratio
// to this one, measured in the same run.
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "bench/psbench.h"
#include "bench/psbench_common.h"

namespace psbench {
namespace {

std::atomic<bool> g_stop{false};

struct Link {
  bool del = false;
  const char* name = nullptr;
  uint32_t mtu = 0;
  unsigned flags = 0;
};

int AttrCb(const nlattr* attr, void* data) {
  auto* link = static_cast<Link*>(data);
  switch (mnl_attr_get_type(attr)) {
    case IFLA_IFNAME:
      if (mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) >= 0) link->name = mnl_attr_get_str(attr);
      break;
    case IFLA_MTU:
      if (mnl_attr_validate(attr, MNL_TYPE_U32) >= 0) link->mtu = mnl_attr_get_u32(attr);
      break;
  }
  return MNL_CB_OK;
}

// Appends the write for one link message; returns whether it appended one.
bool AppendWrite(redisContext* rc, const nlmsghdr* nlh, const std::string& table) {
  if (nlh->nlmsg_type != RTM_NEWLINK && nlh->nlmsg_type != RTM_DELLINK) return false;
  auto* ifi = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(nlh));
  Link link;
  link.del = nlh->nlmsg_type == RTM_DELLINK;
  link.flags = ifi->ifi_flags;
  mnl_attr_parse(nlh, sizeof(*ifi), AttrCb, &link);
  if (link.name == nullptr || std::strncmp(link.name, "Ethernet", 8) != 0) return false;
  std::string key = table + link.name;
  if (link.del) {
    redisAppendCommand(rc, "DEL %s", key.c_str());
  } else {
    redisAppendCommand(rc, "HSET %s state ok netdev_oper_status %s admin_status %s mtu %u",
                       key.c_str(), (link.flags & IFF_RUNNING) ? "up" : "down",
                       (link.flags & IFF_UP) ? "up" : "down", link.mtu);
  }
  return true;
}

void ReadReplies(redisContext* rc, int n) {
  for (int i = 0; i < n; ++i) {
    void* reply = nullptr;
    if (redisGetReply(rc, &reply) != REDIS_OK) Die(std::string("redis: ") + rc->errstr);
    CheckReply(static_cast<redisReply*>(reply), rc, "floor write");
    freeReplyObject(reply);
  }
}

}  // namespace

int RunFloor(const Args& args) {
  const int64_t began = NowNs();
  const std::string table = "PORT_TABLE" + args.Get("sep", "|");
  signal(SIGTERM, [](int) { g_stop = true; });
  signal(SIGINT, [](int) { g_stop = true; });
  mnl_socket* events = OpenRtnl(true, args.GetInt("rcvbuf", 16 << 20));
  redisContext* rc = ConnectRedis(args.Get("redis"), args.GetInt("db", 6));

  // Start: one dump, one pipelined write of every port.
  mnl_socket* dump = OpenRtnl(false, 0);
  char req[64];
  nlmsghdr* nlh = mnl_nlmsg_put_header(req);
  nlh->nlmsg_type = RTM_GETLINK;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  nlh->nlmsg_seq = 1;
  auto* gen = static_cast<rtgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtgenmsg)));
  gen->rtgen_family = AF_PACKET;
  if (mnl_socket_sendto(dump, nlh, nlh->nlmsg_len) < 0) Die("dump request failed");
  std::vector<char> buf(1 << 16);
  int pending = 0;
  for (bool done = false; !done;) {
    ssize_t n = mnl_socket_recvfrom(dump, buf.data(), buf.size());
    if (n < 0) Die(std::string("dump: ") + strerror(errno));
    int len = static_cast<int>(n);
    for (auto* m = reinterpret_cast<nlmsghdr*>(buf.data()); mnl_nlmsg_ok(m, len);
         m = mnl_nlmsg_next(m, &len)) {
      if (m->nlmsg_type == NLMSG_DONE || m->nlmsg_type == NLMSG_ERROR) done = true;
      else pending += AppendWrite(rc, m, table);
    }
  }
  mnl_socket_close(dump);
  ReadReplies(rc, pending);
  std::fprintf(stderr, "floor: every port written %.1f ms after the start\n",
               (NowNs() - began) / 1e6);

  // Events: drain everything one wake-up finds, one HSET per message, one round trip.
  uint64_t messages = 0, writes = 0, overruns = 0, batches = 0;
  pollfd pfd{mnl_socket_get_fd(events), POLLIN, 0};
  while (!g_stop) {
    if (poll(&pfd, 1, 200) <= 0) continue;
    pending = 0;
    for (int i = 0; i < 256; ++i) {
      ssize_t n = recv(pfd.fd, buf.data(), buf.size(), MSG_DONTWAIT);
      if (n < 0) {
        if (errno == ENOBUFS) {
          ++overruns;
          continue;
        }
        break;
      }
      int len = static_cast<int>(n);
      for (auto* m = reinterpret_cast<nlmsghdr*>(buf.data()); mnl_nlmsg_ok(m, len);
           m = mnl_nlmsg_next(m, &len)) {
        ++messages;
        pending += AppendWrite(rc, m, table);
      }
    }
    if (pending > 0) {
      ReadReplies(rc, pending);
      writes += pending;
      ++batches;
    }
  }
  std::printf(
      "{\"messages\": %llu, \"writes\": %llu, \"batches\": %llu, \"overruns\": %llu}\n",
      static_cast<unsigned long long>(messages), static_cast<unsigned long long>(writes),
      static_cast<unsigned long long>(batches), static_cast<unsigned long long>(overruns));
  redisFree(rc);
  mnl_socket_close(events);
  return 0;
}

}  // namespace psbench
