"""Startup (docs/COMPATIBILITY.md sections 2, 4, 5 and 7.7) on the real kernel, Redis and daemon."""

import time
import unittest

import api
from harness import IntegrationTest, storm_in_background, wait_until


class ColdStartTest(IntegrationTest):
    def test_config_ports_are_published_to_appl_db_then_port_config_done(self):
        h = self.h
        h.configure_ports(["Ethernet0", "Ethernet4"], appl=False, speed="100000")
        pubsub = h.appl.pubsub()
        pubsub.subscribe("PORT_TABLE_CHANNEL@0")
        d = h.daemon()
        wait_until(lambda: h.appl.exists("_PORT_TABLE:PortConfigDone"), what="PortConfigDone")
        self.assertEqual(h.appl.hgetall("_PORT_TABLE:PortConfigDone"), {"count": "2"})
        self.assertEqual(h.appl.hgetall("_PORT_TABLE:Ethernet0"),
                         h.config.hgetall("PORT|Ethernet0"))
        self.assertEqual(h.appl.smembers("PORT_TABLE_KEY_SET"),
                         {"Ethernet0", "Ethernet4", "PortConfigDone"})
        messages = []
        wait_until(lambda: messages.extend(
            m for m in iter(lambda: pubsub.get_message(timeout=0.1), None)
            if m["type"] == "message") or len(messages) >= 3, what="3 publications")
        self.assertTrue(all(m["data"] == "G" for m in messages))
        self.assertEqual(h.state.hget("WARM_RESTART_TABLE|portsyncd", "restore_count"), "0")
        self.assertEqual(h.config.hgetall("LOGGER|portsyncd"),
                         {"LOGLEVEL": "NOTICE", "LOGOUTPUT": "SYSLOG"})
        self.stop_clean(d)

    def test_empty_port_table_gives_count_zero_and_port_init_done_from_the_dump(self):
        h = self.h
        d = h.daemon()
        wait_until(lambda: h.appl.exists("_PORT_TABLE:PortInitDone"), what="PortInitDone")
        self.assertEqual(h.appl.hgetall("_PORT_TABLE:PortConfigDone"), {"count": "0"})
        self.assertEqual(h.appl.hgetall("_PORT_TABLE:PortInitDone"), {"lanes": "0"})
        self.stop_clean(d)

    def test_port_init_done_waits_for_every_configured_port(self):
        h = self.h
        h.configure_ports(["Ethernet0", "Ethernet4"], appl=False)
        d = h.daemon()
        d.wait_log("startup: cold start")
        h.appl.hset("PORT_TABLE:Ethernet0", "lanes", "0")  # orchagent, no admin_status yet
        h.appl.hset("PORT_TABLE:Ethernet4", "lanes", "4")
        h.ns.add_port("Ethernet0")
        channel, stub = api.connect(d.socket)
        self.addCleanup(channel.close)

        def port(name):
            return stub.GetPortState(api.pb.GetPortStateRequest(names=[name]), timeout=5).ports[0]
        wait_until(lambda: port("Ethernet0").in_kernel and not port("Ethernet0").pending,
                   what="the engine to see Ethernet0")
        self.assertTrue(port("Ethernet4").pending)  # so PortInitDone cannot be out
        wait_until(lambda: h.state.exists("PORT_TABLE|Ethernet0"), what="Ethernet0 written")
        self.assertFalse(h.appl.exists("_PORT_TABLE:PortInitDone"))
        h.ns.add_port("Ethernet4")
        wait_until(lambda: h.appl.exists("_PORT_TABLE:PortInitDone"), what="PortInitDone")
        self.assertEqual(h.appl.hgetall("_PORT_TABLE:PortInitDone"), {"lanes": "0"})
        h.wait_converged()
        self.stop_clean(d)

    def test_ports_orchagent_already_configured_are_not_pending(self):
        h = self.h
        # APPL_DB PORT_TABLE:<p> has admin_status: portsyncd restarted while orchagent ran.
        h.configure_ports(["Ethernet0", "Ethernet4"], appl=True)
        d = h.daemon()
        # PortInitDone although neither port has a netdev (none is ever created here): both
        # left the pending set. (Without admin_status they would wait: the test above.)
        wait_until(lambda: h.appl.exists("_PORT_TABLE:PortInitDone"), what="PortInitDone")
        channel, stub = api.connect(d.socket)
        self.addCleanup(channel.close)
        ports = stub.GetPortState(api.pb.GetPortStateRequest(), timeout=5).ports
        self.assertEqual([(p.name, p.in_kernel, p.in_appl_db, p.pending) for p in ports],
                         [("Ethernet0", False, True, False), ("Ethernet4", False, True, False)])
        self.stop_clean(d)

    def test_existing_ethernet_netdevs_are_old_interfaces_set_down_and_ignored(self):
        h = self.h
        h.configure_ports(["Ethernet0", "Ethernet4"])
        h.ns.add_port("Ethernet0")
        h.ns.add_port("Ethernet4")
        h.ns.add_port("PortChannel5")  # not Ethernet: not an old interface
        h.configure_ports(["PortChannel5"])
        d = h.daemon()
        d.wait_log("2 old interfaces set down")
        links = h.ns.links()
        self.assertNotIn("UP", links["Ethernet0"]["flags"])
        self.assertNotIn("UP", links["Ethernet4"]["flags"])
        self.assertIn("UP", links["PortChannel5"]["flags"])
        wait_until(lambda: "PortChannel5" in h.actual_state(), what="PortChannel5 written")
        h.ns.ip("link", "set", "Ethernet0", "up")
        h.ns.ip("link", "set", "Ethernet0", "mtu", "4000")
        # A later change of PortChannel5: the kernel sends it after Ethernet0's, so once it is
        # in STATE_DB, Ethernet0's messages have been applied (and ignored).
        h.ns.ip("link", "set", "PortChannel5", "mtu", "4010")
        wait_until(lambda: h.state.hget("PORT_TABLE|PortChannel5", "mtu") == "4010",
                   what="PortChannel5's later change")
        self.assertEqual(set(h.actual_state()), {"PortChannel5"})
        # orchagent re-creates the netdev: a new ifindex is a port again.
        h.ns.ip("link", "del", "Ethernet0")
        h.ns.add_port("Ethernet0")
        h.wait_converged(ignored={"Ethernet4"})
        self.assertNotIn("Ethernet4", h.actual_state())
        self.stop_clean(d)

    def test_dpu_keeps_existing_interfaces(self):
        h = self.h
        h.config.hset("DEVICE_METADATA|localhost", "switch_type", "dpu")
        h.configure_ports(["Ethernet0"])
        h.ns.add_port("Ethernet0")
        d = h.daemon()
        d.wait_log("0 old interfaces set down")
        self.assertIn("UP", h.ns.links()["Ethernet0"]["flags"])
        h.wait_converged()
        self.stop_clean(d)


