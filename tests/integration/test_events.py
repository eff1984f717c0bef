"""Link events (docs/COMPATIBILITY.md 3 and 7.3, 7.5) on the real kernel, Redis and daemon."""

import os
import signal
import time
import unittest

import api
from harness import IntegrationTest, wait_until

FIELDS = ("state", "admin_status", "netdev_oper_status", "mtu")


class LinkEventTest(IntegrationTest):
    def setUp(self):
        super().setUp()
        self.h.configure_ports(["Ethernet0", "Ethernet4", "PortChannel7"])
        self.d = self.h.daemon()
        self.d.wait_log("startup: cold start")

    def fields(self, name):
        h = self.h.state.hgetall(f"PORT_TABLE|{name}")
        return tuple(h.get(f) for f in FIELDS)

    def expect(self, name, admin, oper, mtu):
        want = ("ok", admin, oper, str(mtu))
        wait_until(lambda: self.fields(name) == want, timeout=5,
                   what=f"STATE_DB {name} = {want}, have {self.fields(name)}")

    def test_four_fields_follow_admin_carrier_and_mtu(self):
        h = self.h
        h.ns.add_port("Ethernet0", up=False)
        self.expect("Ethernet0", "down", "down", 1500)
        h.ns.ip("link", "set", "Ethernet0", "up")
        self.expect("Ethernet0", "up", "up", 1500)
        h.ns.wire_ip("link", "set", "w0", "down")  # cable pull: admin up, oper down
        self.expect("Ethernet0", "up", "down", 1500)
        h.ns.wire_ip("link", "set", "w0", "up")
        self.expect("Ethernet0", "up", "up", 1500)
        h.ns.ip("link", "set", "Ethernet0", "mtu", "9100")
        self.expect("Ethernet0", "up", "up", 9100)
        h.ns.ip("link", "set", "Ethernet0", "down")
        self.expect("Ethernet0", "down", "down", 9100)
        # Dormant (takes effect at the next up): IFF_UP and IFF_LOWER_UP without IFF_RUNNING.
        h.ns.ip("link", "set", "Ethernet0", "mode", "dormant")
        h.ns.ip("link", "set", "Ethernet0", "up")
        self.expect("Ethernet0", "up", "down", 9100)
        h.wait_converged()
        self.stop_clean(self.d)

    def test_other_daemons_fields_survive_our_writes(self):
        h = self.h
        h.state.hset("PORT_TABLE|Ethernet0", "host_tx_ready", "true")  # orchagent, before netdev
        h.ns.add_port("Ethernet0")
        self.expect("Ethernet0", "up", "up", 1500)
        h.ns.ip("link", "set", "Ethernet0", "mtu", "3000")
        self.expect("Ethernet0", "up", "up", 3000)
        self.assertEqual(h.state.hget("PORT_TABLE|Ethernet0", "host_tx_ready"), "true")
        self.stop_clean(self.d)

    def test_only_ethernet_and_portchannel_names_are_written(self):
        h = self.h
        for name in ("ethernet9", "eth5", "Vlan10"):
            h.configure_ports([name])
            h.ns.ip("link", "add", name, "type", "veth", "peer", "name", "p" + name[:10],
                    "netns", h.ns.wire)
            h.ns.ip("link", "set", name, "up")
        h.ns.ip("link", "add", "PortChannel7", "type", "bridge")  # not a team: counts
        h.ns.ip("link", "set", "PortChannel7", "up")
        # The barrier: PortChannel7 came last; the daemon reads netlink in order and writes a
        # batch's ports in order, so once it is in STATE_DB the others were dealt with.
        wait_until(lambda: h.state.exists("PORT_TABLE|PortChannel7"), what="PortChannel7")
        self.assertEqual(set(h.actual_state()), {"PortChannel7"})
        self.stop_clean(self.d)

    def test_dellink_deletes_the_whole_key(self):
        h = self.h
        h.ns.add_port("Ethernet0")
        self.expect("Ethernet0", "up", "up", 1500)
        h.state.hset("PORT_TABLE|Ethernet0", "host_tx_ready", "true")
        h.ns.ip("link", "del", "Ethernet0")
        wait_until(lambda: not h.state.exists("PORT_TABLE|Ethernet0"), what="key deleted")
        self.stop_clean(self.d)

    def test_a_renamed_netdev_leaves_no_key_behind(self):
        # Beyond upstream (docs/COMPATIBILITY.md): the kernel announces a rename with one NEWLINK
        # for the new name and nothing for the old; upstream leaves the old key saying "ok".
        h = self.h
        h.ns.add_port("Ethernet0")
        self.expect("Ethernet0", "up", "up", 1500)
        h.ns.ip("link", "set", "Ethernet0", "down")  # a netdev is renamed while down
        h.ns.ip("link", "set", "Ethernet0", "name", "Ethernet4")
        wait_until(lambda: not h.state.exists("PORT_TABLE|Ethernet0"), what="old key deleted")
        self.expect("Ethernet4", "down", "down", 1500)
        # Renamed to a name that is not a port's: the key goes too.
        h.ns.ip("link", "set", "Ethernet4", "name", "spare0")
        wait_until(lambda: not h.state.exists("PORT_TABLE|Ethernet4"), what="key deleted")
        # And back.
        h.ns.ip("link", "set", "spare0", "name", "Ethernet0")
        self.expect("Ethernet0", "down", "down", 1500)
        h.wait_converged()
        channel, stub = api.connect(self.d.socket)
        self.addCleanup(channel.close)
        # Counted: renames away from a port's name (spare0 -> Ethernet0 is a new port appearing).
        self.assertEqual(api.health(stub).counters.netdev_renames, 2)
        self.stop_clean(self.d)

    def test_master_rules(self):
        h = self.h
        h.ns.add_port("Ethernet0")
        h.ns.ip("link", "add", "br0", "type", "bridge")
        h.ns.ip("link", "set", "br0", "up")
        self.expect("Ethernet0", "up", "up", 1500)
        # Enslaving sends NEWLINKs with a master (and AF_BRIDGE copies): processed.
        h.ns.ip("link", "set", "Ethernet0", "master", "br0")
        h.ns.ip("link", "set", "Ethernet0", "mtu", "1400")
        self.expect("Ethernet0", "up", "up", 1400)
        h.state.hset("PORT_TABLE|Ethernet0", "host_tx_ready", "true")  # orchagent's field
        # Leaving sends a DELLINK carrying the master: ignored, the key stays.
        h.ns.ip("link", "set", "Ethernet0", "nomaster")
        # The barrier: a later change of the same port, in STATE_DB; a DEL in between would have
        # taken orchagent's field with it.
        h.ns.ip("link", "set", "Ethernet0", "mtu", "1401")
        self.expect("Ethernet0", "up", "up", 1401)
        self.assertEqual(h.state.hget("PORT_TABLE|Ethernet0", "host_tx_ready"), "true")
        # Deleting an enslaved port ends with a DELLINK whose master is 0: the key goes.
        h.ns.ip("link", "set", "Ethernet0", "master", "br0")
        h.ns.ip("link", "del", "Ethernet0")
        wait_until(lambda: not h.state.exists("PORT_TABLE|Ethernet0"), what="key deleted")
        self.stop_clean(self.d)

    def test_netdev_before_its_appl_db_entry_is_published_when_the_entry_appears(self):
        h = self.h
        h.ns.add_port("Ethernet8")
        h.ns.ip("link", "set", "Ethernet8", "mtu", "2000")
        # The barrier: a port APPL_DB knows, created after, is in STATE_DB.
        h.ns.add_port("Ethernet4")
        self.expect("Ethernet4", "up", "up", 1500)
        self.assertFalse(h.state.exists("PORT_TABLE|Ethernet8"))
        h.appl.hset("PORT_TABLE:Ethernet8", "admin_status", "up")  # orchagent gets there
        # No further kernel event: upstream would leave it unwritten; we publish what we know.
        self.expect("Ethernet8", "up", "up", 2000)
        self.stop_clean(self.d)

    def test_storm_converges_and_bursts_are_merged(self):
        h = self.h
        ports = [f"Ethernet{i * 4}" for i in range(16)]
        h.configure_ports(ports)
        h.ns.batch([f"link add {p} type veth peer name w{p[8:]} netns {h.ns.wire}"
                    for p in ports])
        h.wait_converged()
        # The daemon stopped while the storm runs: the kernel queues every message (the 16 MiB
        # buffer holds them), and each batch the daemon then reads (up to 64 datagrams) covers
        # the 16 ports several times over, so most messages must merge into one write per port.
        os.kill(self.d.proc.pid, signal.SIGSTOP)
        try:
            h.storm(ports, rounds=20)
        finally:
            os.kill(self.d.proc.pid, signal.SIGCONT)
        h.wait_converged()
        self.stop_clean(self.d)
        counters = self.d.counters()
        self.assertEqual(counters["netlink_overflows"], 0)
        self.assertGreater(counters["netlink_messages"], 16 * 20)
        self.assertLess(counters["state_db_writes"], counters["netlink_messages"] / 2, counters)


