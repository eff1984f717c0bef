// Microbenchmarks of the event hot path's pure pieces (netlink parsing, the model update,
// planning + encoding the STATE_DB writes) and of one GetPortState page, which runs under the
// model lock. No kernel, no Redis: for those, see issue 5's end-to-end harness. Method: Google
// Benchmark, single thread, on the build machine.
#include <benchmark/benchmark.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/netlink_parser.h"
#include "core/port_model.h"
#include "core/sonic_tables.h"
#include "gnmi/gnmi.pb.h"
#include "server/gnmi/gnmi_paths.h"
#include "server/portsync/port_page.h"
#include "server/stream/wire_bytes.h"

namespace portsyncd {
namespace {

// A NEWLINK as the kernel sends it for a veth: name, MTU, operstate, address, linkinfo.
std::vector<char> KernelLikeNewlink(const std::string& name, int ifindex, uint32_t flags) {
  std::vector<char> buf(4096, 0);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_NEWLINK;
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifi->ifi_index = ifindex;
  ifi->ifi_flags = flags;
  mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
  mnl_attr_put_u32(nlh, IFLA_TXQLEN, 1000);
  mnl_attr_put_u8(nlh, IFLA_OPERSTATE, IF_OPER_UP);
  mnl_attr_put_u32(nlh, IFLA_MTU, 9100);
  mnl_attr_put_u32(nlh, IFLA_GROUP, 0);
  const uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
  mnl_attr_put(nlh, IFLA_ADDRESS, sizeof(mac), mac);
  mnl_attr_put(nlh, IFLA_BROADCAST, sizeof(mac), mac);
  // Kernel messages carry many attributes we skip (stats64 alone is ~200 bytes).
  std::vector<char> stats(200, 0);
  mnl_attr_put(nlh, IFLA_STATS64, stats.size(), stats.data());
  nlattr* info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
  mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
  mnl_attr_nest_end(nlh, info);
  buf.resize(nlh->nlmsg_len);
  return buf;
}

void BM_ParseLinkMessage(benchmark::State& state) {
  std::vector<char> msg = KernelLikeNewlink("Ethernet64", 70, IFF_UP | IFF_RUNNING);
  for (auto _ : state) {
    absl::StatusOr<LinkEvent> event =
        ParseLinkMessage(reinterpret_cast<const nlmsghdr*>(msg.data()));
    benchmark::DoNotOptimize(event);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseLinkMessage);

// Ethernet0, Ethernet4, ... (`ports` of them) in APPL_DB and the kernel, written, no change
// pending; returns the NEWLINKs that made them.
std::vector<LinkEvent> FillModel(PortModel& model, int ports) {
  std::vector<LinkEvent> events;
  const absl::Time now = absl::Now();
  for (int i = 0; i < ports; ++i) {
    LinkEvent e;
    e.name = absl::StrCat("Ethernet", i * 4);
    e.ifindex = i + 2;
    e.flags = IFF_UP | IFF_RUNNING;
    e.mtu = 9100;
    e.has_mtu = true;
    model.SetInApplDb(e.name);
    model.Apply(e, now);
    events.push_back(e);
  }
  for (const StateWrite& write : model.TakeDirty()) model.CompleteWrite(write, /*ok=*/true);
  (void)model.TakeChanges();
  return events;
}

// Model update for one flap event among N ports.
void BM_ModelApply(benchmark::State& state) {
  PortModel model;
  std::vector<LinkEvent> events = FillModel(model, static_cast<int>(state.range(0)));
  size_t i = 0;
  const absl::Time now = absl::Now();
  for (auto _ : state) {
    LinkEvent& e = events[i++ % events.size()];
    e.flags ^= IFF_RUNNING;
    benchmark::DoNotOptimize(model.Apply(e, now));
    if (i % 64 == 0) {  // drain as the writer and the hub would, once per batch
      for (const StateWrite& write : model.TakeDirty()) model.CompleteWrite(write, /*ok=*/true);
      benchmark::DoNotOptimize(model.TakeChanges());
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ModelApply)->Arg(64)->Arg(1024)->Arg(4096);

// Planning a batch of 64 dirty ports and encoding their HSETs.
void BM_PlanAndEncodeBatch(benchmark::State& state) {
  PortModel model;
  std::vector<LinkEvent> events;
  for (int i = 0; i < 64; ++i) {
    LinkEvent e;
    e.name = absl::StrCat("Ethernet", i * 4);
    e.ifindex = i + 2;
    e.flags = IFF_UP;
    e.mtu = 9100;
    e.has_mtu = true;
    model.SetInApplDb(e.name);
    events.push_back(e);
  }
  const absl::Time now = absl::Now();
  for (auto _ : state) {
    for (LinkEvent& e : events) {
      e.flags ^= IFF_RUNNING;
      model.Apply(e, now);
    }
    std::vector<StateWrite> writes = model.TakeDirty();
    std::vector<RedisArgv> commands;
    commands.reserve(writes.size());
    for (const StateWrite& w : writes) {
      commands.push_back(StateFieldsHset(absl::StrCat("PORT_TABLE|", w.name), *w.set));
      model.CompleteWrite(w, /*ok=*/true);
    }
    benchmark::DoNotOptimize(commands);
    (void)model.TakeChanges();
  }
  state.SetItemsProcessed(state.iterations() * 64);
}
BENCHMARK(BM_PlanAndEncodeBatch);

// One GetPortState page of 10,000 ports among N (what runs under the model lock): the first page,
// a middle one, and one filtered by a pattern.
void BM_PortPage(benchmark::State& state) {
  const int ports = static_cast<int>(state.range(0));
  PortModel model;
  FillModel(model, ports);
  const std::string after = absl::StrCat("Ethernet", (ports / 2) * 4);
  const char* pattern = state.range(1) == 2 ? "Ethernet1*" : "";
  for (auto _ : state) {
    absl::StatusOr<PortPage> page =
        SelectPortPage(model, {.pattern = pattern,
                               .after = state.range(1) == 1 ? absl::string_view(after) : "",
                               .page_size = 10000});
    benchmark::DoNotOptimize(page);
  }
}
BENCHMARK(BM_PortPage)
    ->ArgsProduct({{10000, 100000}, {0, 1, 2}})
    ->ArgNames({"ports", "page"})
    ->Unit(benchmark::kMillisecond);

// One port's gNMI notification of every leaf, as a snapshot sends it: the message built and
// serialized, and encoded straight into the bytes (what the daemon does).
Port GnmiPort() {
  Port port;
  port.name = "Ethernet1234";
  port.in_kernel = true;
  port.flags = IFF_UP | IFF_RUNNING;
  port.mtu = 9100;
  port.ifindex = 1236;
  port.carrier_changes = 3;
  return port;
}
void BM_GnmiBuildAndSerialize(benchmark::State& state) {
  const Port port = GnmiPort();
  for (auto _ : state) {
    gnmi::SubscribeResponse response;
    BuildUpdate(OcLeavesOf(port), kAllLeaves, 1'700'000'000'000'000'000, OcFormat(), 0,
                response.mutable_update());
    benchmark::DoNotOptimize(SerializeShared(response));
  }
}
BENCHMARK(BM_GnmiBuildAndSerialize);
void BM_GnmiEncode(benchmark::State& state) {
  const Port port = GnmiPort();
  for (auto _ : state) {
    benchmark::DoNotOptimize(EncodeUpdateResponse(OcLeavesOf(port), kAllLeaves,
                                                  1'700'000'000'000'000'000, OcFormat(), 0));
  }
}
BENCHMARK(BM_GnmiEncode);

}  // namespace
}  // namespace portsyncd

BENCHMARK_MAIN();
