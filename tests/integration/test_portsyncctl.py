"""portsyncctl on the real daemon: its real output (table and --json) and exit codes."""

import json
import os
import re
import signal
import subprocess
import threading
import unittest

from harness import IntegrationTest, wait_until

PORTSYNCCTL = os.environ.get("PORTSYNCCTL", "portsyncctl")
PORTS = ["Ethernet0", "Ethernet4", "Ethernet8"]


class PortsyncctlTest(IntegrationTest):
    def setUp(self):
        super().setUp()
        h = self.h
        h.configure_ports(PORTS + ["Ethernet100"])
        self.conf = h.write_config('log_level = "INFO"\n')
        self.d = h.daemon(config=self.conf, log_level=None)
        self.d.wait_log("startup: cold start")
        for p in PORTS:
            h.ns.add_port(p)
        h.ns.wire_ip("link", "set", "w8", "down")
        h.wait_converged()

    def ctl(self, *args, target=None, timeout=10):
        return subprocess.run([PORTSYNCCTL, "--target", target or f"unix:{self.d.socket}",
                               "--timeout", "3", *args],
                              capture_output=True, text=True, timeout=timeout)

    def test_ports_table(self):
        r = self.ctl("ports")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[0].split(), ["PORT", "ADMIN", "OPER", "MTU", "IFINDEX", "STATE_DB",
                                            "LAST", "CHANGE", "FLAPS"])
        rows = {line.split()[0]: line for line in lines[1:]}
        self.assertEqual(list(rows), PORTS + ["Ethernet100"])  # natural order
        links = self.h.ns.links()
        e8 = rows["Ethernet8"].split()
        self.assertEqual(e8[1:6], ["up", "down", "1500", str(links["Ethernet8"]["ifindex"]), "in"])
        self.assertEqual(rows["Ethernet100"].split()[1:6], ["-", "-", "-", "-", "-"])
        # Columns are aligned: every row's OPER starts where the header's does.
        col = lines[0].index("OPER")
        self.assertTrue(all(line[col - 1] == " " and line[col] != " " for line in lines[1:]))
        one = self.ctl("ports", "Ethernet4")
        self.assertEqual([line.split()[0] for line in one.stdout.splitlines()[1:]], ["Ethernet4"])
        # A shell pattern (the daemon filters), and a pattern with a name (portsyncctl filters).
        ones = self.ctl("ports", "Ethernet1*")
        self.assertEqual([line.split()[0] for line in ones.stdout.splitlines()[1:]],
                         ["Ethernet100"])
        mixed = self.ctl("ports", "Ethernet[48]", "Ethernet0")
        self.assertEqual([line.split()[0] for line in mixed.stdout.splitlines()[1:]], PORTS)

    def test_json_output(self):
        ports = json.loads(self.ctl("--json", "ports").stdout)
        self.assertEqual([p["name"] for p in ports["ports"]], PORTS + ["Ethernet100"])
        self.assertEqual(ports["ports"][2]["oper_status"], "LINK_STATUS_DOWN")
        self.assertTrue(ports["ports"][0]["state_db_in_sync"])
        health = json.loads(self.ctl("--json", "health").stdout)
        self.assertEqual(health["status"], "SERVING_STATUS_SERVING")
        self.assertEqual(health["ports_tracked"], 4)

    def test_health_text(self):
        r = self.ctl("health")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"portsyncd \S+: SERVING \(cold start")
        for component in ("netlink", "redis", "initial_sync", "port_init_done", "config"):
            self.assertRegex(r.stdout, rf"\n{component} +SERVING ")
        self.assertIn("netlink overruns      0", r.stdout)

    def test_reload_authorized_and_not(self):
        with open(self.conf, "w") as f:
            f.write('log_level = "DEBUG"\n')
        bad = os.path.join(self.h.dir, "wrong.token")
        with open(bad, "w") as f:
            f.write("0123\n")
        r = self.ctl("--token-file", bad, "reload")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, "")
        self.assertIn("portsyncctl: not authorized", r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1)
        r = self.ctl("--token-file", "/nonexistent/token", "reload")
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot read the reload token /nonexistent/token", r.stderr)
        r = self.ctl("--token-file", os.path.join(self.h.runtime_dir, "reload.token"), "reload")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("changed: log_level", r.stdout)
        with open(self.conf, "w") as f:
            f.write('log_level = "LOUD"\n')
        r = self.ctl("--token-file", os.path.join(self.h.runtime_dir, "reload.token"), "reload")
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"{self.conf}:1: log_level: 'LOUD'", r.stderr)
        # A TOML syntax error is one line too, "<file>:<line>: <key>: <problem>" (toml11's own
        # message is five lines of excerpt).
        with open(self.conf, "w") as f:
            f.write('# comment\n[grpc]\nmax_streams = \n')
        r = self.ctl("--token-file", os.path.join(self.h.runtime_dir, "reload.token"), "reload")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertIn(f"{self.conf}:3: max_streams: invalid TOML: missing value", r.stderr)

    def test_exit_codes_and_usage(self):
        self.assertEqual(self.ctl("--help").returncode, 0)
        for command in ("ports", "watch", "health", "reload"):
            r = self.ctl(command, "--help")
            self.assertEqual(r.returncode, 0)
            self.assertIn(f"Usage: portsyncctl [OPTIONS] {command}", r.stdout)
        self.assertEqual(self.ctl().returncode, 2)
        self.assertEqual(self.ctl("frobnicate").returncode, 2)
        self.assertEqual(self.ctl("health", "extra").returncode, 2)
        self.assertEqual(self.ctl("ports", "--colour").returncode, 2)
        r = self.ctl("ports", "Ethernet999")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr.strip(), "portsyncctl: port Ethernet999 is not known to portsyncd")
        r = self.ctl("ports", target=f"unix:{self.h.dir}/nothing.sock")
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot reach portsyncd at unix:", r.stderr)
        self.assertIn("is it running?", r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1)

    def test_watch_lines_and_transparent_resume_across_a_restart(self):
        h = self.h
        w = Watch([PORTSYNCCTL, "--target", f"unix:{self.d.socket}", "watch"])
        try:
            w.wait_out(r"watching 4 ports")  # connected, snapshot printed
            h.ns.wire_ip("link", "set", "w0", "down")
            h.ns.ip("link", "set", "Ethernet4", "mtu", "9000")
            w.wait_out(r"Ethernet4 +CHANGED  mtu 1500 -> 9000")
            self.assertEqual(self.d.stop(), 0)
            w.wait_err("connection lost")
            h.ns.ip("link", "set", "Ethernet4", "mtu", "9100")  # while the daemon is down
            d2 = h.daemon(config=self.conf, log_level=None)
            d2.wait_log("startup: restart start")
            w.wait_out(r"watching 4 ports", count=2, timeout=15)  # reconnected (backoff <= 2 s)
            h.ns.ip("link", "set", "Ethernet8", "down")
            w.wait_out(r"Ethernet8 +CHANGED  admin up -> down")
        finally:
            code = w.stop()
        self.assertEqual(code, 0, w.err)
        lines = w.out
        self.assertRegex(lines[0], r"watching 4 ports \(2 oper up\), instance \w+, sequence \d+")
        self.assertRegex(lines[1], r"^\S+  Ethernet0 +CHANGED  oper up -> down$")
        self.assertRegex(lines[2], r"^\S+  Ethernet4 +CHANGED  mtu 1500 -> 9000$")
        self.assertIn("events were missed", lines[3])
        self.assertRegex(lines[4], r"Ethernet4 +CHANGED  mtu 9000 -> 9100 \(while disconnected\)")
        self.assertRegex(lines[5], r"watching 4 ports")
        self.assertRegex(lines[6], r"Ethernet8 +CHANGED  admin up -> down")
        self.assertEqual(len(lines), 7, lines)
        self.assertTrue(any("reconnected" in line for line in w.err), w.err)

    def test_ctrl_c_ends_a_watch_that_waits_for_a_stopped_daemon(self):
        # With the daemon gone, watch waits for it (gRPC's wait_for_ready); Ctrl-C must end that
        # wait at once and cleanly (exit 0), not leave it to be killed.
        w = Watch([PORTSYNCCTL, "--target", f"unix:{self.d.socket}", "watch"])
        try:
            w.wait_out(r"watching 4 ports")
            self.assertEqual(self.d.stop(), 0)
            w.wait_err("connection lost")
        finally:
            code = w.stop()
        self.assertEqual(code, 0, w.err)

    def test_watch_json_one_object_per_line(self):
        w = Watch([PORTSYNCCTL, "--target", f"unix:{self.d.socket}", "--json", "watch",
                   "Ethernet0"])
        try:
            w.wait_out("TYPE_SYNCED")
            self.h.ns.ip("link", "set", "Ethernet0", "mtu", "4000")
            w.wait_out("TYPE_CHANGED")
        finally:
            w.stop()
        events = [json.loads(line) for line in w.out]
        self.assertEqual([e["type"] for e in events], ["TYPE_SNAPSHOT", "TYPE_SYNCED",
                                                       "TYPE_CHANGED"])
        self.assertEqual(events[2]["port"]["mtu"], 4000)


