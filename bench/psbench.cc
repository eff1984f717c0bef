// psbench: the native generators and probes of the end-to-end benchmark (bench/run.py drives it).
// Subcommands (each prints one JSON object on stdout):
//   floor      the floor probe, run in place of a daemon (psbench_floor.cc)
//   latency    single-event latency: one change at a time, kernel -> STATE_DB keyspace
//              notification (and -> each StreamLinkEvents subscriber)
//   storm      every port's MTU changed as fast as the kernel takes it, for a fixed time;
//              STATE_DB sampled to see how far behind it is, then the time to converge
//   startup    starts a command and times until STATE_DB holds every port (and PortInitDone)
//   subscribe  holds K StreamLinkEvents (--batched 1: WatchLinkEvents) and --gnmi G gNMI
//              subscribers open until SIGTERM (footprint, soak)
//   grpc-idle  a gRPC callback-API server doing nothing, until SIGTERM (footprint: gRPC's floor)
//   getports   GetPortState of every port, page by page, timed (scale)
#include "bench/psbench.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "bench/psbench_common.h"
#include "bench/psbench_subscribers.h"
#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"

namespace psbench {

using json = nlohmann::json;

std::string Args::Get(const std::string& key, const std::string& def) const {
  auto it = values.find(key);
  return it == values.end() ? def : it->second;
}
long Args::GetInt(const std::string& key, long def) const {
  auto it = values.find(key);
  return it == values.end() ? def : std::stol(it->second);
}
std::string Args::Need(const std::string& key) const {
  auto it = values.find(key);
  if (it == values.end()) Die("missing --" + key);
  return it->second;
}

namespace {

// Process CPU time (user + system) in seconds, from /proc/<pid>/stat; -1 when unreadable.
double CpuSeconds(long pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto close = s.rfind(')');
  if (close == std::string::npos) return -1;
  std::vector<std::string> fields;
  size_t pos = close + 2;
  while (pos < s.size()) {
    size_t end = s.find(' ', pos);
    fields.push_back(s.substr(pos, end - pos));
    if (end == std::string::npos) break;
    pos = end + 1;
  }
  // fields[0] is field 3 (state); utime is field 14, stime 15.
  if (fields.size() < 13) return -1;
  return (std::stod(fields[11]) + std::stod(fields[12])) / sysconf(_SC_CLK_TCK);
}

std::vector<long> Pids(const Args& args) {
  std::vector<long> pids;
  std::string list = args.Get("cpu-pids");
  for (size_t pos = 0; pos < list.size();) {
    size_t end = list.find(',', pos);
    pids.push_back(std::stol(list.substr(pos, end - pos)));
    if (end == std::string::npos) break;
    pos = end + 1;
  }
  return pids;
}

json Summary(const std::vector<double>& us) {
  if (us.empty()) return json{{"count", 0}};
  double sum = 0;
  for (double v : us) sum += v;
  return json{{"count", us.size()},
              {"mean_us", sum / us.size()},
              {"p50_us", Percentile(us, 50)},
              {"p90_us", Percentile(us, 90)},
              {"p99_us", Percentile(us, 99)},
              {"p999_us", Percentile(us, 99.9)},
              {"max_us", Percentile(us, 100)}};
}

json SubscriberStats(SubscriberPool& pool) {
  pool.Stop();
  auto st = pool.Collect();
  std::vector<double> lat(st.latency_us.begin(), st.latency_us.end());
  std::vector<double> gnmi_lat(st.gnmi_latency_us.begin(), st.gnmi_latency_us.end());
  json j = {{"events", st.events},       {"messages", st.messages}, {"changed", st.changed},
            {"resyncs", st.resyncs},     {"snapshots", st.snapshots},
            {"ended_early", st.ended_early}, {"lost", st.lost}, {"latency", Summary(lat)}};
  if (!gnmi_lat.empty()) j["gnmi_latency"] = Summary(gnmi_lat);
  // A sample of the raw figures for plots (at most 20,000).
  json sample = json::array();
  size_t step = std::max<size_t>(1, lat.size() / 20000);
  for (size_t i = 0; i < lat.size(); i += step) sample.push_back(std::round(lat[i] * 10) / 10);
  j["latency_sample_us"] = sample;
  return j;
}

// Reads one reply from a subscribed connection, waiting at most until `deadline_ns`.
// Returns nullptr on timeout.
redisReply* ReadPushed(redisContext* c, int64_t deadline_ns) {
  for (;;) {
    void* reply = nullptr;
    if (redisGetReplyFromReader(c, &reply) != REDIS_OK) Die("redis subscriber: protocol error");
    if (reply != nullptr) return static_cast<redisReply*>(reply);
    int64_t left_ms = (deadline_ns - NowNs()) / 1000000;
    if (left_ms < 0) return nullptr;
    pollfd pfd{c->fd, POLLIN, 0};
    if (poll(&pfd, 1, static_cast<int>(std::min<int64_t>(left_ms + 1, 1000))) <= 0) continue;
    if (redisBufferRead(c) != REDIS_OK) Die(std::string("redis subscriber: ") + c->errstr);
  }
}

struct Step {
  int field;       // ExpectedEvent::Field
  uint32_t value;  // 1 up / 0 down, or the MTU
};

}  // namespace

// ---------------------------------------------------------------------------------------------
int RunLatency(const Args& args) {
  const int ports = args.GetInt("ports", 64);
  const int events = args.GetInt("events", 2000);
  const int gap_us = args.GetInt("gap-us", 3000);
  const int timeout_ms = args.GetInt("timeout-ms", 2000);
  const int db = args.GetInt("db", 6);
  const std::string table = "PORT_TABLE" + args.Get("sep", "|");
  const std::string kinds = args.Get("kinds", "admin,carrier,mtu");
  const std::string sw = args.Need("sw"), wire = args.Need("wire");

  // Each port walks this cycle; every step changes the field it is timed on. Ports start up,
  // peers up, MTU 1500.
  std::vector<Step> cycle;
  if (kinds.find("admin") != std::string::npos) {
    cycle.push_back({ExpectedEvent::kAdmin, 0});
    cycle.push_back({ExpectedEvent::kAdmin, 1});
  }
  if (kinds.find("carrier") != std::string::npos) {
    cycle.push_back({ExpectedEvent::kOper, 0});
    cycle.push_back({ExpectedEvent::kOper, 1});
  }
  if (kinds.find("mtu") != std::string::npos) {
    cycle.push_back({ExpectedEvent::kMtu, 9000});
    cycle.push_back({ExpectedEvent::kMtu, 1500});
  }
  if (cycle.empty()) Die("--kinds: admin, carrier and/or mtu");

  mnl_socket *sw_nl = nullptr, *wire_nl = nullptr;
  InNetns(sw, [&] { sw_nl = OpenRtnl(false, 0); });
  InNetns(wire, [&] { wire_nl = OpenRtnl(false, 0); });
  auto names = PortNames(ports, "Ethernet");
  auto port_idx = Ifindexes(sw, names);
  auto peer_idx = Ifindexes(wire, PortNames(ports, "w"));

  redisContext* sub = ConnectRedis(args.Need("redis"), db);
  redisContext* query = ConnectRedis(args.Need("redis"), db);
  std::string pattern = "__keyspace@" + std::to_string(db) + "__:" + table + "*";
  auto* r = static_cast<redisReply*>(redisCommand(sub, "PSUBSCRIBE %s", pattern.c_str()));
  CheckReply(r, sub, "PSUBSCRIBE");
  freeReplyObject(r);
  const size_t channel_prefix = pattern.size() - 1;

  ExpectedEvent expected;
  std::unique_ptr<SubscriberPool> pool;
  const int gnmi_subscribers = args.GetInt("gnmi-subscribers", 0);
  const int subscribers = args.GetInt("subscribers", 0) + gnmi_subscribers;
  if (subscribers > 0) {
    pool = std::make_unique<SubscriberPool>(args.Need("grpc"), subscribers - gnmi_subscribers,
                                            &expected, gnmi_subscribers, args.GetInt("batched", 0) != 0);
    if (!pool->WaitSynced(60000)) Die("subscribers did not all reach SYNCED");
  }

  static const char* kFieldNames[] = {"admin_status", "netdev_oper_status", "mtu"};
  static const char* kKindNames[] = {"admin", "carrier", "mtu"};
  std::vector<double> all, by_kind[3];
  int lost = 0, sub_missed = 0;
  std::vector<size_t> step_of(ports, 0);
  for (int i = 0; i < events; ++i) {
    const int p = i % ports;
    // Steps come in pairs that restore the port (down/up, 9000/1500); ports start at different
    // pairs, so every kind of change is measured even when there are more ports than events.
    const size_t pairs = cycle.size() / 2;
    const Step step = cycle[(step_of[p]++ + 2 * (p % pairs)) % cycle.size()];
    const std::string key = table + names[p];
    const std::string want = step.field == ExpectedEvent::kMtu ? std::to_string(step.value)
                             : step.value                      ? "up"
                                                               : "down";
    // Drop notifications of earlier events (e.g. the RUNNING that follows an admin up).
    while (redisReply* stale = ReadPushed(sub, NowNs())) freeReplyObject(stale);

    expected.id.store(0, std::memory_order_release);
    expected.port.store(p, std::memory_order_relaxed);
    expected.field.store(step.field, std::memory_order_relaxed);
    expected.value.store(step.value, std::memory_order_relaxed);
    const int64_t t0 = NowNs();
    expected.t0_ns.store(t0, std::memory_order_relaxed);
    expected.id.store(i + 1, std::memory_order_release);
    if (step.field == ExpectedEvent::kAdmin) {
      SetLink(sw_nl, port_idx[p], IFF_UP, step.value ? IFF_UP : 0, 0, true);
    } else if (step.field == ExpectedEvent::kOper) {
      SetLink(wire_nl, peer_idx[p], IFF_UP, step.value ? IFF_UP : 0, 0, true);
    } else {
      SetLink(sw_nl, port_idx[p], 0, 0, step.value, true);
    }

    // Wait for the key's notification, then check the field really holds the new value.
    int64_t seen = -1;
    const int64_t deadline = t0 + int64_t{timeout_ms} * 1000000;
    while (seen < 0) {
      redisReply* msg = ReadPushed(sub, deadline);
      if (msg == nullptr) break;
      const int64_t now = NowNs();
      bool ours = msg->type == REDIS_REPLY_ARRAY && msg->elements == 4 &&
                  std::strcmp(msg->element[2]->str + channel_prefix - table.size(),
                              key.c_str()) == 0;
      freeReplyObject(msg);
      if (!ours) continue;
      auto* v = static_cast<redisReply*>(
          redisCommand(query, "HGET %s %s", key.c_str(), kFieldNames[step.field]));
      CheckReply(v, query, "HGET");
      if (v->type == REDIS_REPLY_STRING && want == v->str) seen = now;
      freeReplyObject(v);
    }
    if (seen < 0) {
      ++lost;
      std::fprintf(stderr, "psbench: event %d (%s %s=%s) not in STATE_DB after %d ms\n", i,
                   names[p].c_str(), kFieldNames[step.field], want.c_str(), timeout_ms);
    } else {
      double us = (seen - t0) / 1000.0;
      all.push_back(us);
      by_kind[step.field].push_back(us);
    }
    if (pool) {
      int got = pool->WaitReceived(i + 1, timeout_ms);
      sub_missed += subscribers - got;
    }
    // Let the kernel and every process go idle before the next change.
    usleep(gap_us);
  }
  expected.id.store(0, std::memory_order_release);

  json out = {{"scenario", "latency"},     {"ports", ports},  {"events", events},
              {"gap_us", gap_us},          {"lost", lost},    {"all", Summary(all)},
              {"subscribers", subscribers}, {"subscriber_missed", sub_missed}};
  for (int k = 0; k < 3; ++k) {
    if (!by_kind[k].empty()) out["by_kind"][kKindNames[k]] = Summary(by_kind[k]);
  }
  json raw = json::array();
  for (double v : all) raw.push_back(std::round(v * 10) / 10);
  out["samples_us"] = raw;
  for (int k = 0; k < 3; ++k) {
    json kind = json::array();
    for (double v : by_kind[k]) kind.push_back(std::round(v * 10) / 10);
    if (!by_kind[k].empty()) out["samples_by_kind_us"][kKindNames[k]] = kind;
  }
  if (pool) out["stream"] = SubscriberStats(*pool);
  std::printf("%s\n", out.dump().c_str());
  redisFree(sub);
  redisFree(query);
  mnl_socket_close(sw_nl);
  mnl_socket_close(wire_nl);
  return lost == 0 ? 0 : 3;
}

// ---------------------------------------------------------------------------------------------
int RunStorm(const Args& args) {
  const int ports = args.GetInt("ports", 1024);
  const double duration_s = std::stod(args.Get("duration-s", "5"));
  const int sample_ms = args.GetInt("sample-ms", 100);
  const int db = args.GetInt("db", 6);
  const std::string table = "PORT_TABLE" + args.Get("sep", "|");
  const std::string sw = args.Need("sw");
  // Each MTU change is exactly one RTM_NEWLINK, and the MTU says how many changes of that port
  // STATE_DB has caught up with: generation g is MTU kBase + g.
  constexpr uint32_t kBase = 1500, kMaxMtu = 65535;

  auto names = PortNames(ports, "Ethernet");
  auto port_idx = Ifindexes(sw, names);
  mnl_socket *gen_nl = nullptr, *listen_nl = nullptr;
  InNetns(sw, [&] {
    gen_nl = OpenRtnl(false, 0);
    listen_nl = OpenRtnl(true, 16 << 20);
  });
  redisContext* rc = ConnectRedis(args.Need("redis"), db);

  std::unique_ptr<SubscriberPool> pool;
  const int gnmi_subscribers = args.GetInt("gnmi-subscribers", 0);
  const int subscribers = args.GetInt("subscribers", 0) + gnmi_subscribers;
  if (subscribers > 0) {
    pool = std::make_unique<SubscriberPool>(args.Need("grpc"), subscribers - gnmi_subscribers,
                                            nullptr, gnmi_subscribers, args.GetInt("batched", 0) != 0);
    if (!pool->WaitSynced(60000)) Die("subscribers did not all reach SYNCED");
  }

  // Reads STATE_DB's MTU of `which` ports; returns the generations.
  auto read_generations = [&](const std::vector<int>& which) {
    for (int p : which) redisAppendCommand(rc, "HGET %s%s mtu", table.c_str(), names[p].c_str());
    std::vector<uint32_t> gens(which.size(), 0);
    for (size_t i = 0; i < which.size(); ++i) {
      void* reply = nullptr;
      if (redisGetReply(rc, &reply) != REDIS_OK) Die(std::string("redis: ") + rc->errstr);
      auto* rr = static_cast<redisReply*>(reply);
      if (rr->type == REDIS_REPLY_STRING) {
        uint32_t mtu = static_cast<uint32_t>(std::stoul(rr->str));
        gens[i] = mtu > kBase ? mtu - kBase : 0;
      }
      freeReplyObject(reply);
    }
    return gens;
  };
  std::vector<int> every(ports);
  for (int p = 0; p < ports; ++p) every[p] = p;
  // Fresh ports start at generation 0; with --resume 1 (soak), wherever STATE_DB (converged
  // with the kernel) has them.
  std::vector<uint32_t> sent_gen = read_generations(every);
  uint64_t base = 0;
  for (uint32_t g : sent_gen) base += g;
  if (base != 0 && args.Get("resume") != "1") Die("STATE_DB MTUs must start at 1500 (fresh ports)");
  const long rate = args.GetInt("rate", 0);  // events/s; 0: as fast as the kernel takes them

  // The listener counts what the kernel broadcast, as a check on the generator's count.
  std::atomic<bool> stop_listen{false};
  std::atomic<uint64_t> heard{0}, listen_overruns{0};
  std::thread listener([&] {
    std::vector<char> buf(1 << 16);
    pollfd pfd{mnl_socket_get_fd(listen_nl), POLLIN, 0};
    while (!stop_listen) {
      if (poll(&pfd, 1, 50) <= 0) continue;
      for (;;) {
        ssize_t n = recv(pfd.fd, buf.data(), buf.size(), MSG_DONTWAIT);
        if (n < 0) {
          if (errno == ENOBUFS) {
            ++listen_overruns;
            continue;
          }
          break;
        }
        int len = static_cast<int>(n);
        for (auto* m = reinterpret_cast<nlmsghdr*>(buf.data()); mnl_nlmsg_ok(m, len);
             m = mnl_nlmsg_next(m, &len)) {
          if (m->nlmsg_type == RTM_NEWLINK) heard.fetch_add(1, std::memory_order_relaxed);
        }
      }
    }
  });

  std::atomic<uint64_t> sent{0};
  std::atomic<bool> stop_gen{false};
  int send_errors = 0;
  auto cpu_pids = Pids(args);
  std::vector<double> cpu_before;
  for (long pid : cpu_pids) cpu_before.push_back(CpuSeconds(pid));

  const int64_t start = NowNs();
  std::thread generator([&] {
    for (int p = 0; !stop_gen.load(std::memory_order_relaxed); p = (p + 1) % ports) {
      if (kBase + sent_gen[p] + 1 > kMaxMtu) break;
      SetLink(gen_nl, port_idx[p], 0, 0, kBase + ++sent_gen[p], false);
      const uint64_t n = sent.fetch_add(1, std::memory_order_relaxed) + 1;
      if ((n & 4095) == 0) send_errors += DrainErrors(gen_nl);
      if (rate > 0 && (n & 63) == 0) {
        const int64_t due = start + static_cast<int64_t>(n * 1e9 / rate);
        const int64_t now = NowNs();
        if (due > now) usleep(static_cast<useconds_t>((due - now) / 1000));
      }
    }
  });
  json timeline = json::array();
  const int64_t end_at = start + static_cast<int64_t>(duration_s * 1e9);
  while (NowNs() < end_at) {
    usleep(sample_ms * 1000);
    const uint64_t kernel = sent.load(std::memory_order_relaxed);
    const int64_t t = NowNs();
    uint64_t applied = 0;
    for (uint32_t g : read_generations(every)) applied += g;
    applied -= base;
    timeline.push_back({{"t_ms", (t - start) / 1e6}, {"kernel", kernel}, {"state_db", applied}});
  }
  stop_gen = true;
  generator.join();
  const int64_t storm_end = NowNs();
  send_errors += DrainErrors(gen_nl);
  const uint64_t kernel_events = sent.load();
  uint64_t applied_at_end = 0;
  for (uint32_t g : read_generations(every)) applied_at_end += g;
  applied_at_end -= base;
  const int64_t first_read = NowNs();

  // After the storm: poll only the ports not yet at their final MTU.
  std::vector<int> behind = every;
  int64_t converged = -1;
  while (NowNs() - storm_end < 30'000'000'000) {
    auto gens = read_generations(behind);
    std::vector<int> still;
    for (size_t i = 0; i < behind.size(); ++i) {
      if (gens[i] != sent_gen[behind[i]]) still.push_back(behind[i]);
    }
    behind.swap(still);
    if (behind.empty()) {
      converged = NowNs();
      break;
    }
    usleep(500);
  }
  std::vector<double> cpu;
  for (size_t i = 0; i < cpu_pids.size(); ++i) cpu.push_back(CpuSeconds(cpu_pids[i]) - cpu_before[i]);
  usleep(200000);  // let the listener drain
  stop_listen = true;
  listener.join();

  const double secs = (storm_end - start) / 1e9;
  json out = {
      {"scenario", "storm"},
      {"ports", ports},
      {"duration_s", secs},
      {"kernel_events", kernel_events},
      {"kernel_events_heard", heard.load()},
      {"listener_overruns", listen_overruns.load()},
      {"send_errors", send_errors},
      {"kernel_rate", kernel_events / secs},
      {"state_db_applied_at_end", applied_at_end},
      {"end_read_ms", (first_read - storm_end) / 1e6},
      {"applied_rate", applied_at_end / secs},
      {"keep_up", kernel_events ? double(applied_at_end) / kernel_events : 0.0},
      {"converged", converged >= 0},
      {"converge_ms", converged >= 0 ? (converged - storm_end) / 1e6 : -1.0},
      {"ports_behind", behind.size()},
      {"cpu_seconds", cpu},
      {"timeline", timeline},
  };
  if (pool) out["stream"] = SubscriberStats(*pool);
  std::printf("%s\n", out.dump().c_str());
  redisFree(rc);
  mnl_socket_close(gen_nl);
  mnl_socket_close(listen_nl);
  return converged >= 0 ? 0 : 3;
}

// ---------------------------------------------------------------------------------------------
// Whether `rc`'s server publishes keyevent notifications of hash writes (SONiC's database runs
// with AKE; the harness's Redis too, unless --keyspace-events says otherwise).
bool HsetEventsOn(redisContext* rc) {
  auto* r = static_cast<redisReply*>(redisCommand(rc, "CONFIG GET notify-keyspace-events"));
  if (r == nullptr) Die(std::string("redis: ") + rc->errstr);
  // Refused (CONFIG renamed or not allowed): taken for no notifications.
  std::string flags = r->type == REDIS_REPLY_ARRAY && r->elements == 2 ? r->element[1]->str : "";
  freeReplyObject(r);
  return flags.find('E') != std::string::npos &&
         (flags.find('h') != std::string::npos || flags.find('A') != std::string::npos);
}

// Which ports are written, as cheaply as can be seen: the harness's own CPU competes with what
// it times (at 100,000 ports, checking every missing port each millisecond took most of a CPU,
// Redis's share included, and slowed a restart of the daemon by a quarter; docs/PERFORMANCE.md).
// A port counts once its key has `state` (and, with --want-oper, that oper status); a port that
// counted is not checked again (what is timed writes ports, never deletes them).
//  - With keyevent notifications on (SONiC runs AKE; so does the harness's Redis unless
//    --keyspace-events says otherwise), every hash write is announced. Without --want-oper, a
//    port counts from the announcement of its first write, and once every port has one the ports
//    are read back once: the time is the last announcement's, and a port whose key lacks `state`
//    is waited for again. With --want-oper a port is read when a write to it is announced. The
//    read-back that counts the last ports is fenced (Fenced): the time is never earlier than
//    the write the reads saw.
//  - Else (or --observe polls) every missing port is read every millisecond.
// Either way every port is read once before the command starts: what is already there counts.
class PortWatch {
 public:
  PortWatch(const Args& args, int ports)
      : table_("PORT_TABLE" + args.Get("sep", "|")),
        want_oper_(args.Get("want-oper")),
        names_(PortNames(ports, "Ethernet")),
        ok_(ports, false),
        left_(ports),
        written_(ports, false),
        unwritten_(ports) {
    const int db = args.GetInt("db", 6);
    state_ = ConnectRedis(args.Need("redis"), db);
    if (args.Get("observe", "events") == "events" && HsetEventsOn(state_)) {
      events_ = ConnectRedis(args.Need("redis"), db);
      auto* r =
          static_cast<redisReply*>(redisCommand(events_, "SUBSCRIBE __keyevent@%d__:hset", db));
      CheckReply(r, events_, "SUBSCRIBE");
      freeReplyObject(r);
    }
    Check(Uncounted());  // before the command (every port): ports already there count at once
    for (int p = 0; p < ports; ++p) {
      if (ok_[p]) {
        written_[p] = true;
        --unwritten_;
      }
    }
  }
  ~PortWatch() {
    redisFree(state_);
    if (events_ != nullptr) redisFree(events_);
  }
  const char* method() const { return events_ != nullptr ? "hset events" : "polls"; }
  int left() const { return left_; }
  // When the last port counted (NowNs()), or -1.
  int64_t all_at() const { return all_at_; }

