#!/usr/bin/python3
"""`psbench startup`, the probe that times every start in bench/run.py: when does it count a port?
Against a private redis-server on a unix socket, with commands that write STATE_DB's PORT_TABLE
by hand (redis-cli), for both ways it watches (hset keyevent notifications, polls). The figures
asserted are lower bounds the commands' sleeps guarantee, never how fast anything is."""
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

BUILD = os.environ.get("PORTSYNCD_BUILD",
                       os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build"))
PSBENCH = os.path.join(BUILD, "bench", "psbench")


class StartupProbeTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="psbench-probe-")
        self.sock = os.path.join(self.dir, "redis.sock")
        self.redis = subprocess.Popen(
            ["redis-server", "--port", "0", "--unixsocket", self.sock, "--unixsocketperm", "700",
             "--save", "", "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(self._stop)
        for _ in range(500):
            if subprocess.run(["redis-cli", "-s", self.sock, "ping"], capture_output=True,
                              text=True).stdout.strip() == "PONG":
                break
            time.sleep(0.01)
        self.events("AKE")

    def _stop(self):
        self.redis.kill()
        self.redis.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def cli(self, *args):
        return f"redis-cli -s {self.sock} -n 6 " + " ".join(args)

    def events(self, flags):
        subprocess.run(["redis-cli", "-s", self.sock, "config", "set", "notify-keyspace-events",
                        flags], check=True, capture_output=True)

    def probe(self, ports, script, *extra):
        r = subprocess.run([PSBENCH, "startup", "--redis", self.sock, "--ports", str(ports),
                            "--allow-exit", "1", "--timeout-s", "20", *extra, "--", "sh", "-c",
                            script], capture_output=True, text=True, timeout=60)
        self.assertIn(r.returncode, (0, 3), r.stderr)
        out = json.loads(r.stdout.strip().splitlines()[-1])
        self.wait_gone(out["pid"])
        return out

    @staticmethod
    def wait_gone(pid):
        """The probe leaves its command running when it is done first: let the command end
        (its writes must not land in the next case)."""
        for _ in range(1000):
            try:
                with open(f"/proc/{pid}/stat") as f:
                    if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                        return  # ended; its reaper has not collected it yet
            except FileNotFoundError:
                return
            time.sleep(0.01)
        os.kill(pid, 9)

    def write(self, port, *fields):
        return self.cli("hset", f"'PORT_TABLE|Ethernet{port}'", *fields) + " >/dev/null"

    def test_every_port_counts_once_written_with_state(self):
        for observe in ("events", "polls"):
            with self.subTest(observe=observe):
                subprocess.run(self.cli("flushdb"), shell=True, check=True, capture_output=True)
                script = "; ".join(self.write(p, "state", "ok", "mtu", "9100") for p in range(3))
                r = self.probe(3, script, "--observe", observe)
                self.assertEqual(r["observed_by"],
                                 "hset events" if observe == "events" else "polls")
                self.assertEqual(r["ports_missing"], 0)
                self.assertGreater(r["all_ports_ms"], 0)

    def test_a_write_without_state_does_not_count_the_port(self):
        # Ethernet1's first write has no `state`: it counts only from the second, 300 ms later.
        for observe in ("events", "polls"):
            with self.subTest(observe=observe):
                subprocess.run(self.cli("flushdb"), shell=True, check=True, capture_output=True)
                script = "; ".join([self.write(0, "state", "ok"), self.write(1, "mtu", "9100"),
                                    "sleep 0.3", self.write(1, "state", "ok")])
                r = self.probe(2, script, "--observe", observe)
                self.assertEqual(r["ports_missing"], 0)
                self.assertGreaterEqual(r["all_ports_ms"], 300)

    def test_the_wanted_oper_status_is_what_counts(self):
        subprocess.run(self.cli("flushdb"), shell=True, check=True, capture_output=True)
        script = "; ".join([self.write(0, "state", "ok", "netdev_oper_status", "down"),
                            "sleep 0.3", self.write(0, "netdev_oper_status", "up")])
        r = self.probe(1, script, "--want-oper", "up")
        self.assertEqual(r["observed_by"], "hset events")
        self.assertGreaterEqual(r["all_ports_ms"], 300)

    def test_a_port_never_written_with_state_is_reported_missing(self):
        subprocess.run(self.cli("flushdb"), shell=True, check=True, capture_output=True)
        script = "; ".join([self.write(0, "state", "ok"), self.write(1, "mtu", "9100")])
        r = subprocess.run([PSBENCH, "startup", "--redis", self.sock, "--ports", "2",
                            "--allow-exit", "1", "--timeout-s", "1", "--", "sh", "-c", script],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 3, r.stderr)
        out = json.loads(r.stdout.strip().splitlines()[-1])
        self.wait_gone(out["pid"])
        self.assertEqual(out["ports_missing"], 1)
        self.assertLess(out["all_ports_ms"], 0)

    def test_without_notifications_it_polls(self):
        self.events("")
        subprocess.run(self.cli("flushdb"), shell=True, check=True, capture_output=True)
        r = self.probe(1, "sleep 0.2; " + self.write(0, "state", "ok"))
        self.assertEqual(r["observed_by"], "polls")
        self.assertGreaterEqual(r["all_ports_ms"], 200)

    def test_ports_there_before_the_command_count_at_once(self):
        subprocess.run(self.cli("flushdb"), shell=True, check=True, capture_output=True)
        subprocess.run(self.write(0, "state", "ok"), shell=True, check=True)
        r = self.probe(1, "sleep 0.3")
        self.assertEqual(r["ports_missing"], 0)
        self.assertEqual(r["all_ports_ms"], 0)


if __name__ == "__main__":
    unittest.main()