class ConfiguredSocketTest(IntegrationTest):
    def test_unix_socket_its_mode_and_the_reload_token_file_come_from_the_config(self):
        h = self.h
        sock = os.path.join(h.dir, "custom.sock")
        token = os.path.join(h.dir, "token")
        with open(token, "w") as f:
            f.write("s3cret-token\n")
        os.chmod(token, 0o600)
        conf = h.write_config(f'[grpc]\nunix_socket = "{sock}"\nunix_socket_mode = 0o640\n'
                              f'reload_token_file = "{token}"\n')
        d = h.daemon(config=conf)
        d.wait_log(f"gRPC: listening on unix:{sock}")
        self.assertEqual(os.stat(sock).st_mode & 0o777, 0o640)
        self.assertFalse(os.path.exists(os.path.join(h.runtime_dir, "portsyncd.sock")))
        self.assertFalse(os.path.exists(os.path.join(h.runtime_dir, "reload.token")))

        def ctl(*args):
            return subprocess.run([PORTSYNCCTL, "--target", sock, *args], capture_output=True,
                                  text=True, timeout=10)
        r = ctl("--token-file", token, "reload")
        self.assertEqual(r.returncode, 0, r.stderr)
        wrong = os.path.join(h.dir, "wrong")
        with open(wrong, "w") as f:
            f.write("not-the-token\n")
        r = ctl("--token-file", wrong, "reload")
        self.assertEqual(r.returncode, 1)
        self.assertIn("not authorized", r.stderr)
        self.stop_clean(d)


