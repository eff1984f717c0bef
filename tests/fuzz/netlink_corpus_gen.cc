// Writes the seed corpus of netlink_fuzzer: link messages built with libmnl's own builders (the
// way the kernel lays them out), valid ones and the malformed shapes ParseLinkMessage refuses.
// Each file is one datagram. nlmsg_pid drives the fuzzer's model calls (see netlink_fuzzer.cc).
//
// Usage: netlink_corpus_gen OUT_DIR            the synthetic seeds
//        netlink_corpus_gen --dump OUT_FILE    the kernel's whole RTM_GETLINK dump reply in
//                                              this network namespace
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

namespace {

// Bits of nlmsg_pid understood by netlink_fuzzer.
constexpr uint32_t kApplDb = 1 << 0, kConfigDb = 1 << 1, kBeginDump = 1 << 3, kEndDump = 1 << 4,
                   kComplete = 1 << 5, kFlush = 1 << 6;

class Datagram {
 public:
  Datagram() : buf_(16384, 0) {}
  // Starts a link message; attributes go to it until the next Link().
  Datagram& Link(uint16_t type, int32_t ifindex, uint32_t flags, uint32_t control = 0,
                 uint8_t family = AF_UNSPEC) {
    End();
    nlh_ = mnl_nlmsg_put_header(buf_.data() + used_);
    open_ = true;
    nlh_->nlmsg_type = type;
    nlh_->nlmsg_pid = control;
    nlh_->nlmsg_seq = 1;
    auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh_, sizeof(ifinfomsg)));
    ifi->ifi_family = family;
    ifi->ifi_index = ifindex;
    ifi->ifi_flags = flags;
    ifi->ifi_change = 0xffffffff;
    return *this;
  }
  Datagram& Done(uint32_t control = 0) {
    End();
    nlh_ = mnl_nlmsg_put_header(buf_.data() + used_);
    open_ = true;
    nlh_->nlmsg_type = NLMSG_DONE;
    nlh_->nlmsg_pid = control;
    int zero = 0;
    std::memcpy(mnl_nlmsg_put_extra_header(nlh_, sizeof(int)), &zero, sizeof(int));
    return *this;
  }
  Datagram& Name(const char* name) {
    mnl_attr_put_strz(nlh_, IFLA_IFNAME, name);
    return *this;
  }
  Datagram& Mtu(uint32_t mtu) {
    mnl_attr_put_u32(nlh_, IFLA_MTU, mtu);
    return *this;
  }
  Datagram& Master(uint32_t master) {
    mnl_attr_put_u32(nlh_, IFLA_MASTER, master);
    return *this;
  }
  Datagram& Operstate(uint8_t state) {
    mnl_attr_put_u8(nlh_, IFLA_OPERSTATE, state);
    return *this;
  }
  Datagram& Mac(std::vector<uint8_t> mac) {
    mnl_attr_put(nlh_, IFLA_ADDRESS, mac.size(), mac.data());
    return *this;
  }
  Datagram& Kind(const char* kind) {
    nlattr* info = mnl_attr_nest_start(nlh_, IFLA_LINKINFO);
    mnl_attr_put_strz(nlh_, IFLA_INFO_KIND, kind);
    mnl_attr_nest_end(nlh_, info);
    return *this;
  }
  Datagram& Raw(uint16_t type, std::vector<uint8_t> payload) {
    mnl_attr_put(nlh_, type, payload.size(), payload.data());
    return *this;
  }
  // An Ethernet port as the kernel announces it.
  Datagram& Port(uint16_t type, int32_t ifindex, const char* name, uint32_t flags,
                 uint32_t control = 0) {
    return Link(type, ifindex, flags, control)
        .Name(name)
        .Mtu(9100)
        .Operstate((flags & IFF_RUNNING) ? IF_OPER_UP : IF_OPER_DOWN)
        .Mac({0x02, 0x42, 0xac, 0x11, 0x00, static_cast<uint8_t>(ifindex)})
        .Kind("veth");
  }
  nlmsghdr* header() { return nlh_; }
  std::string Bytes() {
    End();
    return std::string(buf_.data(), used_);
  }

 private:
  // Closes the current message: the next one starts after it.
  void End() {
    if (open_) used_ += MNL_ALIGN(nlh_->nlmsg_len);
    open_ = false;
  }
  std::vector<char> buf_;
  size_t used_ = 0;
  nlmsghdr* nlh_ = nullptr;
  bool open_ = false;
};

