"""Which interfaces the daemon follows ([ports] include/exclude) on the real kernel, with a real
redis-server; and host mode (redis.enabled = false) on a host with no SONiC database at all: no
redis-server and no database_config.json anywhere in the test. The SONiC default is what every
other suite runs (untouched)."""

import os
import signal
import subprocess
import time
import unittest

import api
import gnmi_client as gc
from api import EV, pb
from gnmi_client import g
from harness import IntegrationTest, running, wait_until

PORTSYNCCTL = os.environ.get("PORTSYNCCTL", "portsyncctl")
SCRAPE = ("import sys, urllib.request; "
          "sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())")
STATE = "/interfaces/interface[name={}]/state"


def expected_for(h, names):
    """{name: our four fields} STATE_DB must hold for these netdevs (all in APPL_DB)."""
    links = h.ns.links()
    return {n: {"state": "ok",
                "admin_status": "up" if "UP" in links[n].get("flags", []) else "down",
                "netdev_oper_status": "up" if running(links[n]) else "down",
                "mtu": str(links[n]["mtu"])}
            for n in names if n in links}


class Events:
    """StreamLinkEvents read on a thread: the events after its snapshot, by (type, port)."""

    def __init__(self, stub):
        import queue
        import threading
        self.call = stub.StreamLinkEvents(pb.StreamLinkEventsRequest())
        self.q = queue.Queue()
        self.snapshot = api.read_until_synced(self.call)

        def run():
            try:
                for event in self.call:
                    self.q.put(event)
            except Exception:  # cancelled at the end
                pass
        threading.Thread(target=run, daemon=True).start()

    def wait_for(self, kind, name, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                event = self.q.get(timeout=0.1)
            except Exception:
                continue
            if event.type == kind and event.port.name == name:
                return event
        raise AssertionError(f"no {EV.Type.Name(kind)} of {name} within {timeout}s")

    def cancel(self):
        self.call.cancel()


class SelectionTest(IntegrationTest):
    def test_include_and_exclude_follow_what_they_name(self):
        h = self.h
        # A multi-ASIC backplane port, excluded; a host-style name, included; a bridge, not.
        names = ["Ethernet0", "Ethernet-BP0", "eth1"]
        h.configure_ports(names)
        conf = h.write_config('[ports]\ninclude = ["Ethernet*", "eth*"]\n'
                              'exclude = ["Ethernet-BP*"]\n')
        d = h.daemon(config=conf)
        d.wait_log("startup: cold start")
        self.assertIn("following include Ethernet* eth* exclude Ethernet-BP*", d.output())
        for name in names:
            h.ns.add_port(name)
        h.ns.ip("link", "add", "br0", "type", "bridge")
        h.appl.hset("PORT_TABLE:br0", "lanes", "0")
        wait_until(lambda: h.actual_state() == expected_for(h, ["Ethernet0", "eth1"]),
                   what="STATE_DB to hold Ethernet0 and eth1 only")
        # An excluded port holds nothing back: PortInitDone is out though Ethernet-BP0 is
        # configured.
        wait_until(lambda: h.appl.exists("_PORT_TABLE:PortInitDone"), what="PortInitDone")
        h.ns.ip("link", "set", "eth1", "mtu", "1400")
        wait_until(lambda: h.actual_state() == expected_for(h, ["Ethernet0", "eth1"]),
                   what="eth1's MTU in STATE_DB")
        self.assertEqual(h.state.hget("PORT_TABLE|eth1", "mtu"), "1400")
        channel, stub = api.connect(d.socket)
        self.addCleanup(channel.close)
        ports = stub.GetPortState(pb.GetPortStateRequest(), timeout=5)
        self.assertEqual([p.name for p in ports.ports], ["Ethernet0", "eth1"])
        self.assertEqual(ports.mode, "sonic")
        self.assertEqual(d.stop(), 0)

    def test_a_reload_changes_the_set(self):
        h = self.h
        h.configure_ports(["Ethernet0", "Ethernet4", "eth1"])
        conf = h.write_config("")
        d = h.daemon(config=conf)
        d.wait_log("startup: cold start")
        h.ns.add_ports(["Ethernet0", "Ethernet4"])
        h.ns.add_port("eth1")  # its peer: weth1
        wait_until(lambda: h.actual_state() == expected_for(h, ["Ethernet0", "Ethernet4"]),
                   what="the default set in STATE_DB")
        # orchagent's field in Ethernet4's hash: the whole key goes with the port, as with a
        # DELLINK.
        h.state.hset("PORT_TABLE|Ethernet4", "host_tx_ready", "true")
        channel, stub = api.connect(d.socket)
        self.addCleanup(channel.close)
        events = Events(stub)
        self.addCleanup(events.cancel)
        self.assertEqual({e.port.name for e in events.snapshot if e.type == EV.TYPE_SNAPSHOT},
                         {"Ethernet0", "Ethernet4"})

        with open(conf, "w") as f:
            f.write('[ports]\ninclude = ["Ethernet*", "eth*"]\nexclude = ["Ethernet4"]\n')
        os.kill(d.proc.pid, signal.SIGHUP)
        d.wait_log("ports: now following include Ethernet* eth* exclude Ethernet4")
        wait_until(lambda: h.actual_state() == expected_for(h, ["Ethernet0", "eth1"]),
                   what="STATE_DB to follow the new set")
        self.assertFalse(h.state.exists("PORT_TABLE|Ethernet4"))
        events.wait_for(EV.TYPE_REMOVED, "Ethernet4")
        added = events.wait_for(EV.TYPE_ADDED, "eth1")
        self.assertTrue(added.port.in_kernel)
        names = [p.name for p in stub.GetPortState(pb.GetPortStateRequest(), timeout=5).ports]
        self.assertEqual(names, ["Ethernet0", "eth1"])
        # Ethernet4 is still in the kernel: changes to it go unseen now.
        h.ns.ip("link", "set", "Ethernet4", "mtu", "1300")
        h.ns.ip("link", "set", "eth1", "mtu", "1301")  # a marker after it
        wait_until(lambda: h.state.hget("PORT_TABLE|eth1", "mtu") == "1301", what="eth1 mtu")
        self.assertFalse(h.state.exists("PORT_TABLE|Ethernet4"))

        # A bad pattern: refused in one line, the running set kept.
        with open(conf, "w") as f:
            f.write('[ports]\ninclude = ["eth[0-"]\n')
        os.kill(d.proc.pid, signal.SIGHUP)
        d.wait_log("SIGHUP reload refused")
        self.assertIn(f"{conf}:2: ports.include: pattern 'eth[0-' has a '[' without its "
                      "closing ']'; the running configuration is unchanged", d.output())
        h.ns.ip("link", "set", "eth1", "mtu", "1302")
        wait_until(lambda: h.state.hget("PORT_TABLE|eth1", "mtu") == "1302", what="eth1 mtu")
        self.assertEqual(h.actual_state(), expected_for(h, ["Ethernet0", "eth1"]))
        self.assertEqual(d.stop(), 0)
        self.assertEqual(d.counters()["drift_repairs"], 0)


class HostModeTest(IntegrationTest):
    REDIS = False

    def scrape(self):
        out = subprocess.run(["ip", "netns", "exec", self.h.ns.sw, "/usr/bin/python3", "-c",
                              SCRAPE, "http://127.0.0.1:9108/metrics"],
                             capture_output=True, text=True, check=True, timeout=20).stdout
        values = {}
        for line in out.splitlines():
            if line and not line.startswith("#"):
                series, value = line.rsplit(" ", 1)
                values[series] = float(value)
        return values

    def ctl(self, *args):
        return subprocess.run(["ip", "netns", "exec", self.h.ns.sw, PORTSYNCCTL, "--target",
                               self.d.socket, *args],
                              capture_output=True, text=True, timeout=20)

    def test_api_gnmi_metrics_and_health_without_a_database(self):
        h = self.h
        self.assertIsNone(h.redis)
        self.assertIsNone(h.db_config)
        # A host's links: a veth pair's end, a bridge with it enslaved, the loopback.
        h.ns.add_port("eth1")  # its peer: weth1
        h.ns.ip("link", "add", "br0", "type", "bridge")
        h.ns.ip("link", "set", "eth1", "master", "br0")
        h.ns.ip("link", "set", "br0", "up")
        conf = h.write_config('[redis]\nenabled = false\n[metrics]\nlisten = "127.0.0.1:9108"\n')
        self.d = d = h.daemon(config=conf)
        d.wait_log("host mode: no SONiC database; following include * exclude lo")
        channel, stub = api.connect(d.socket)
        self.addCleanup(channel.close)
        wait_until(lambda: api.dump_applied(stub), what="the first link dump")

        health = api.health(stub)
        self.assertEqual((health.mode, health.start_mode), ("host", "host"))
        self.assertEqual(health.status, pb.SERVING_STATUS_SERVING)
        components = {c.name: c for c in health.components}
        self.assertNotIn("port_init_done", components)
        self.assertIn("disabled: host mode", components["redis"].message)
        self.assertIn("following include * exclude lo", components["netlink"].message)
        self.assertEqual(health.ports_tracked, 2)

        ports = stub.GetPortState(pb.GetPortStateRequest(), timeout=5)
        self.assertEqual(ports.mode, "host")
        self.assertEqual([p.name for p in ports.ports], ["br0", "eth1"])
        eth1 = ports.ports[1]
        self.assertEqual(eth1.oper_status, api.UP)
        self.assertEqual(eth1.master_ifindex, h.ns.links()["br0"]["ifindex"])

        events = Events(stub)
        self.addCleanup(events.cancel)
        gnmi_channel, gnmi = gc.connect(d.socket)
        self.addCleanup(gnmi_channel.close)
        sub = gc.Subscription(gnmi, gc.subscription_list([STATE.format("eth1") + "/oper-status"]))
        self.addCleanup(sub.close)
        self.assertEqual(gc.leaves(next(r for r in sub.until_sync() if r.HasField("update"))
                                   .update), {STATE.format("eth1") + "/oper-status": ("UP", 0)})

        # A flap: the peer's cable pulled, then back.
        h.ns.wire_ip("link", "set", "weth1", "down")
        down = events.wait_for(EV.TYPE_CHANGED, "eth1")
        while down.port.oper_status != api.DOWN:
            down = events.wait_for(EV.TYPE_CHANGED, "eth1")
        r = sub.next()
        self.assertEqual(gc.leaves(r.update), {STATE.format("eth1") + "/oper-status": ("DOWN", 0)})
        self.assertEqual(r.update.timestamp, down.time.seconds * 10**9 + down.time.nanos,
                         "gNMI and the API carry the kernel message's time")
        metrics = self.scrape()
        self.assertEqual(metrics['portsyncd_mode{mode="host"}'], 1)
        self.assertEqual(metrics['portsyncd_port_oper_up{port="eth1"}'], 0)
        self.assertAlmostEqual(
            metrics['portsyncd_port_oper_last_change_timestamp_seconds{port="eth1"}'],
            down.time.seconds + down.time.nanos / 1e9, places=5)
        self.assertNotIn("portsyncd_redis_connected", metrics)
        self.assertFalse(any(k.startswith("portsyncd_state_db") for k in metrics))
        self.assertEqual(metrics['portsyncd_port_carrier_transitions_total{port="eth1",'
                                 'direction="down"}'], int(h.ns.sysfs_net("eth1", "carrier_down_count")))
        h.ns.wire_ip("link", "set", "weth1", "up")
        r = sub.next()
        self.assertEqual(gc.leaves(r.update), {STATE.format("eth1") + "/oper-status": ("UP", 0)})

        # portsyncctl says which mode, and shows no STATE_DB column values.
        out = self.ctl("health")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("(host mode, up", out.stdout)
        self.assertIn("tracked (host mode: no SONiC database, nothing written)", out.stdout)
        out = self.ctl("ports")
        self.assertEqual(out.returncode, 0, out.stderr)
        rows = {line.split()[0]: line.split() for line in out.stdout.splitlines()[1:]}
        self.assertEqual(set(rows), {"br0", "eth1"})
        self.assertEqual(rows["eth1"][5], "-")

        # A reload narrows the set: br0 ends as a delete on both APIs' streams.
        with open(conf, "w") as f:
            f.write('[redis]\nenabled = false\n[metrics]\nlisten = "127.0.0.1:9108"\n'
                    '[ports]\nexclude = ["lo", "br*"]\n')
        os.kill(d.proc.pid, signal.SIGHUP)
        events.wait_for(EV.TYPE_REMOVED, "br0")
        self.assertEqual([p.name for p in stub.GetPortState(pb.GetPortStateRequest(),
                                                            timeout=5).ports], ["eth1"])
        self.assertEqual(d.stop(), 0)
        counters = d.counters()
        self.assertEqual((counters["redis_connects"], counters["state_db_writes"]), (0, 0))

    def test_no_redis_on_the_command_line_and_the_systemd_status(self):
        h = self.h
        h.ns.add_port("eth1")  # its peer: weth1
        path = os.path.join(h.dir, "notify.sock")
        import socket
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        sock.settimeout(10)
        self.addCleanup(sock.close)
        self.d = d = h.daemon("--no-redis", env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000000"})
        messages = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any("READY=1" in m for m in messages):
            messages.append(sock.recv(4096).decode())
        ready = next(m for m in messages if "READY=1" in m)
        self.assertRegex(ready, r"STATUS=host mode \(no SONiC database\): following 1 interface; "
                                r"0 netlink resyncs")
        # The watchdog follows the netlink loop alone: fed with no Redis anywhere.
        while not any("WATCHDOG=1" in m for m in messages):
            messages.append(sock.recv(4096).decode())
        self.assertIn("starting: host mode (no SONiC database)", d.output())
        self.assertNotIn("database_config", d.output())
        self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    unittest.main()