  // Waits up to 1 ms for news and checks what it names (or, polling, every missing port).
  void Step() {
    if (events_ == nullptr) {
      usleep(1000);
      Check(Uncounted());
      if (left_ == 0) all_at_ = NowNs();
      return;
    }
    // What the reader already holds first (SUBSCRIBE's reply may have brought some along),
    // then what the socket brings within 1 ms.
    std::vector<int> touched;
    int64_t last = -1;
    auto take = [&](const redisReply* r) {
      const int p = PortOf(r);
      if (p >= 0 && !ok_[p]) {
        touched.push_back(p);
        last = NowNs();
      }
    };
    ForEachBuffered(take);
    if (touched.empty()) {
      pollfd pfd{events_->fd, POLLIN, 0};
      if (poll(&pfd, 1, 1) <= 0) return;
      if (redisBufferRead(events_) != REDIS_OK) {
        Die(std::string("redis events: ") + events_->errstr);
      }
      ForEachBuffered(take);
      if (touched.empty()) return;
    }
    if (!want_oper_.empty()) {  // read what was written now: the oper status may not be it yet
      std::sort(touched.begin(), touched.end());
      touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
      Check(touched);
      if (left_ == 0) all_at_ = Fenced(touched, last);
      return;
    }
    for (int p : touched) {
      if (!written_[p]) {
        written_[p] = true;
        --unwritten_;
      }
    }
    if (unwritten_ > 0) return;
    const std::vector<int> missing = Uncounted();  // every port was written: read those back
    Check(missing);
    if (left_ == 0) {
      all_at_ = Fenced(missing, last);
      return;
    }
    for (int p : Uncounted()) {  // wait for their next writes
      written_[p] = false;
      ++unwritten_;
    }
  }

