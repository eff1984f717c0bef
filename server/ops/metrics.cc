#include "server/ops/metrics.h"

#include <httplib.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "core/host_port.h"
#include "core/thread_name.h"

namespace portsyncd {
namespace {

void Header(std::string& out, absl::string_view name, absl::string_view type,
            absl::string_view help) {
  absl::StrAppend(&out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
}

void Counter(std::string& out, absl::string_view name, absl::string_view help, uint64_t value) {
  Header(out, name, "counter", help);
  absl::StrAppend(&out, name, " ", value, "\n");
}

void Gauge(std::string& out, absl::string_view name, absl::string_view help, double value) {
  Header(out, name, "gauge", help);
  absl::StrAppend(&out, name, " ", value, "\n");
}

void HistogramSeries(std::string& out, absl::string_view name, absl::string_view help,
                     const Histogram& h) {
  Header(out, name, "histogram", help);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < Histogram::kBounds.size(); ++i) {
    cumulative += h.bucket(i);
    absl::StrAppendFormat(&out, "%s_bucket{le=\"%g\"} %d\n", name, Histogram::kBounds[i],
                          cumulative);
  }
  cumulative += h.bucket(Histogram::kBounds.size());
  absl::StrAppendFormat(&out, "%s_bucket{le=\"+Inf\"} %d\n", name, cumulative);
  absl::StrAppendFormat(&out, "%s_sum %.9f\n%s_count %d\n", name, h.sum_seconds(), name, h.count());
}

// What only a daemon with a SONiC database has: STATE_DB writes, Redis, keyspace notifications.
void RenderDatabaseSeries(std::string& out, const EngineCounters& c, const EngineStatus& st) {
  Counter(out, "portsyncd_state_db_writes_total", "STATE_DB PORT_TABLE HSETs issued.",
          c.state_db_writes.load());
  Counter(out, "portsyncd_state_db_deletes_total", "STATE_DB PORT_TABLE DELs issued.",
          c.state_db_deletes.load());
  Counter(out, "portsyncd_state_db_merged_writes_total",
          "Kernel changes that needed no write of their own (merged or identical).",
          st.merged_writes);
  Counter(out, "portsyncd_state_db_batches_total", "Pipelined STATE_DB batches (round trips).",
          c.state_db_batches.load());
  HistogramSeries(out, "portsyncd_event_to_state_db_seconds",
                  "From a kernel link message to Redis acknowledging the STATE_DB write.",
                  c.event_to_state_db);
  HistogramSeries(out, "portsyncd_redis_round_trip_seconds",
                  "One pipelined STATE_DB batch, from sending to the last reply.",
                  c.redis_round_trip);
  Counter(out, "portsyncd_redis_connects_total", "Successful connections to Redis.",
          c.redis_connects.load());
  Counter(out, "portsyncd_redis_errors_total", "Redis failures (lost connections, refusals).",
          c.redis_errors.load());
  Gauge(out, "portsyncd_redis_connected", "1 while the Redis connections are up.",
        st.redis_connected ? 1 : 0);
  Gauge(out, "portsyncd_keyspace_notifications_active",
        "1 while Redis keyspace notifications are subscribed (else the engine polls).",
        st.keyspace_active ? 1 : 0);
  Counter(out, "portsyncd_keyspace_events_total",
          "Keyspace notifications received for our keys, APPL_DB PORT_TABLE and LOGGER.",
          c.keyspace_events.load());
  Counter(out, "portsyncd_keyspace_checks_total",
          "STATE_DB notifications not caused by our own writes, each checked.",
          c.keyspace_checks.load());
  Counter(out, "portsyncd_reconciles_total", "Full rewrites of our STATE_DB keys (reconnects).",
          c.reconciles.load());
  Counter(out, "portsyncd_drift_repairs_total",
          "STATE_DB keys or fields of ours found changed by someone else and repaired.",
          c.drift_repairs.load());
}

}  // namespace

std::string RenderMetrics(const EngineView& engine, const EventHub& hub,
                          const ServerCounters& server) {
  const EngineCounters& c = engine.counters();
  const EngineStatus st = engine.status();
  std::string out;
  Header(out, "portsyncd_netlink_messages_total", "counter",
         "Netlink link messages received, by type.");
  absl::StrAppend(
      &out, "portsyncd_netlink_messages_total{type=\"newlink\"} ", c.netlink_newlinks.load(), "\n",
      "portsyncd_netlink_messages_total{type=\"dellink\"} ", c.netlink_dellinks.load(), "\n");
  Counter(out, "portsyncd_netlink_parse_errors_total", "Malformed netlink messages skipped.",
          c.netlink_parse_errors.load());
  Counter(out, "portsyncd_netlink_overruns_total",
          "Netlink receive buffer overruns (ENOBUFS): events were lost and a re-dump followed.",
          c.netlink_overflows.load());
  const uint64_t dumps = c.netlink_dumps.load();
  Counter(out, "portsyncd_netlink_resyncs_total",
          "Link re-dumps after the initial one (overruns, interrupted dumps).",
          dumps > 0 ? dumps - 1 : 0);
  Header(out, "portsyncd_mode", "gauge",
         "1 for the mode the daemon runs in: \"sonic\" (STATE_DB kept) or \"host\" (no SONiC "
         "database; the series of STATE_DB and Redis are left out).");
  absl::StrAppend(&out, "portsyncd_mode{mode=\"", st.redis_enabled ? "sonic" : "host", "\"} 1\n");
  if (st.redis_enabled) RenderDatabaseSeries(out, c, st);
  Counter(out, "portsyncd_netdev_renames_total",
          "Netdevs renamed while in the kernel (with a database: the old name's STATE_DB key "
          "removed).",
          st.netdev_renames);
  uint64_t up = 0, down = 0, absent = 0, in_sync = 0;
  std::string carrier;               // per port: the kernel's counters, with the port as a label
  std::string oper_up, last_change;  // per port: oper state, and when it last changed
  engine.WithModel([&](const PortModel& model) {
    for (const auto& [name, port] : model.ports()) {
      if (!port.in_kernel) {
        if (port.in_config_db || port.in_appl_db) ++absent;
        continue;
      }
      (port.fields().oper_up ? up : down) += 1;
      in_sync += port.state_db_in_sync() ? 1 : 0;
      // A netdev name may hold '"' or '\\' (not '\n'): escaped as the text format wants.
      const std::string label = absl::StrReplaceAll(name, {{"\\", "\\\\"}, {"\"", "\\\""}});
      absl::StrAppend(&carrier, "portsyncd_port_carrier_transitions_total{port=\"", label,
                      "\",direction=\"up\"} ", port.carrier_up_count,
                      "\nportsyncd_port_carrier_transitions_total{port=\"", label,
                      "\",direction=\"down\"} ", port.carrier_down_count, "\n");
      absl::StrAppend(&oper_up, "portsyncd_port_oper_up{port=\"", label, "\"} ",
                      port.fields().oper_up ? 1 : 0, "\n");
      if (port.oper_last_change != absl::InfinitePast()) {
        absl::StrAppendFormat(&last_change,
                              "portsyncd_port_oper_last_change_timestamp_seconds{port=\"%s\"} "
                              "%.6f\n",
                              label,
                              absl::ToDoubleSeconds(port.oper_last_change - absl::UnixEpoch()));
      }
    }
  });
  Header(out, "portsyncd_port_carrier_transitions_total", "counter",
         "The kernel's carrier transitions of each port's netdev (IFLA_CARRIER_UP_COUNT and "
         "_DOWN_COUNT): survive daemon restarts, restart from 0 with a re-created netdev.");
  out += carrier;
  Header(out, "portsyncd_port_oper_up", "gauge",
         "1 while the port's netdev is oper up (IFF_RUNNING), as of the kernel's last message.");
  out += oper_up;
  Header(out, "portsyncd_port_oper_last_change_timestamp_seconds", "gauge",
         "When the kernel's message that last changed the port's oper state (or showed its netdev "
         "first) was received, in Unix seconds: the time of the last flap, not of a scrape.");
  out += last_change;
  Header(out, "portsyncd_ports", "gauge",
         "Ports by oper state; \"absent\": configured without a netdev.");
  absl::StrAppend(&out, "portsyncd_ports{oper=\"up\"} ", up, "\nportsyncd_ports{oper=\"down\"} ",
                  down, "\nportsyncd_ports{oper=\"absent\"} ", absent, "\n");
  if (st.redis_enabled) {
    Gauge(out, "portsyncd_ports_in_sync", "Ports whose STATE_DB entry holds exactly their state.",
          static_cast<double>(in_sync));
  }
  Gauge(out, "portsyncd_stream_subscribers", "Open StreamLinkEvents streams.",
        static_cast<double>(hub.subscribers(EventHub::Api::kPortSync)));
  Gauge(out, "portsyncd_gnmi_subscribers", "Open gNMI Subscribe streams.",
        static_cast<double>(hub.subscribers(EventHub::Api::kGnmi)));
  Header(out, "portsyncd_reloads_total", "counter", "Config reloads (RPC or SIGHUP), by result.");
  absl::StrAppend(&out, "portsyncd_reloads_total{result=\"ok\"} ", server.reloads_ok.load(),
                  "\nportsyncd_reloads_total{result=\"error\"} ", server.reloads_failed.load(),
                  "\n");
  Gauge(out, "portsyncd_initial_sync_done", "1 once the first link dump is applied.",
        st.initial_sync_done ? 1 : 0);
  return out;
}

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const std::string& listen, std::function<std::string()> render) {
  absl::StatusOr<HostPort> address = ParseHostPort(listen);
  if (!address.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics.listen '", listen, "' must be host:port"));
  }
  const std::string& host = address->host;
  const int port = address->port;
  auto server = std::unique_ptr<MetricsServer>(new MetricsServer());
  server->http_ = std::make_unique<httplib::Server>();
  // Two workers, not httplib's default of eight or more: a scraper asks every few seconds, and
  // every idle thread costs memory and a line in `top -H`.
  server->http_->new_task_queue = [] { return new httplib::ThreadPool(2); };
  server->http_->Get("/metrics", [render](const httplib::Request&, httplib::Response& response) {
    response.set_content(render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  if (!server->http_->bind_to_port(host.c_str(), port)) {
    return absl::UnavailableError(
        absl::StrCat("metrics: cannot listen on ", listen, " (address in use, or not local?)"));
  }
  httplib::Server* http = server->http_.get();
  server->thread_ = std::thread([http] {
    SetThreadName("ps-metrics");
    http->listen_after_bind();
  });
  return server;
}

MetricsServer::~MetricsServer() {
  if (http_) http_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace portsyncd
