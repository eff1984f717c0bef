"""SONiC's own lifecycle (docs/SONIC.md; docs/COMPATIBILITY.md 7.7 and "How SONiC runs us") on
the real kernel and a real Redis, with ONE runtime directory kept across every start, as in the
swss container (stopped and started, never recreated, so /run survives).

The test plays the rest of SONiC: swss.sh's flush before every non-warm start, orchagent
consuming APPL_DB (harness.Orchagent) and creating the host interfaces after PortConfigDone,
syncd's interfaces going away with a swss restart, a reboot (runtime directory gone, Redis
empty). Each case prints the rule the daemon logged and how long STATE_DB took to converge.
"""

import os
import shutil
import signal
import time
import unittest

import api
from harness import IntegrationTest, Orchagent, swss_flush, wait_until

PORTS = ["Ethernet0", "Ethernet4", "Ethernet8", "Ethernet12"]


class LifecycleTest(IntegrationTest):
    def setUp(self):
        super().setUp()
        self.orchagent = Orchagent(self.h).start()
        self.addCleanup(self.orchagent.stop)  # cleanups run last-in first-out: before the harness

    # --- SONiC's steps ----------------------------------------------------------------------

    def port_config_done(self):
        """PortConfigDone's count, staged or already consumed by orchagent."""
        a = self.h.appl
        return a.hget("_PORT_TABLE:PortConfigDone", "count") or \
            a.hget("PORT_TABLE:PortConfigDone", "count")

    def port_init_done(self):
        a = self.h.appl
        return a.exists("_PORT_TABLE:PortInitDone") or a.exists("PORT_TABLE:PortInitDone")

    def swss_start(self, ports):
        """The daemon starts after swss.sh's flush: it must publish the ports and PortConfigDone;
        orchagent then creates the host interfaces. Returns (daemon, seconds from the netdevs'
        creation to STATE_DB converged)."""
        h = self.h
        d = h.daemon()
        d.wait_log("startup: ")
        wait_until(lambda: self.port_config_done() == str(len(ports)), what="PortConfigDone")
        for p in ports:
            wait_until(lambda: h.appl.exists(f"PORT_TABLE:{p}"), what=f"orchagent to consume {p}")
        h.ns.add_ports([p for p in ports if p not in h.ns.links()])
        took = h.wait_converged()
        wait_until(self.port_init_done, what="PortInitDone")
        return d, took

    def boot(self, ports=PORTS):
        """First start after a boot: CONFIG_DB holds the ports, APPL_DB and the kernel none."""
        self.h.configure_ports(ports, appl=False)
        d, _ = self.swss_start(ports)
        return d

    def syncd_restart(self, keep=()):
        """syncd restarts with swss: its host interfaces go (`keep` survive)."""
        for name in self.h.ns.links():
            if name.startswith("Ethernet") and name not in keep:
                self.h.ns.ip("link", "del", name)

    def rule(self, d):
        """The daemon's `start rule:` log line (what it decided, and why)."""
        d.wait_log("start rule: ")
        return next(line.split("start rule: ", 1)[1] for line in d.output().splitlines()
                    if "start rule: " in line)

    def admin_up(self, ports):
        links = self.h.ns.links()
        return {p: "UP" in links[p]["flags"] for p in ports}

    def report(self, case, rule, took):
        print(f"\n[lifecycle] {case}: rule: {rule}; STATE_DB converged in {took * 1000:.0f} ms",
              flush=True)

    # --- the cases ----------------------------------------------------------------------------

    def test_swss_cold_restart_gets_the_full_cold_contract(self):
        h = self.h
        d = self.boot()
        self.stop_clean(d)  # supervisord stops the program with SIGTERM
        swss_flush(h)
        self.syncd_restart(keep={"Ethernet12"})  # one host interface survived
        self.assertTrue(os.path.exists(os.path.join(h.runtime_dir, "portsyncd.started")))
        d2 = h.daemon()
        rule = self.rule(d2)
        self.assertIn("cold start: no PortConfigDone in APPL_DB", rule)
        self.assertIn("although the restart marker exists", rule)
        wait_until(lambda: self.port_config_done() == "4", what="PortConfigDone count 4")
        d2.wait_log("1 old interfaces set down")
        # APPL_DB copy of CONFIG_DB, consumed by orchagent.
        wait_until(lambda: h.appl.hgetall("PORT_TABLE:Ethernet0") ==
                   h.config.hgetall("PORT|Ethernet0"), what="APPL_DB copy of Ethernet0")
        self.assertEqual(self.admin_up(["Ethernet12"]), {"Ethernet12": False})
        self.assertFalse(self.port_init_done())  # the netdevs are not there yet
        start = time.monotonic()
        h.ns.add_ports(["Ethernet0", "Ethernet4", "Ethernet8"])
        h.wait_converged(ignored={"Ethernet12"})  # an old interface: ignored
        # orchagent re-creates the surviving one: a new ifindex is a port again.
        h.ns.ip("link", "del", "Ethernet12")
        h.ns.add_ports(["Ethernet12"])
        h.wait_converged()
        wait_until(self.port_init_done, what="PortInitDone")
        self.report("swss cold restart", rule, time.monotonic() - start)
        self.assertEqual(h.state.hget("WARM_RESTART_TABLE|portsyncd", "restore_count"), "0")
        self.stop_clean(d2)

    def test_config_reload_with_a_changed_port_set_publishes_the_new_count(self):
        h = self.h
        d = self.boot()
        self.stop_clean(d)
        # config reload: CONFIG_DB reloaded from config_db.json with two ports added, one removed.
        h.config.delete("PORT|Ethernet12")
        h.configure_ports(["Ethernet16", "Ethernet20"], appl=False)
        swss_flush(h)
        self.syncd_restart()
        new_ports = ["Ethernet0", "Ethernet4", "Ethernet8", "Ethernet16", "Ethernet20"]
        d2, took = self.swss_start(new_ports)
        rule = self.rule(d2)
        self.assertIn("cold start: no PortConfigDone", rule)
        self.assertEqual(self.port_config_done(), "5")
        self.assertFalse(h.state.exists("PORT_TABLE|Ethernet12"))
        self.assertEqual(set(h.actual_state()), set(new_ports))
        self.report("config reload (+2 -1 ports)", rule, took)
        self.stop_clean(d2)

    def test_swss_warm_restart_keeps_ports_and_counts_the_restore(self):
        h = self.h
        d = self.boot()
        h.state.hset("WARM_RESTART_ENABLE_TABLE|swss", "enable", "true")
        self.stop_clean(d)  # warm restart: nothing flushed, syncd keeps the interfaces
        h.ns.wire_ip("link", "set", "w4", "down")  # a cable pulled meanwhile
        config_done_before = self.orchagent.consumed.count("PortConfigDone")
        init_done_before = self.orchagent.consumed.count("PortInitDone")
        start = time.monotonic()
        d2 = h.daemon()
        rule = self.rule(d2)
        self.assertIn("warm restart", rule)
        h.wait_converged()
        self.report("swss warm restart", rule, time.monotonic() - start)
        wait_until(lambda: self.orchagent.consumed.count("PortInitDone") == init_done_before + 1,
                   what="PortInitDone published again")
        self.assertEqual(h.state.hget("WARM_RESTART_TABLE|portsyncd", "restore_count"), "1")
        self.assertEqual(self.orchagent.consumed.count("PortConfigDone"), config_done_before)
        self.assertEqual(self.admin_up(PORTS), {p: True for p in PORTS})
        self.assertEqual(h.state.hget("PORT_TABLE|Ethernet4", "netdev_oper_status"), "down")
        self.stop_clean(d2)

    def test_daemon_crash_with_kernel_changes_sets_nothing_down_and_converges(self):
        h = self.h
        d = self.boot()
        d.proc.kill()  # a crash; supervisord's autorestart starts it again
        d.proc.wait()
        # While it is down: a port deleted, an MTU changed, a cable pulled, a port added.
        h.ns.ip("link", "del", "Ethernet8")
        h.ns.ip("link", "set", "Ethernet0", "mtu", "4000")
        h.ns.wire_ip("link", "set", "w4", "down")
        h.configure_ports(["Ethernet16"])  # CONFIG_DB and (as orchagent has it) APPL_DB
        h.ns.add_ports(["Ethernet16"])
        config_done_before = self.orchagent.consumed.count("PortConfigDone")
        start = time.monotonic()
        d2 = h.daemon()
        rule = self.rule(d2)
        self.assertIn("restart of portsyncd alone", rule)
        self.assertIn("PortConfigDone (consumed by orchagent)", rule)
        h.wait_converged()
        took = time.monotonic() - start
        self.report("daemon crash (SIGKILL) + kernel changes", rule, took)
        self.assertFalse(h.state.exists("PORT_TABLE|Ethernet8"))
        self.assertEqual(h.state.hget("PORT_TABLE|Ethernet0", "mtu"), "4000")
        up = ["Ethernet0", "Ethernet4", "Ethernet12", "Ethernet16"]
        self.assertEqual(self.admin_up(up), {p: True for p in up})
        d2.wait_log("0 old interfaces set down")
        self.assertEqual(self.orchagent.consumed.count("PortConfigDone"), config_done_before)
        # PortConfigDone and PortInitDone stay in APPL_DB PORT_TABLE once consumed: they are
        # not ports (the API listed them as such before).
        channel, stub = api.connect(d2.socket)
        self.addCleanup(channel.close)
        reply = stub.GetPortState(api.pb.GetPortStateRequest(), timeout=5)
        self.assertEqual([p.name for p in reply.ports],
                         ["Ethernet0", "Ethernet4", "Ethernet8", "Ethernet12", "Ethernet16"])
        self.stop_clean(d2)

    def test_stop_then_start_without_a_flush_is_a_restart(self):
        # `systemctl stop portsyncd; systemctl start portsyncd`, `supervisorctl restart`.
        h = self.h
        d = self.boot()
        self.stop_clean(d)
        start = time.monotonic()
        d2 = h.daemon()
        rule = self.rule(d2)
        self.assertIn("restart of portsyncd alone", rule)
        h.wait_converged()
        self.report("stop + start, no flush", rule, time.monotonic() - start)
        self.assertEqual(self.admin_up(PORTS), {p: True for p in PORTS})
        self.stop_clean(d2)

    def test_crash_then_swss_restart_is_cold(self):
        h = self.h
        d = self.boot()
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait()
        # Before supervisord restarts it, the operator restarts swss.
        swss_flush(h)
        self.syncd_restart()
        d2, took = self.swss_start(PORTS)
        rule = self.rule(d2)
        self.assertIn("cold start: no PortConfigDone", rule)
        self.assertEqual(self.port_config_done(), "4")
        self.report("crash, then swss restart", rule, took)
        self.stop_clean(d2)

    def test_two_boots(self):
        h = self.h
        d = self.boot()
        self.assertIn("cold start: no PortConfigDone", self.rule(d))
        self.assertEqual(self.orchagent.consumed.count("PortConfigDone"), 1)
        # Reboots: Redis starts empty and CONFIG_DB is loaded from config_db.json, the host
        # interfaces come back after PortConfigDone. The first reboot loses the runtime
        # directory (a tmpfs /run); the second keeps it, as SONiC does when it starts the
        # existing swss container again. Both are cold, and each publishes PortConfigDone.
        for keep_runtime_dir in (False, True):
            self.stop_clean(d)
            if not keep_runtime_dir:
                shutil.rmtree(h.runtime_dir)
            self.syncd_restart()
            h.redis.kill()
            h.redis.start()
            d = self.boot()
            rule = self.rule(d)
            self.assertIn("cold start: no PortConfigDone", rule)
            self.assertEqual("although the restart marker exists" in rule, keep_runtime_dir)
        self.assertEqual(self.orchagent.consumed.count("PortConfigDone"), 3)
        # A boot where Redis kept APPL_DB (persistence on, outside SONiC) and /run was a tmpfs:
        # the marker is gone, so still cold, and PortConfigDone is published again.
        self.stop_clean(d)
        shutil.rmtree(h.runtime_dir)
        h.appl.delete("PORT_TABLE:PortInitDone")
        self.syncd_restart()
        d3, took = self.swss_start(PORTS)
        rule = self.rule(d3)
        self.assertIn("cold start: APPL_DB holds PortConfigDone", rule)
        self.assertIn("restart marker is absent", rule)
        wait_until(lambda: self.orchagent.consumed.count("PortConfigDone") == 4,
                   what="PortConfigDone published again")
        self.report("boot with a persisted APPL_DB", rule, took)
        self.stop_clean(d3)


if __name__ == "__main__":
    unittest.main()