 private:
  // The ports not counted yet, in order.
  std::vector<int> Uncounted() const {
    std::vector<int> out;
    for (int p = 0; p < static_cast<int>(ok_.size()); ++p) {
      if (!ok_[p]) out.push_back(p);
    }
    return out;
  }

  void Check(const std::vector<int>& ports) {
    for (int p : ports) {
      redisAppendCommand(state_, "HMGET %s%s state netdev_oper_status", table_.c_str(),
                         names_[p].c_str());
    }
    for (int p : ports) {
      void* reply = nullptr;
      if (redisGetReply(state_, &reply) != REDIS_OK) Die("redis read failed");
      auto* r = static_cast<redisReply*>(reply);
      bool ok = r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
                r->element[0]->type == REDIS_REPLY_STRING &&
                (want_oper_.empty() ||
                 (r->element[1]->type == REDIS_REPLY_STRING && want_oper_ == r->element[1]->str));
      if (ok && !ok_[p]) {
        ok_[p] = true;
        --left_;
      }
      freeReplyObject(reply);
    }
  }

  // Calls `f` with each notification the events connection's reader holds.
  template <typename F>
  void ForEachBuffered(F&& f) {
    void* reply = nullptr;
    while (redisGetReplyFromReader(events_, &reply) == REDIS_OK && reply != nullptr) {
      f(static_cast<const redisReply*>(reply));
      freeReplyObject(reply);
      reply = nullptr;
    }
    if (events_->err) Die(std::string("redis events: ") + events_->errstr);
  }