class Watch:
    """`portsyncctl watch` running, its stdout and stderr lines collected as they come, so a
    test waits for what the client printed instead of sleeping and hoping it connected."""

    def __init__(self, args):
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        self.out, self.err = [], []
        self.readers = [threading.Thread(target=self._read, args=(f, lines), daemon=True)
                        for f, lines in ((self.proc.stdout, self.out),
                                         (self.proc.stderr, self.err))]
        for r in self.readers:
            r.start()

    @staticmethod
    def _read(f, lines):
        for line in f:
            lines.append(line.rstrip("\n"))

    def _wait(self, lines, pattern, count, timeout):
        wait_until(lambda: sum(1 for line in list(lines) if re.search(pattern, line)) >= count,
                   timeout=timeout, what=f"portsyncctl watch to print {pattern!r} x{count}; "
                                         f"so far: {lines!r}")

    def wait_out(self, pattern, count=1, timeout=10):
        self._wait(self.out, pattern, count, timeout)

    def wait_err(self, pattern, count=1, timeout=10):
        self._wait(self.err, pattern, count, timeout)

    def stop(self):
        """SIGINT (Ctrl-C), then every line it printed; returns the exit status."""
        self.proc.send_signal(signal.SIGINT)
        try:
            code = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        for r in self.readers:
            r.join(timeout=5)
        return code


if __name__ == "__main__":
    unittest.main()
