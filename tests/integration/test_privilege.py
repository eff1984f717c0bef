"""Least privilege (hardening): the daemon as an unprivileged user holding CAP_NET_ADMIN only,
as deploy/portsyncd.service runs it; who may use its socket; and no shell-outs anywhere.

The daemon runs as `nobody` (an existing unprivileged account; no user is created) through
setpriv (util-linux), inside the test's namespace. The other API user is a numeric uid/gid that
no account uses (setpriv needs no passwd entry), so nothing on the machine is changed. Everything
they touch is the test's own: its temporary directory (made traversable, not listable, by
others), its runtime directory (owned by the daemon's user, as systemd's RuntimeDirectory= with
User= makes it), its Redis socket (group-owned by the daemon's group, mode 0770).
"""

import grp
import os
import pwd
import re
import shutil
import subprocess
import sys
import time
import unittest

import grpc

import api
from api import pb
from harness import IntegrationTest, proc_status, wrapped_daemon

PORTSYNCCTL = os.environ.get("PORTSYNCCTL", "portsyncctl")
PORTS = [f"Ethernet{i * 4}" for i in range(16)]
OLD = ["Ethernet96", "Ethernet100"]  # exist before a cold start: set admin down
CAP_NET_ADMIN = 1 << 12
SETPRIV = shutil.which("setpriv")
SOURCES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def nobody():
    entry = pwd.getpwnam("nobody")
    return entry.pw_uid, entry.pw_gid


def unused_id():
    """A uid (and the same gid) that no account and no group uses."""
    for n in range(61000, 62000):
        try:
            pwd.getpwuid(n)
            continue
        except KeyError:
            pass
        try:
            grp.getgrgid(n)
            continue
        except KeyError:
            return n
    raise AssertionError("no unused uid in 61000..61999")


def as_user(uid, gid, groups=(), caps=None):
    """setpriv arguments: the given ids, no other groups unless `groups`, and either no
    capabilities at all or exactly `caps` (e.g. "net_admin") in every set, ambient included so
    they survive the exec as a non-root user."""
    args = [SETPRIV, f"--reuid={uid}", f"--regid={gid}"]
    args += [f"--groups={','.join(map(str, groups))}"] if groups else ["--clear-groups"]
    if caps:
        args += [f"--inh-caps=-all,+{caps}", f"--ambient-caps=-all,+{caps}",
                 f"--bounding-set=-all,+{caps}"]
    else:
        args += ["--inh-caps=-all", "--bounding-set=-all"]
    return args + ["--"]