  // The time every port counted, given that `checked` were read back (and counted) after the
  // announcement processed at `last`: a port may have been written again between `last` and
  // its read, and what the read saw may be that later write. A PING on the events connection,
  // answered after every notification of a write Redis served before our reads, tells: any
  // notification for a checked port before the PONG moves the time to when it was seen (an
  // upper bound). None: what the reads saw was announced by `last`.
  int64_t Fenced(const std::vector<int>& checked, int64_t last) {
    std::vector<bool> was_checked(ok_.size(), false);
    for (int p : checked) was_checked[p] = true;
    redisAppendCommand(events_, "PING");
    int64_t at = last;
    while (true) {
      void* reply = nullptr;
      if (redisGetReply(events_, &reply) != REDIS_OK) {
        Die(std::string("redis events: ") + events_->errstr);
      }
      auto* r = static_cast<redisReply*>(reply);
      const bool pong = r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
                        r->element[0]->type == REDIS_REPLY_STRING &&
                        std::strcmp(r->element[0]->str, "pong") == 0;
      if (!pong) {
        const int p = PortOf(r);
        if (p >= 0 && was_checked[p]) at = NowNs();
      }
      freeReplyObject(reply);
      if (pong) return at;
    }
  }

  // The port a keyevent notification names, or -1.
  int PortOf(const redisReply* r) const {
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[2]->type != REDIS_REPLY_STRING) {
      return -1;
    }
    return PortOf(absl::string_view(r->element[2]->str, r->element[2]->len));
  }