class ApplDbAfterStartupTest(IntegrationTest):
    def test_port_added_to_appl_db_after_startup_is_written_at_its_first_newlink(self):
        h = self.h
        # A poll so slow it cannot be what publishes the port.
        d = h.daemon(config=h.write_config("[redis]\npending_poll_ms = 60000\n"))
        d.wait_log("startup: cold start")
        time.sleep(0.2)  # past the first poll
        h.appl.hset("PORT_TABLE:Ethernet16", "admin_status", "up")  # orchagent, then the netdev
        h.ns.add_port("Ethernet16")
        wait_until(lambda: h.state.exists("PORT_TABLE|Ethernet16"), timeout=3,
                   what="Ethernet16 in STATE_DB without waiting for the poll")
        h.wait_converged()
        self.stop_clean(d)


class JournalLoggingTest(IntegrationTest):
    def test_under_systemd_lines_carry_syslog_priority_prefixes(self):
        h = self.h
        d = h.daemon(env={"JOURNAL_STREAM": "8:12345"})
        d.wait_log("startup: cold start")
        self.stop_clean(d)
        lines = d.output().splitlines()
        self.assertTrue(lines)
        self.assertTrue(any(line.startswith("<5>startup: cold start") for line in lines))  # NOTICE
        self.assertTrue(any(line.startswith("<6>") for line in lines))  # INFO
        self.assertTrue(all(line[0] == "<" and line[2] == ">" for line in lines), lines)


if __name__ == "__main__":
    unittest.main()