bool Write(const std::string& path, const std::string& bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return false;
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  return std::fclose(f) == 0 && ok;
}

int WriteSeeds(const std::string& dir) {
  constexpr uint32_t kUp = IFF_UP | IFF_RUNNING | IFF_LOWER_UP | IFF_BROADCAST | IFF_MULTICAST;
  constexpr uint32_t kAdminUp = IFF_UP | IFF_BROADCAST | IFF_MULTICAST;
  struct Seed {
    const char* name;
    std::string bytes;
  };
  std::vector<Seed> seeds;
  seeds.push_back({"newlink_ethernet", Datagram().Port(RTM_NEWLINK, 5, "Ethernet0", kUp).Bytes()});
  seeds.push_back({"dellink_ethernet", Datagram().Port(RTM_DELLINK, 5, "Ethernet0", 0).Bytes()});
  seeds.push_back({"newlink_portchannel", Datagram()
                                              .Link(RTM_NEWLINK, 9, kUp, kApplDb)
                                              .Name("PortChannel0001")
                                              .Mtu(9100)
                                              .Kind("bond")
                                              .Bytes()});
  seeds.push_back(
      {"newlink_team",
       Datagram().Link(RTM_NEWLINK, 10, kUp).Name("PortChannel0002").Kind("team").Bytes()});
  seeds.push_back(
      {"dellink_with_master",
       Datagram().Link(RTM_DELLINK, 5, kUp, 0, AF_BRIDGE).Name("Ethernet0").Master(12).Bytes()});
  seeds.push_back(
      {"newlink_other_name", Datagram().Link(RTM_NEWLINK, 1, kUp).Name("lo").Mtu(65536).Bytes()});
  // A flap with APPL_DB, CONFIG_DB and a flush between the steps.
  seeds.push_back(
      {"flap_sequence", Datagram()
                            .Port(RTM_NEWLINK, 5, "Ethernet0", kUp, kApplDb | kConfigDb | kFlush)
                            .Port(RTM_NEWLINK, 5, "Ethernet0", kAdminUp)
                            .Port(RTM_NEWLINK, 5, "Ethernet0", kUp, kFlush)
                            .Port(RTM_DELLINK, 5, "Ethernet0", 0)
                            .Port(RTM_NEWLINK, 6, "Ethernet0", kUp, kApplDb | kFlush)
                            .Bytes()});
  // A resync dump: begin, two ports, DONE (complete), flush.
  seeds.push_back(
      {"dump", Datagram()
                   .Port(RTM_NEWLINK, 5, "Ethernet0", kUp, kApplDb | kBeginDump)
                   .Port(RTM_NEWLINK, 6, "Ethernet4", kAdminUp, kApplDb)
                   .Port(RTM_NEWLINK, 7, "Ethernet8", kUp, kEndDump | kComplete | kFlush)
                   .Done()
                   .Bytes()});
  // Malformed: each is refused by the parser.
  {
    Datagram d;
    d.Link(RTM_NEWLINK, 5, kUp).Name("Ethernet0");
    d.header()->nlmsg_len -= 2;  // the name attribute runs past the message
    seeds.push_back({"truncated_attribute", d.Bytes()});
  }
  seeds.push_back({"name_not_terminated",
                   Datagram().Link(RTM_NEWLINK, 5, kUp).Raw(IFLA_IFNAME, {'E', 't', 'h'}).Bytes()});
  seeds.push_back(
      {"name_empty", Datagram().Link(RTM_NEWLINK, 5, kUp).Raw(IFLA_IFNAME, {0}).Bytes()});
  seeds.push_back(
      {"name_16_bytes", Datagram().Link(RTM_NEWLINK, 5, kUp).Name("Ethernet12345678").Bytes()});
  seeds.push_back({"no_name", Datagram().Link(RTM_NEWLINK, 5, kUp).Mtu(1500).Bytes()});
  seeds.push_back(
      {"mtu_wrong_size",
       Datagram().Link(RTM_NEWLINK, 5, kUp).Name("Ethernet0").Raw(IFLA_MTU, {1, 2}).Bytes()});
  seeds.push_back({"mac_33_bytes", Datagram()
                                       .Link(RTM_NEWLINK, 5, kUp)
                                       .Name("Ethernet0")
                                       .Mac(std::vector<uint8_t>(33, 0xab))
                                       .Bytes()});
  {
    Datagram d;
    d.Link(RTM_NEWLINK, 5, kUp).Name("Ethernet0").Kind("veth");
    // Corrupt the nested IFLA_INFO_KIND's length so it runs past IFLA_LINKINFO.
    auto* info = reinterpret_cast<nlattr*>(static_cast<char*>(mnl_nlmsg_get_payload(d.header())) +
                                           MNL_ALIGN(sizeof(ifinfomsg)) +
                                           MNL_ALIGN(sizeof(nlattr) + sizeof("Ethernet0")));
    auto* kind = static_cast<nlattr*>(mnl_attr_get_payload(info));
    kind->nla_len += 8;
    seeds.push_back({"linkinfo_truncated", d.Bytes()});
  }
  {
    Datagram d;
    d.Link(RTM_NEWLINK, 5, kUp);
    d.header()->nlmsg_len = NLMSG_HDRLEN + 4;  // shorter than ifinfomsg
    seeds.push_back({"short_header", d.Bytes()});
  }
  seeds.push_back({"wrong_type", Datagram().Link(RTM_NEWADDR, 5, kUp).Name("Ethernet0").Bytes()});
  for (const Seed& seed : seeds) {
    const std::string path = dir + "/" + seed.name + ".bin";
    if (!Write(path, seed.bytes)) {
      std::perror(path.c_str());
      return 1;
    }
  }
  std::printf("wrote %zu seeds to %s\n", seeds.size(), dir.c_str());
  return 0;
}