  // The port a key names, or -1.
  int PortOf(absl::string_view key) const {
    if (!absl::ConsumePrefix(&key, table_) || !absl::StartsWith(key, "Ethernet")) return -1;
    int p;
    if (!absl::SimpleAtoi(key.substr(8), &p) || p < 0 || p >= static_cast<int>(names_.size()) ||
        names_[p] != key) {
      return -1;
    }
    return p;
  }

  const std::string table_;
  const std::string want_oper_;
  const std::vector<std::string> names_;
  std::vector<bool> ok_;
  int left_;
  redisContext* state_ = nullptr;
  redisContext* events_ = nullptr;  // subscribed to hset keyevents; null when polling
  std::vector<bool> written_;       // events without --want-oper: a write was announced
  int unwritten_;
  int64_t all_at_ = -1;
};

int RunStartup(const Args& args) {
  const int ports = args.GetInt("ports", 64);
  const int timeout_s = args.GetInt("timeout-s", 60);
  redisContext* appl = ConnectRedis(args.Need("redis"), args.GetInt("appl-db", 0));
  if (args.command.empty()) Die("startup: the command to time goes after --");
  PortWatch watch(args, ports);

  // Optional: a command that creates the ports (cold start), run once the daemon is started.
  const int64_t start = NowNs();
  pid_t child = fork();
  if (child == 0) {
    int fd = open(args.Get("log", "/dev/null").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    // Not the probe's Redis connections (hiredis does not mark them close-on-exec): a
    // subscription the timed process held open would have Redis queue every notification
    // for a reader that never reads.
    closefrom(3);
    std::vector<char*> argv;
    for (const auto& a : args.command) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  int64_t all_ports = watch.left() == 0 ? start : -1, init_done = -1;
  const bool need_init = args.Get("init-done") == "1";
  const bool allow_exit = args.Get("allow-exit") == "1";
  bool exited = false;
  int64_t command_done = -1;
  while (NowNs() - start < int64_t{timeout_s} * 1000000000) {
    int status;
    if (!exited && waitpid(child, &status, WNOHANG) == child) {
      exited = true;
      command_done = NowNs();
      if (!allow_exit || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        Die("the command under test exited early (see its log)");
      }
    }
    if (all_ports < 0) {
      watch.Step();
      if (watch.left() == 0) all_ports = watch.all_at();
    }
    if (need_init && init_done < 0) {
      auto* r = static_cast<redisReply*>(redisCommand(appl, "EXISTS _PORT_TABLE:PortInitDone"));
      CheckReply(r, appl, "EXISTS");
      if (r->integer == 1) init_done = NowNs();
      freeReplyObject(r);
    }
    // --wait-exit 1: also until the command ends (it creates the ports: its end is timed).
    if (all_ports >= 0 && (!need_init || init_done >= 0) &&
        (exited || args.Get("wait-exit") != "1")) {
      break;
    }
    if (all_ports >= 0) usleep(1000);
  }
  json out = {{"scenario", "startup"},
              {"ports", ports},
              {"pid", child},
              {"observed_by", watch.method()},
              {"all_ports_ms", all_ports >= 0 ? (all_ports - start) / 1e6 : -1.0},
              {"ports_missing", watch.left()}};
  if (need_init) out["init_done_ms"] = init_done >= 0 ? (init_done - start) / 1e6 : -1.0;
  // When the command ended (one that creates the ports): what follows is the daemon's own time.
  if (command_done >= 0) out["command_done_ms"] = (command_done - start) / 1e6;
  std::printf("%s\n", out.dump().c_str());
  redisFree(appl);
  return all_ports >= 0 ? 0 : 3;
}

// ---------------------------------------------------------------------------------------------
namespace {
std::atomic<bool> g_sub_stop{false};
}

// GetPortState of every port, page after page, as a client on the same machine would; prints
// the time to the last page and the ports read.
int RunGetPorts(const Args& args) {
  auto channel = grpc::CreateChannel("unix:" + args.Need("grpc"), grpc::InsecureChannelCredentials());
  auto stub = portsyncd::v1::PortSync::NewStub(channel);
  portsyncd::v1::GetPortStateRequest request;
  request.set_page_size(static_cast<int32_t>(args.GetInt("page-size", 0)));
  const int64_t start = NowNs();
  int64_t ports = 0, pages = 0, bytes = 0;
  for (;;) {
    grpc::ClientContext context;
    portsyncd::v1::GetPortStateResponse page;
    grpc::Status status = stub->GetPortState(&context, request, &page);
    if (!status.ok()) Die("GetPortState: " + status.error_message());
    ports += page.ports_size();
    bytes += static_cast<int64_t>(page.ByteSizeLong());
    ++pages;
    if (page.next_page_token().empty()) break;
    request.set_page_token(page.next_page_token());
  }
  json out = {{"scenario", "getports"}, {"ports", ports}, {"pages", pages}, {"bytes", bytes},
              {"ms", (NowNs() - start) / 1e6}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

// The idle floor of gRPC 1.51's callback API: a server with nothing but a callback service and
// gRPC's default health service, on a unix socket, until SIGTERM. The footprint scenario
// measures its threads, idle CPU and wake-ups beside the daemon's: what any daemon serving the
// callback API pays before doing anything of its own.
int RunGrpcIdle(const Args& args) {
  // Blocked before gRPC starts its threads, then waited for: no wake-up of our own.
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &term, nullptr);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::CallbackGenericService generic;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + args.Need("socket"), grpc::InsecureServerCredentials());
  builder.RegisterCallbackGenericService(&generic);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr) Die("grpc-idle: cannot listen on " + args.Need("socket"));
  std::printf("{\"ready\": true, \"pid\": %d}\n", getpid());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&term, &sig);
  server->Shutdown();
  return 0;
}