class WarmStartTest(IntegrationTest):
    def test_enabled_without_restore_count_sets_zero_and_starts_cold(self):
        h = self.h
        h.state.hset("WARM_RESTART_ENABLE_TABLE|swss", "enable", "true")
        d = h.daemon()
        d.wait_log("startup: cold start")
        self.assertEqual(h.state.hget("WARM_RESTART_TABLE|portsyncd", "restore_count"), "0")
        self.stop_clean(d)

    def test_warm_start_increments_restore_count_and_refreshes_state_db(self):
        h = self.h
        h.state.hset("WARM_RESTART_ENABLE_TABLE|system", "enable", "true")
        h.state.hset("WARM_RESTART_TABLE|portsyncd", "restore_count", "2")
        h.configure_ports(["Ethernet0", "Ethernet4"], appl=True)
        h.ns.add_port("Ethernet0")
        h.ns.add_port("Ethernet4", peer_up=False)
        # Left over from before the restart: a port deleted while we were down, and a key of
        # another daemon's that is not ours.
        h.state.hset("PORT_TABLE|Ethernet8", mapping={"state": "ok", "admin_status": "up",
                                                      "netdev_oper_status": "up", "mtu": "9100"})
        h.state.hset("PORT_TABLE|Ethernet12", "host_tx_ready", "true")
        d = h.daemon()
        d.wait_log("startup: warm start")
        self.assertEqual(h.state.hget("WARM_RESTART_TABLE|portsyncd", "restore_count"), "3")
        h.wait_converged()
        self.assertFalse(h.appl.exists("_PORT_TABLE:PortConfigDone"))
        self.assertFalse(h.appl.exists("_PORT_TABLE:Ethernet0"))
        self.assertEqual(h.state.hgetall("PORT_TABLE|Ethernet12"), {"host_tx_ready": "true"})
        self.assertIn("UP", h.ns.links()["Ethernet0"]["flags"])
        wait_until(lambda: h.appl.exists("_PORT_TABLE:PortInitDone"), what="PortInitDone")
        self.stop_clean(d)


