"""portsyncd under a real supervisord (Debian's `supervisor` package), with the program section
we ship for SONiC's swss container (deploy/sonic/portsyncd.supervisord.conf), as SONiC runs it.

The shipped section is used as it is, except: the command runs the built daemon inside the
test's namespace, with its own runtime directory, socket and database config, and the output goes to a file instead of syslog (the
test machine has no syslog daemon).
"""

import configparser
import os
import re
import shutil
import signal
import subprocess
import time
import unittest

from harness import PORTSYNCD, IntegrationTest, Orchagent, run, swss_flush, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
SHIPPED = os.path.join(HERE, "..", "..", "deploy", "sonic", "portsyncd.supervisord.conf")
PORTS = ["Ethernet0", "Ethernet4", "Ethernet8"]


class SupervisordTest(IntegrationTest):
    def setUp(self):
        super().setUp()
        if not shutil.which("supervisord"):
            self.fail("supervisord not installed (deploy/install-deps.sh installs supervisor)")
        # The shipped command gives no --config: the daemon would read this machine's file.
        if os.path.exists("/etc/sonic/portsyncd.conf"):
            self.fail("/etc/sonic/portsyncd.conf exists on this machine and the shipped "
                      "supervisord command would read it; move it aside to run this test")
        h = self.h
        self.conf = os.path.join(h.dir, "supervisord.conf")
        self.sock = os.path.join(h.dir, "supervisor.sock")
        self.program_log = os.path.join(h.dir, "portsyncd.supervised.log")
        self.api_sock = os.path.join(h.dir, "api.sock")
        self.write_conf()
        self.supervisord = subprocess.Popen(
            ["supervisord", "--nodaemon", "-c", self.conf],
            stdout=open(os.path.join(h.dir, "supervisord.out"), "w"), stderr=subprocess.STDOUT)
        self.addCleanup(self.stop_supervisord)
        self.orchagent = Orchagent(h).start()
        self.addCleanup(self.orchagent.stop)

    def write_conf(self):
        h = self.h
        shipped = configparser.RawConfigParser(inline_comment_prefixes=None)
        shipped.optionxform = str
        shipped.read(SHIPPED)
        program = dict(shipped["program:portsyncd"])
        # The shipped command as it is, but for where things live: the runtime directory and
        # the API socket under the test's directory, the test's database config (SONiC mounts it
        # at the default path), inside the test's namespace, logging at INFO.
        args = program["command"].split()
        self.assertEqual(args[0], "/usr/bin/portsyncd")
        options = dict(zip(args[1::2], args[2::2]))
        self.assertEqual(set(options), {"--runtime-dir", "--socket"})
        self.assertEqual(options["--socket"], "/var/run/redis/portsyncd.sock")
        options["--runtime-dir"] = h.runtime_dir
        options["--socket"] = self.api_sock
        program["command"] = " ".join(
            [shutil.which("ip"), "netns", "exec", h.ns.sw,
             os.path.abspath(shutil.which(PORTSYNCD) or PORTSYNCD)]
            + [x for kv in options.items() for x in kv]
            + ["--db-config", h.db_config, "--log-level", "INFO"])
        program.pop("stdout_syslog")
        program.pop("stderr_syslog")
        program["redirect_stderr"] = "true"
        program["stdout_logfile"] = self.program_log
        self.program = program
        with open(self.conf, "w") as f:
            f.write(f"[supervisord]\nlogfile={h.dir}/supervisord.log\npidfile={h.dir}/supervisord.pid\n"
                    f"childlogdir={h.dir}\nuser=root\n\n"
                    f"[unix_http_server]\nfile={self.sock}\nchmod=0700\n\n"
                    f"[supervisorctl]\nserverurl=unix://{self.sock}\n\n"
                    "[rpcinterface:supervisor]\n"
                    "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n"
                    "[program:portsyncd]\n" + "".join(f"{k}={v}\n" for k, v in program.items()))

    def stop_supervisord(self):
        # supervisord stops its programs (SIGTERM, stopwaitsecs) before it exits.
        if self.supervisord.poll() is None:
            self.supervisord.send_signal(signal.SIGTERM)
            try:
                self.supervisord.wait(20)
            except subprocess.TimeoutExpired:
                self.supervisord.kill()
                self.supervisord.wait()

    def ctl(self, *args):
        return run("supervisorctl", "-c", self.conf, *args, check=False).stdout

    def pid(self):
        """The program's PID when RUNNING, else None."""
        status = self.ctl("status", "portsyncd")
        m = re.search(r"RUNNING\s+pid (\d+)", status)
        return int(m.group(1)) if m else None

    def start_program(self):
        # autostart=false, as shipped: SONiC's swss start script starts the programs in order.
        wait_until(lambda: os.path.exists(self.sock), what="supervisord's control socket")
        self.assertIn("started", self.ctl("start", "portsyncd"))

    def log(self):
        with open(self.program_log) as f:
            return f.read()

    def test_sigkill_is_restarted_without_taking_ports_down(self):
        h = self.h
        self.assertEqual(self.program["autorestart"], "true")
        h.configure_ports(PORTS, appl=False)
        self.start_program()
        pid = wait_until(self.pid, what="supervisord to start portsyncd")
        wait_until(lambda: "startup: cold start" in self.log(), what="cold start")
        wait_until(lambda: all(h.appl.exists(f"PORT_TABLE:{p}") for p in PORTS),
                   what="orchagent to consume the ports")
        h.ns.add_ports(PORTS)
        h.wait_converged()
        os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
        # Meanwhile the kernel changes: a cable pulled.
        h.ns.wire_ip("link", "set", "w4", "down")
        new_pid = wait_until(lambda: (p := self.pid()) and p != pid and p, timeout=15,
                             what="supervisord to restart portsyncd")
        wait_until(lambda: self.log().count("start rule: ") == 2, what="the second start's rule")
        self.assertIn("start rule: restart of portsyncd alone", self.log())
        h.wait_converged()
        print(f"\n[supervisord] SIGKILL -> restarted as pid {new_pid}, STATE_DB converged "
              f"{time.monotonic() - killed:.3f}s after the kill", flush=True)
        links = h.ns.links()
        self.assertEqual({p: "UP" in links[p]["flags"] for p in PORTS}, {p: True for p in PORTS})
        self.assertEqual(h.state.hget("PORT_TABLE|Ethernet4", "netdev_oper_status"), "down")
        # The API answers on the socket the program section names.
        out = run(os.environ.get("PORTSYNCCTL", "portsyncctl"), "--target",
                  f"unix:{self.api_sock}", "ports", check=False)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("Ethernet4", out.stdout)

    def test_swss_restart_through_supervisorctl_is_cold(self):
        h = self.h
        h.configure_ports(PORTS, appl=False)
        self.start_program()
        wait_until(lambda: "startup: cold start" in self.log(), what="cold start")
        wait_until(lambda: all(h.appl.exists(f"PORT_TABLE:{p}") for p in PORTS),
                   what="orchagent to consume the ports")
        h.ns.add_ports(PORTS)
        h.wait_converged()
        # systemctl restart swss: the programs stop, swss.sh flushes, the programs start.
        self.assertIn("stopped", self.ctl("stop", "portsyncd"))
        self.assertIn("portsyncd stopped; counters", self.log())  # SIGTERM: a clean exit
        swss_flush(h)
        for p in PORTS:
            h.ns.ip("link", "del", p)
        self.assertIn("started", self.ctl("start", "portsyncd"))
        wait_until(lambda: self.log().count("start rule: ") == 2, what="the second start's rule")
        self.assertIn("start rule: cold start: no PortConfigDone", self.log())
        wait_until(lambda: all(h.appl.exists(f"PORT_TABLE:{p}") for p in PORTS),
                   what="the ports published again")
        h.ns.add_ports(PORTS)
        h.wait_converged()


if __name__ == "__main__":
    unittest.main()