@unittest.skipUnless(SETPRIV, "setpriv (util-linux) is needed")
class PrivilegeTest(IntegrationTest):
    def setUp(self):
        super().setUp()
        h = self.h
        self.uid, self.gid = nobody()
        # Others may traverse the test's directory (to reach the sockets), not list it.
        os.chmod(h.dir, 0o711)
        os.chmod(h.db_config, 0o644)
        # Redis reachable by the daemon's group only.
        h.redis.kill()
        h.redis.start(extra=["--unixsocketperm", "770"])
        os.chown(h.redis.socket, 0, self.gid)
        os.makedirs(h.runtime_dir)
        os.chown(h.runtime_dir, self.uid, self.gid)
        os.chmod(h.runtime_dir, 0o755)

    def start_unprivileged(self, caps="net_admin", config=None):
        h = self.h
        h.configure_ports(PORTS)
        for p in OLD:
            h.ns.add_port(p)
        # An empty PATH: nothing the daemon does may depend on finding a program to run.
        d = wrapped_daemon(h, as_user(self.uid, self.gid, caps=caps), config=config,
                           env={"PATH": "/nonexistent"})
        d.wait_log("startup: cold start")
        return d

    def test_a_redis_socket_it_may_not_open_is_named_with_the_fix_then_waited_for(self):
        # Debian's redis-server makes its socket 0700 redis:redis: the daemon's user is not
        # let in. The error says what the socket needs; once it is fixed the daemon starts.
        h = self.h
        os.chown(h.redis.socket, 0, 0)
        h.configure_ports(PORTS[:2])
        d = wrapped_daemon(h, as_user(self.uid, self.gid, caps="net_admin"))
        d.wait_log("startup: waiting for Redis")
        out = d.output()
        self.assertIn(f"cannot connect to CONFIG_DB (unix:{h.redis.socket} db 4): Permission denied", out)
        self.assertIn("unixsocketperm 770", out)
        os.chown(h.redis.socket, 0, self.gid)
        d.wait_log("startup: cold start", timeout=5)
        self.stop_clean(d)

    def test_runs_as_nobody_with_only_cap_net_admin(self):
        h = self.h
        d = self.start_unprivileged()
        status = proc_status(d.proc.pid)
        print(f"daemon {d.proc.pid}: Uid {status['Uid']}, Gid {status['Gid']}, "
              f"CapEff {status['CapEff']}, CapBnd {status['CapBnd']}, CapAmb {status['CapAmb']}")
        self.assertEqual(status["Uid"].split(), [str(self.uid)] * 4)
        self.assertEqual(status["Gid"].split(), [str(self.gid)] * 4)
        self.assertNotEqual(self.uid, 0)
        self.assertEqual(status["Groups"].strip(), "")
        for caps in ("CapEff", "CapPrm", "CapBnd"):
            self.assertEqual(int(status[caps], 16), CAP_NET_ADMIN, caps)
        # SO_RCVBUFFORCE needs CAP_NET_ADMIN: the 16 MiB asked for is granted (32 MiB in
        # effect), past net.core.rmem_max.
        self.assertIn("(SO_RCVBUFFORCE)", d.output())
        channel, stub = api.connect(d.socket)  # root may connect to any socket
        self.addCleanup(channel.close)
        netlink = next(c for c in api.health(stub).components if c.name == "netlink")
        self.assertIn("receive buffer 33554432 bytes", netlink.message)
        # Old interfaces set admin down (COMPATIBILITY.md 2 step 6) over netlink: CAP_NET_ADMIN.
        self.assertIn("2 old interfaces set down", d.output())
        self.assertNotIn("cannot set admin down", d.output())
        links = h.ns.links()
        for p in OLD:
            self.assertNotIn("UP", links[p]["flags"], p)
        # Events and convergence.
        h.ns.add_ports(PORTS)
        first = h.wait_converged(ignored=set(OLD))
        h.storm(PORTS, 20)
        h.ns.ip("link", "del", "Ethernet4")
        took = h.wait_converged(ignored=set(OLD))
        print(f"as uid {self.uid} with CAP_NET_ADMIN only: {len(PORTS)} ports converged "
              f"{first:.3f}s after creation, {took:.3f}s after a storm and a deletion")
        self.assertFalse(h.state.exists("PORT_TABLE|Ethernet4"))
        # What it wrote in its runtime directory is its own; the token is private.
        for name, mode in (("portsyncd.sock", 0o660), ("reload.token", 0o600),
                           ("portsyncd.started", None)):
            st = os.stat(os.path.join(h.runtime_dir, name))
            self.assertEqual((st.st_uid, st.st_gid), (self.uid, self.gid), name)
            if mode is not None:
                self.assertEqual(st.st_mode & 0o777, mode, name)
        self.stop_clean(d)

    def test_without_cap_net_admin_it_runs_and_says_what_it_could_not_do(self):
        # The control for the test above: the same start without the capability. Netlink
        # events and STATE_DB still work; the buffer falls back to SO_RCVBUF and the old
        # interfaces cannot be set down, and the log says both.
        h = self.h
        d = self.start_unprivileged(caps=None)
        self.assertEqual(int(proc_status(d.proc.pid)["CapEff"], 16), 0)
        out = d.output()
        self.assertIn("(SO_RCVBUF, capped by net.core.rmem_max)", out)
        for p in OLD:
            self.assertRegex(out, rf"old interface {p} \(ifindex \d+\): cannot set admin down")
        links = h.ns.links()
        for p in OLD:
            self.assertIn("UP", links[p]["flags"], p)
        h.ns.add_ports(PORTS)
        took = h.wait_converged(ignored=set(OLD))
        print(f"without CAP_NET_ADMIN: converged {took:.3f}s; old interfaces left up, logged")
        self.stop_clean(d)

    def ctl(self, uid, gid, *args, groups=()):
        return subprocess.run(as_user(uid, gid, groups=groups)
                              + [os.path.abspath(shutil.which(PORTSYNCCTL) or PORTSYNCCTL),
                                 "--target", f"unix:{self.d.socket}", "--timeout", "3", *args],
                              capture_output=True, text=True, timeout=20)

    def start_for_clients(self):
        h = self.h
        conf = h.write_config('log_level = "INFO"\n')  # Reload re-reads it
        os.chmod(conf, 0o644)
        self.d = self.start_unprivileged(config=conf)
        h.ns.add_ports(PORTS)
        h.wait_converged(ignored=set(OLD))
        return self.d, unused_id()

    def test_another_user_without_the_group_is_refused_with_a_clear_error(self):
        # The socket refuses the connection at once (connect(2): EACCES): portsyncctl must say
        # so at once (it probes the socket before gRPC's WaitForConnected, which would wait out
        # --timeout and then blame a daemon that is running).
        h = self.h
        d, other = self.start_for_clients()
        # What the kernel says to that user: EACCES at connect(2), right away.
        probe = subprocess.run(
            as_user(other, other) + [sys.executable, "-c",
                                     "import socket, sys\n"
                                     "s = socket.socket(socket.AF_UNIX)\n"
                                     "try:\n s.connect(sys.argv[1])\n"
                                     "except OSError as e:\n print(e.strerror)",
                                     d.socket], capture_output=True, text=True, timeout=20)
        self.assertEqual(probe.stdout.strip(), "Permission denied", probe.stderr)
        start = time.monotonic()
        r = self.ctl(other, other, "ports")
        elapsed = time.monotonic() - start
        print(f"uid {other} without the daemon's group: exit {r.returncode} after "
              f"{elapsed:.2f}s: {r.stderr.strip()}")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertEqual(r.stdout, "")
        self.assertIn(f"unix:{d.socket}", r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1)
        self.assertTrue(d.running())
        h.wait_converged(ignored=set(OLD))
        self.assertRegex(r.stderr, re.compile("permission denied", re.I),
                         "the cause (permission denied) must be said")
        self.assertLess(elapsed, 2.0, "a refused connection is not a timeout")

    def test_group_members_read_and_reload_needs_the_token(self):
        h = self.h
        d, other = self.start_for_clients()
        # In the daemon's group: the read-only RPCs work.
        r = self.ctl(other, other, "ports", groups=[self.gid])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([line.split()[0] for line in r.stdout.splitlines()[1:]], PORTS)
        r = self.ctl(other, other, "health", groups=[self.gid])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("SERVING (cold start", r.stdout)
        # Reload: the token file is the daemon user's, 0600: the other user cannot read it.
        r = self.ctl(other, other, "--token-file", os.path.join(h.runtime_dir, "reload.token"),
                     "reload", groups=[self.gid])
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot read the reload token", r.stderr)
        self.assertIn("Permission denied", r.stderr)
        # A token of its own making is refused by the daemon: PERMISSION_DENIED.
        mine = os.path.join(h.dir, "other.token")
        with open(mine, "w") as f:
            f.write("f" * 64 + "\n")
        os.chown(mine, other, other)
        os.chmod(mine, 0o600)
        r = self.ctl(other, other, "--token-file", mine, "reload", groups=[self.gid])
        self.assertEqual(r.returncode, 1)
        self.assertIn("portsyncctl: not authorized", r.stderr)
        # No token at all (Python client, as root, who can reach the socket): PERMISSION_DENIED.
        channel, stub = api.connect(d.socket)
        self.addCleanup(channel.close)
        with self.assertRaises(grpc.RpcError) as e:
            stub.Reload(pb.ReloadRequest(), timeout=5)
        self.assertEqual(e.exception.code(), grpc.StatusCode.PERMISSION_DENIED)
        # The real token, handed to the other user: the reload is done.
        with open(mine, "w") as f:
            f.write(d.token() + "\n")
        r = self.ctl(other, other, "--token-file", mine, "reload", groups=[self.gid])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("reloaded: config version", r.stdout)
        # Logged, at most once a second (a flood of refused calls cannot flood the log).
        self.assertIn(d.output().count("Reload refused"), (1, 2))
        took = h.wait_converged(ignored=set(OLD))
        print(f"uid {other} in the daemon's group: reads work; reload refused without the "
              f"token (twice), done with it; converged {took:.3f}s")
        self.stop_clean(d)


