"""The Prometheus endpoint: scraped from inside the daemon's namespace; values move."""

import os
import re
import signal
import subprocess
import time
import unittest

import api
from harness import IntegrationTest, wait_until

SCRAPE = ("import sys, urllib.request; "
          "sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())")


def parse(text):
    """{series (name plus labels): value}, and checks every series has HELP and TYPE."""
    values, typed = {}, set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            typed.add(line.split()[2])
        elif line and not line.startswith("#"):
            series, value = line.rsplit(" ", 1)
            name = re.sub(r"(_bucket|_sum|_count)$", "", series.split("{")[0])
            assert name in typed, f"{series} has no # TYPE"
            values[series] = float(value)
    return values


class MetricsTest(IntegrationTest):
    def scrape(self):
        out = subprocess.run(["ip", "netns", "exec", self.h.ns.sw, "/usr/bin/python3", "-c",
                              SCRAPE, "http://127.0.0.1:9108/metrics"],
                             capture_output=True, text=True, check=True, timeout=20).stdout
        return parse(out)

    def test_every_series_moves(self):
        h = self.h
        ports = ["Ethernet0", "Ethernet4"]
        h.configure_ports(ports + ["Ethernet8"])
        # Notifications on until the Redis restart below (which comes back without them).
        h.state.config_set("notify-keyspace-events", "AKE")
        conf = h.write_config('[metrics]\nlisten = "127.0.0.1:9108"\n'
                              '[redis]\naudit_interval_ms = 300\n')
        d = h.daemon(config=conf)
        d.wait_log("metrics: http://127.0.0.1:9108/metrics")
        d.wait_log("startup: cold start")
        d.wait_log("keyspace notifications: subscribed")
        before = self.scrape()
        cable_pulled_after = time.time()
        h.ns.add_ports(ports)
        h.ns.ip("link", "set", "Ethernet0", "mtu", "2000")
        h.ns.wire_ip("link", "set", "w4", "down")
        h.wait_converged()
        # A change that leaves our four fields as they are: its write is skipped (merged).
        h.ns.ip("link", "set", "Ethernet4", "txqueuelen", "500")
        h.ns.ip("link", "set", "Ethernet4", "alias", "uplink")
        h.ns.ip("link", "del", "Ethernet0")
        h.ns.add_port("Ethernet12", up=False)  # not configured: only its rename counts
        h.ns.ip("link", "set", "Ethernet12", "name", "spare12")
        h.wait_converged()
        h.state.hset("PORT_TABLE|Ethernet4", "mtu", "1")  # drift
        h.wait_converged(timeout=3)
        h.redis.kill()
        h.redis.start()
        h.configure_ports(ports + ["Ethernet8"])
        h.wait_converged(timeout=5)
        # A refused reload (a bad file), then a good one.
        with open(conf) as f:
            good = f.read()
        with open(conf, "w") as f:
            f.write("[metrics]\nlisten = 5\n")
        os.kill(d.proc.pid, signal.SIGHUP)
        d.wait_log("SIGHUP reload refused")
        with open(conf, "w") as f:
            f.write(good)
        os.kill(d.proc.pid, signal.SIGHUP)
        d.wait_log("reload: config")
        # One StreamLinkEvents subscriber while we scrape.
        channel, stub = api.connect(d.socket)
        self.addCleanup(channel.close)
        stream = stub.StreamLinkEvents(api.pb.StreamLinkEventsRequest())
        self.addCleanup(stream.cancel)
        next(stream)
        wait_until(lambda: api.subscribers(stub) == 1, what="the subscriber counted")
        # A port whose STATE_DB key Redis refuses to take (a string where a hash belongs): up
        # in the kernel, out of sync with STATE_DB.
        h.configure_ports(["Ethernet16"])
        h.state.set("PORT_TABLE|Ethernet16", "not a hash")
        h.ns.add_port("Ethernet16")
        d.wait_log("WRONGTYPE")
        wait_until(lambda: stub.GetPortState(api.pb.GetPortStateRequest(names=["Ethernet16"]),
                                             timeout=5).ports[0].oper_status == api.UP,
                   what="the engine to see Ethernet16 up")
        after = self.scrape()
        moved = {k for k in after if after[k] != before.get(k)}
        for series in [
                'portsyncd_netlink_messages_total{type="newlink"}',
                'portsyncd_netlink_messages_total{type="dellink"}',
                "portsyncd_state_db_writes_total", "portsyncd_state_db_deletes_total",
                "portsyncd_state_db_merged_writes_total", "portsyncd_state_db_batches_total",
                "portsyncd_event_to_state_db_seconds_count",
                "portsyncd_redis_round_trip_seconds_count", "portsyncd_redis_connects_total",
                "portsyncd_redis_errors_total", "portsyncd_reconciles_total",
                "portsyncd_drift_repairs_total", "portsyncd_netdev_renames_total",
                "portsyncd_keyspace_events_total", "portsyncd_keyspace_checks_total",
                "portsyncd_keyspace_notifications_active",
                'portsyncd_ports{oper="down"}',
                'portsyncd_ports{oper="absent"}', 'portsyncd_reloads_total{result="ok"}',
                'portsyncd_reloads_total{result="error"}', "portsyncd_stream_subscribers"]:
            self.assertIn(series, moved, series)
        # Every other series, by value: what this run makes them.
        self.assertEqual(after["portsyncd_netlink_parse_errors_total"], 0)
        self.assertEqual(after["portsyncd_netlink_overruns_total"], 0)
        self.assertEqual(after["portsyncd_netlink_resyncs_total"], 0)
        self.assertEqual(before['portsyncd_ports{oper="up"}'], 0)
        self.assertEqual(after['portsyncd_ports{oper="up"}'], 1)  # Ethernet16
        # Ethernet4 only: Ethernet16's write is refused, the others have no netdev.
        self.assertEqual(after["portsyncd_ports_in_sync"], 1)
        self.assertEqual(after["portsyncd_stream_subscribers"], 1)
        self.assertEqual(after["portsyncd_gnmi_subscribers"], 0)
        self.assertEqual(after['portsyncd_reloads_total{result="error"}'], 1)
        self.assertEqual(after['portsyncd_reloads_total{result="ok"}'], 1)
        # Every series the page has is read above (moved, or its value).
        read = {'portsyncd_netlink_messages_total', 'portsyncd_netlink_parse_errors_total',
                'portsyncd_netlink_overruns_total', 'portsyncd_netlink_resyncs_total',
                'portsyncd_state_db_writes_total', 'portsyncd_state_db_deletes_total',
                'portsyncd_state_db_merged_writes_total', 'portsyncd_netdev_renames_total',
                'portsyncd_state_db_batches_total', 'portsyncd_event_to_state_db_seconds',
                'portsyncd_redis_round_trip_seconds', 'portsyncd_redis_connects_total',
                'portsyncd_redis_errors_total', 'portsyncd_redis_connected',
                'portsyncd_keyspace_notifications_active', 'portsyncd_keyspace_events_total',
                'portsyncd_keyspace_checks_total', 'portsyncd_reconciles_total',
                'portsyncd_drift_repairs_total', 'portsyncd_ports', 'portsyncd_ports_in_sync',
                'portsyncd_stream_subscribers', 'portsyncd_gnmi_subscribers',
                'portsyncd_reloads_total',
                'portsyncd_initial_sync_done', 'portsyncd_port_carrier_transitions_total',
                'portsyncd_mode', 'portsyncd_port_oper_up',
                'portsyncd_port_oper_last_change_timestamp_seconds'}
        self.assertEqual({re.sub(r"_(bucket|sum|count)$", "", k.split("{")[0]) for k in after},
                         read)
        self.assertEqual(after['portsyncd_ports{oper="down"}'], 1)  # Ethernet4, cable pulled
        self.assertEqual(after['portsyncd_ports{oper="absent"}'], 2)  # Ethernet0 gone, Ethernet8
        self.assertEqual(after["portsyncd_redis_connected"], 1)
        self.assertEqual(after["portsyncd_initial_sync_done"], 1)
        self.assertEqual(after['portsyncd_mode{mode="sonic"}'], 1)
        # Per port, its oper state and when the kernel's message that last changed it came.
        self.assertEqual(after['portsyncd_port_oper_up{port="Ethernet4"}'], 0)
        self.assertEqual(after['portsyncd_port_oper_up{port="Ethernet16"}'], 1)
        self.assertTrue(
            cable_pulled_after <=
            after['portsyncd_port_oper_last_change_timestamp_seconds{port="Ethernet4"}'] <=
            time.time())
        # Per port, the kernel's carrier counters (Ethernet4's peer was set down once).
        for port in ("Ethernet4", "Ethernet16"):
            for direction, attribute in (("up", "carrier_up_count"),
                                         ("down", "carrier_down_count")):
                self.assertEqual(
                    after[f'portsyncd_port_carrier_transitions_total{{port="{port}",'
                          f'direction="{direction}"}}'],
                    int(h.ns.sysfs_net(port, attribute)), (port, direction))
        # Histogram buckets are cumulative and end at the count.
        count = after["portsyncd_event_to_state_db_seconds_count"]
        self.assertEqual(after['portsyncd_event_to_state_db_seconds_bucket{le="+Inf"}'], count)
        self.stop_clean(d)


if __name__ == "__main__":
    unittest.main()