class RestartTest(IntegrationTest):
    """docs/COMPATIBILITY.md 7.7: a restart of the daemon alone does not take the ports down."""

    def test_restart_with_marker_reconciles_instead_of_taking_ports_down(self):
        h = self.h
        h.configure_ports(["Ethernet0", "Ethernet4", "Ethernet8"])
        d = h.daemon()
        d.wait_log("startup: cold start")
        for p in ("Ethernet0", "Ethernet4", "Ethernet8"):
            h.ns.add_port(p)
        h.wait_converged()
        self.stop_clean(d)
        h.state.hset("WARM_RESTART_TABLE|portsyncd", "restore_count", "7")
        # While it was down: one port deleted, one created, one cable pulled.
        h.ns.ip("link", "del", "Ethernet4")
        h.ns.add_port("Ethernet12")
        h.configure_ports(["Ethernet12"])
        h.ns.wire_ip("link", "set", "w8", "down")
        d2 = h.daemon()
        d2.wait_log("startup: restart start")
        h.wait_converged()
        links = h.ns.links()
        for p in ("Ethernet0", "Ethernet8", "Ethernet12"):
            self.assertIn("UP", links[p]["flags"], p)
        self.assertEqual(h.state.hget("WARM_RESTART_TABLE|portsyncd", "restore_count"), "7")
        self.assertFalse(h.state.exists("PORT_TABLE|Ethernet4"))
        self.stop_clean(d2)

    def test_sigkill_during_a_storm_then_restart_as_systemd_would(self):
        h = self.h
        ports = [f"Ethernet{i * 4}" for i in range(16)]
        d = h.start_converged(ports, configured=ports + ["Ethernet200"])
        storm = storm_in_background(h, ports, 20, fault_at=10)
        storm.wait_midway()
        d.proc.kill()  # crash, mid-storm
        d.proc.wait()
        storm.resume()
        storm.join()
        # While it is down: one port deleted, one created.
        h.ns.ip("link", "del", "Ethernet8")
        h.ns.add_port("Ethernet200")
        d2 = h.daemon()  # same runtime directory, as systemd's RuntimeDirectoryPreserve=restart
        d2.wait_log("startup: restart start")
        took = h.wait_converged()
        print(f"converged {took:.3f}s after the restart was logged")
        self.assertFalse(h.state.exists("PORT_TABLE|Ethernet8"))
        links = h.ns.links()
        # No port was brought down by the restart: the storm's last round left every port admin
        # up, and so they stay (a cold start would have set them all down).
        for p in [p for p in ports if p != "Ethernet8"] + ["Ethernet200"]:
            self.assertIn("UP", links[p]["flags"], p)
        self.stop_clean(d2)

    def test_fresh_runtime_dir_is_a_cold_start(self):
        h = self.h
        d = h.daemon()
        d.wait_log("startup: cold start")
        self.stop_clean(d)
        h.runtime_dir = h.runtime_dir + "-fresh"
        d2 = h.daemon()
        d2.wait_log("startup: cold start")
        self.stop_clean(d2)


if __name__ == "__main__":
    unittest.main()