int WriteDump(const std::string& path) {
  mnl_socket* nl = mnl_socket_open(NETLINK_ROUTE);
  if (nl == nullptr || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
    std::perror("netlink");
    return 1;
  }
  alignas(nlmsghdr) char req[256] = {};
  nlmsghdr* nlh = mnl_nlmsg_put_header(req);
  nlh->nlmsg_type = RTM_GETLINK;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  nlh->nlmsg_seq = static_cast<uint32_t>(time(nullptr));
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
    std::perror("send");
    return 1;
  }
  // Every datagram of the reply, up to and including NLMSG_DONE, one after the other (as one
  // input: the fuzzer walks it as a datagram of many messages).
  std::string all;
  std::vector<char> buf(1 << 16);
  bool done = false;
  while (!done) {
    const ssize_t n = mnl_socket_recvfrom(nl, buf.data(), buf.size());
    if (n < 0) {
      std::perror("recv");
      return 1;
    }
    const auto* msg = reinterpret_cast<const nlmsghdr*>(buf.data());
    int left = static_cast<int>(n);
    for (; mnl_nlmsg_ok(msg, left); msg = mnl_nlmsg_next(msg, &left)) {
      if (msg->nlmsg_type == NLMSG_DONE || msg->nlmsg_type == NLMSG_ERROR) done = true;
    }
    all.append(buf.data(), static_cast<size_t>(n));
  }
  mnl_socket_close(nl);
  if (!Write(path, all)) {
    std::perror(path.c_str());
    return 1;
  }
  std::printf("wrote %zu bytes to %s\n", all.size(), path.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "--dump") == 0) return WriteDump(argv[2]);
  if (argc == 2 && argv[1][0] != '-') return WriteSeeds(argv[1]);
  std::fprintf(stderr, "usage: %s OUT_DIR | --dump OUT_FILE\n", argv[0]);
  return 2;
}
