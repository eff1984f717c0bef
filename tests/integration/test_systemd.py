"""sd_notify protocol with a real NOTIFY_SOCKET (a datagram socket the test listens on)."""

import os
import signal
import socket
import time
import unittest

from harness import IntegrationTest, wait_until

PORTS = ["Ethernet0", "Ethernet4"]


class NotifyTest(IntegrationTest):
    def listen(self):
        path = os.path.join(self.h.dir, "notify.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        sock.settimeout(0.1)
        self.addCleanup(sock.close)
        self.messages = []  # (time, {key: value})

        def drain():
            while True:
                try:
                    data = sock.recv(4096).decode()
                except socket.timeout:
                    return
                fields = dict(line.split("=", 1) for line in data.splitlines() if "=" in line)
                self.messages.append((time.monotonic(), fields))
        self.drain = drain
        return path

    def sent(self, key, value=None):
        self.drain()
        return [f for _, f in self.messages if key in f and (value is None or f[key] == value)]

    def test_ready_status_watchdog_reloading_stopping(self):
        h = self.h
        h.configure_ports(PORTS)
        h.ns.add_ports(PORTS)  # exist before: a restart start keeps them; see below
        # A restart of the daemon alone (no port set down): a PortConfigDone of an earlier run in
        # APPL_DB, and the restart marker.
        os.makedirs(h.runtime_dir, exist_ok=True)
        open(os.path.join(h.runtime_dir, "portsyncd.started"), "w").close()
        h.appl.hset("PORT_TABLE:PortConfigDone", "count", "2")
        path = self.listen()
        conf = h.write_config('log_level = "INFO"\n')
        d = h.daemon(config=conf, log_level=None,
                     env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000000"})
        wait_until(lambda: self.sent("READY", "1"), what="READY=1")
        # READY=1 only once STATE_DB holds the initial dump.
        self.assertTrue(h.converged())
        self.assertTrue(h.state.exists("PORT_TABLE|Ethernet0"))
        status = self.sent("STATUS")
        self.assertTrue(status)
        self.assertRegex(status[-1]["STATUS"], r"2 ports tracked, 2 in sync with STATE_DB; Redis "
                                               r"connected")
        # WATCHDOG=1 at half of WATCHDOG_USEC while the engine is alive.
        before = len(self.sent("WATCHDOG"))
        time.sleep(2.1)
        pets = len(self.sent("WATCHDOG")) - before
        self.assertGreaterEqual(pets, 3)
        # Redis away: the status says so.
        h.redis.kill()
        wait_until(lambda: any("UNREACHABLE" in f["STATUS"] for f in self.sent("STATUS")),
                   what="STATUS with Redis unreachable")
        h.redis.start()
        # Reload: RELOADING=1 then READY=1.
        os.kill(d.proc.pid, signal.SIGHUP)
        wait_until(lambda: self.sent("RELOADING", "1"), what="RELOADING=1")
        wait_until(lambda: len(self.sent("READY", "1")) == 2, what="READY=1 after the reload")
        self.assertEqual(d.stop(), 0)
        self.assertTrue(self.sent("STOPPING", "1"))

    def test_ready_after_10s_while_redis_is_away_and_the_status_says_why(self):
        # Waiting for Redis is never fatal: systemd gets READY=1 after 10 s (within the unit's
        # TimeoutStartSec=30) rather than killing a daemon that is only waiting.
        h = self.h
        h.redis.kill()
        path = self.listen()
        started = time.monotonic()
        d = h.daemon(env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"})
        ready = wait_until(lambda: self.sent("READY", "1"), timeout=30, what="READY=1")
        self.assertGreaterEqual(time.monotonic() - started, 9.5)  # never before 10 s
        self.assertRegex(ready[0]["STATUS"], r"^starting: waiting for Redis \(cannot connect to "
                                             r".*\); start mode not decided yet; retrying$")
        self.assertTrue(self.sent("WATCHDOG", "1"))  # fed while it waits
        self.assertTrue(d.running())
        h.redis.start()
        d.wait_log("startup: cold start")
        wait_until(lambda: "ports tracked, 0 in sync" in self.sent("STATUS")[-1]["STATUS"],
                   what="STATUS once synced")
        self.assertEqual(len(self.sent("READY", "1")), 1)
        self.assertEqual(d.stop(), 0)

    def test_ready_after_10s_while_the_database_config_is_missing(self):
        h = self.h
        path = self.listen()
        later = os.path.join(h.dir, "later.json")
        started = time.monotonic()
        d = h.daemon("--db-config", later, env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"})
        ready = wait_until(lambda: self.sent("READY", "1"), timeout=30, what="READY=1")
        self.assertGreaterEqual(time.monotonic() - started, 9.5)
        self.assertEqual(ready[0]["STATUS"],
                         f"waiting for the SONiC database config {later} (SONiC's database "
                         "service writes it once Redis is up)")
        self.assertTrue(self.sent("WATCHDOG", "1"))
        os.rename(h.db_config, later)
        d.wait_log("startup: cold start")
        self.assertEqual(d.stop(), 0)

    def test_a_stalled_engine_gets_no_watchdog_while_the_rest_runs(self):
        h = self.h
        path = self.listen()
        stall = os.path.join(h.dir, "stall")
        d = h.daemon(env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "400000",
                          "PORTSYNCD_TEST_STALL_FILE": stall})
        wait_until(lambda: self.sent("READY", "1"), what="READY=1")
        time.sleep(0.5)
        self.assertGreaterEqual(len(self.sent("WATCHDOG")), 2)
        open(stall, "w").close()  # the engine loop now hangs; gRPC, health, systemd threads run
        time.sleep(0.6)  # the ping in flight when it stalled may still be answered
        count = len(self.sent("WATCHDOG"))
        time.sleep(1.2)  # six watchdog periods
        self.assertEqual(len(self.sent("WATCHDOG")), count)
        self.assertTrue(self.sent("STATUS"))  # the daemon itself still talks
        os.unlink(stall)
        wait_until(lambda: len(self.sent("WATCHDOG")) > count, what="WATCHDOG=1 again")
        self.assertEqual(d.stop(), 0)

    def test_no_notify_socket_no_watchdog_even_with_watchdog_usec(self):
        # WATCHDOG_USEC without NOTIFY_SOCKET (an environment leaked from a parent): nothing to
        # notify, so no watchdog either. (A SIGSTOPped whole process proves nothing about the
        # gate: the stalled-engine test above is the watchdog gate's test.)
        d = self.h.daemon(env={"NOTIFY_SOCKET": "", "WATCHDOG_USEC": "1000000"})
        d.wait_log("startup: cold start")
        self.assertNotIn("systemd watchdog", d.output())
        self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    unittest.main()