int RunSubscribe(const Args& args) {
  signal(SIGTERM, [](int) { g_sub_stop = true; });
  signal(SIGINT, [](int) { g_sub_stop = true; });
  const int count = args.GetInt("count", 100);
  const int gnmi = args.GetInt("gnmi", 0);
  SubscriberPool pool(args.Need("grpc"), count, nullptr, gnmi, args.GetInt("batched", 0) != 0);
  bool synced = pool.WaitSynced(60000);
  // The CPU this client spent until then (from its start: connecting, then receiving and
  // decoding the snapshots): it shares the machine with the daemon it times.
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const double cpu_ms = (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1e3 +
                        (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e3;
  std::printf("{\"ready\": %s, \"cpu_ms\": %.1f}\n", synced ? "true" : "false", cpu_ms);
  std::fflush(stdout);
  while (!g_sub_stop) usleep(50000);
  json out = SubscriberStats(pool);
  out.erase("latency_sample_us");
  out["scenario"] = "subscribe";
  out["count"] = count;
  std::printf("%s\n", out.dump().c_str());
  return synced ? 0 : 3;
}

}  // namespace psbench

int main(int argc, char** argv) {
  using psbench::Args;
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    std::printf(
        "Usage: psbench floor|latency|storm|startup|subscribe|grpc-idle|getports [--key value ...] "
        "[-- CMD...]\n"
        "The native half of bench/run.py (see docs/PERFORMANCE.md); run that instead.\n");
    return argc < 2 ? 2 : 0;
  }
  Args args;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--") {
      args.command.assign(argv + i + 1, argv + argc);
      break;
    }
    if (a.rfind("--", 0) != 0 || i + 1 >= argc) psbench::Die("bad argument " + a);
    args.values[a.substr(2)] = argv[++i];
  }
  std::string cmd = argv[1];
  if (cmd == "floor") return psbench::RunFloor(args);
  if (cmd == "latency") return psbench::RunLatency(args);
  if (cmd == "storm") return psbench::RunStorm(args);
  if (cmd == "startup") return psbench::RunStartup(args);
  if (cmd == "subscribe") return psbench::RunSubscribe(args);
  if (cmd == "grpc-idle") return psbench::RunGrpcIdle(args);
  if (cmd == "getports") return psbench::RunGetPorts(args);
  psbench::Die("unknown subcommand " + cmd);
}
