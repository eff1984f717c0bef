"""Multi-ASIC, as SONiC runs it: one daemon per ASIC network namespace, each with its own Redis,
database config, runtime directory and API socket, side by side on one host, sharing nothing;
`portsyncctl -n asicN` reaches one instance and `-n all` every one.

Each "ASIC" here is a Harness: its own switch namespace (the ASIC's network namespace), its own
redis-server and database_config.json. The sockets sit where SONiC's host sees them,
<base>/redis<N>/portsyncd.sock (on a switch /var/run/redis<N>, bind-mounted into swss<N>),
under the test's own directory.
"""

import json
import os
import subprocess
import unittest

from harness import Harness, IntegrationTest, run, wait_until

PORTSYNCCTL = os.environ.get("PORTSYNCCTL", "portsyncctl")
SCRAPE = ("import sys, urllib.request; "
          "sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())")
METRICS = "127.0.0.1:9108"  # the same port in every namespace: loopback is per namespace


class MultiAsicTest(IntegrationTest):
    def setUp(self):
        super().setUp()
        self.asics = [self.h, Harness("asic1")]
        self.addCleanup(self.asics[1].close)
        self.base = os.path.join(self.h.dir, "host-run")
        self.template = os.path.join(self.base, "redis{N}", "portsyncd.sock")

    def ctl(self, *args):
        return run(PORTSYNCCTL, "--namespace-socket", self.template, *args, check=False)

    def start(self, n, ports):
        h = self.asics[n]
        socket = self.template.replace("{N}", str(n))
        os.makedirs(os.path.dirname(socket), exist_ok=True)
        h.configure_ports(ports)
        conf = h.write_config(f'[metrics]\nlisten = "{METRICS}"\n')
        d = h.daemon("--socket", socket, config=conf)
        d.wait_log("startup: cold start")
        h.ns.add_ports(ports)
        h.wait_converged()
        return d

    def scrape(self, n):
        return subprocess.run(["ip", "netns", "exec", self.asics[n].ns.sw, "/usr/bin/python3", "-c",
                               SCRAPE, f"http://{METRICS}/metrics"],
                              capture_output=True, text=True, check=True, timeout=20).stdout

    def test_two_instances_side_by_side_share_nothing(self):
        d0 = self.start(0, ["Ethernet0", "Ethernet4"])
        d1 = self.start(1, ["Ethernet0", "Ethernet8", "Ethernet12"])
        # Same port name in both ASICs, each in its own STATE_DB.
        self.asics[1].ns.ip("link", "set", "Ethernet0", "mtu", "4000")
        self.asics[1].wait_converged()
        self.assertEqual(self.asics[0].state.hget("PORT_TABLE|Ethernet0", "mtu"), "1500")
        self.assertEqual(self.asics[1].state.hget("PORT_TABLE|Ethernet0", "mtu"), "4000")
        # Nothing shared: runtime directories, sockets; the same metrics port in each namespace.
        self.assertNotEqual(self.asics[0].runtime_dir, self.asics[1].runtime_dir)
        for n, (d, up) in enumerate(((d0, 2), (d1, 3))):
            d.wait_log(f"metrics: http://{METRICS}/metrics")
            self.assertIn(f'portsyncd_ports{{oper="up"}} {up}\n', self.scrape(n))

        # -n asicN: one instance.
        out = self.ctl("-n", "asic1", "ports")
        self.assertEqual(out.returncode, 0, out.stderr)
        names = [line.split()[0] for line in out.stdout.splitlines()[1:]]
        self.assertEqual(names, ["Ethernet0", "Ethernet8", "Ethernet12"])
        out = self.ctl("-n", "asic0", "--json", "ports")
        self.assertEqual([p["name"] for p in json.loads(out.stdout)["ports"]],
                         ["Ethernet0", "Ethernet4"])

        # -n all: every instance, with a namespace column.
        out = self.ctl("-n", "all", "ports")
        self.assertEqual(out.returncode, 0, out.stderr)
        lines = out.stdout.splitlines()
        self.assertEqual(lines[0].split()[:2], ["NAMESPACE", "PORT"])
        rows = [line.split()[:2] for line in lines[1:]]
        self.assertEqual(rows, [["asic0", "Ethernet0"], ["asic0", "Ethernet4"],
                                ["asic1", "Ethernet0"], ["asic1", "Ethernet8"],
                                ["asic1", "Ethernet12"]])
        mtu = {(r.split()[0], r.split()[1]): r.split()[4] for r in lines[1:]}
        self.assertEqual(mtu[("asic1", "Ethernet0")], "4000")
        out = self.ctl("-n", "all", "--json", "health")
        self.assertEqual(set(json.loads(out.stdout)), {"asic0", "asic1"})

        # One ASIC's Redis goes away: the other instance is not affected; `-n all` still shows
        # the reachable one and says which is not, exit status 1.
        self.asics[0].redis.kill()
        self.asics[1].ns.wire_ip("link", "set", "w8", "down")
        self.asics[1].wait_converged()
        d1.stop()
        out = self.ctl("-n", "all", "ports")
        self.assertEqual(out.returncode, 1)
        self.assertIn("asic1: cannot reach portsyncd", out.stderr)
        self.assertEqual({line.split()[0] for line in out.stdout.splitlines()[1:]}, {"asic0"})

    def test_bad_namespace_arguments_are_usage_errors(self):
        for args, message in ((["-n", "asicx", "ports"], "expected an ASIC namespace"),
                              (["-n", "all", "watch"], "needs one instance"),
                              (["-n", "asic0", "--target", "/x", "ports"], "give one")):
            out = self.ctl(*args)
            self.assertEqual(out.returncode, 2, args)
            self.assertIn(message, out.stderr)
        out = self.ctl("-n", "all", "ports")
        self.assertEqual(out.returncode, 1)
        self.assertIn("no ASIC namespace found", out.stderr)
        out = self.ctl("-n", "asic3", "ports")
        self.assertEqual(out.returncode, 1)
        self.assertIn(f"no socket at {self.template.replace('{N}', '3')}", out.stderr)


if __name__ == "__main__":
    unittest.main()