class NoShellOutTest(unittest.TestCase):
    # Upstream forks `ip link set ... down`; ours must not run programs at all (COMPATIBILITY.md
    # 7.6), and a daemon holding CAP_NET_ADMIN must not exec anything.
    CALLS = re.compile(r"\b(system|popen|fork|vfork|clone|clone3|execl|execlp|execle|execv|"
                       r"execvp|execvpe|execve|execveat|fexecve|posix_spawnp?|wordexp)\s*\(")
    IMPORTS = {"system", "popen", "fork", "vfork", "clone", "clone3", "execl", "execlp", "execle",
               "execv", "execvp", "execvpe", "execve", "execveat", "fexecve", "posix_spawn",
               "posix_spawnp", "wordexp"}

    def test_no_process_creation_in_the_sources(self):
        found = []
        for folder in ("core", "server", "client"):
            for root, _, files in os.walk(os.path.join(SOURCES, folder)):
                for name in files:
                    if not name.endswith((".cc", ".h", ".cpp", ".hpp")):
                        continue
                    path = os.path.join(root, name)
                    with open(path, errors="replace") as f:
                        for number, line in enumerate(f, 1):
                            code = line.split("//", 1)[0]
                            if self.CALLS.search(code):
                                found.append(f"{os.path.relpath(path, SOURCES)}:{number}: "
                                             f"{line.strip()}")
        self.assertEqual(found, [], "process creation in the sources")

    @unittest.skipUnless(shutil.which("nm"), "nm (binutils) is needed")
    def test_no_process_creation_imported_by_the_binaries(self):
        for binary in (os.environ.get("PORTSYNCD", "portsyncd"), PORTSYNCCTL):
            path = shutil.which(binary) or binary
            out = subprocess.run(["nm", "-D", "--undefined-only", path], capture_output=True,
                                 text=True, check=True).stdout
            imported = {line.split()[-1].split("@")[0] for line in out.splitlines() if line.split()}
            self.assertTrue(imported, f"nm found no dynamic imports in {path}")
            self.assertEqual(imported & self.IMPORTS, set(), path)


if __name__ == "__main__":
    unittest.main()
