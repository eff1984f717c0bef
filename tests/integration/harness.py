"""Test harness for portsyncd integration tests: real kernel namespaces, a real redis-server on a
unix socket, the real daemon.

Everything a test starts is recorded and stopped by PID in Harness.close(), which runs from
tearDown, from atexit and on SIGTERM/SIGINT, so a failing or interrupted test cleans up too.
Names carry the PID and a counter, so two runs cannot collide. Nothing outside the namespaces
and temp directories the harness created is touched.
"""

import atexit
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import redis

PORTSYNCD = os.environ.get("PORTSYNCD", "portsyncd")
APPL_DB, CONFIG_DB, STATE_DB = 0, 4, 6
PORT_PREFIXES = ("Ethernet", "PortChannel")

_counter = itertools.count()
_live = []  # harnesses not yet closed


def _close_all(*_):
    for h in list(_live):
        h.close()


atexit.register(_close_all)
for _sig in (signal.SIGTERM, signal.SIGINT):
    signal.signal(_sig, lambda s, f: (_close_all(), os._exit(128 + s)))


def run(*args, check=True, **kw):
    return subprocess.run(args, check=check, capture_output=True, text=True, **kw)


def wait_until(predicate, timeout=10.0, interval=0.02, what="condition"):
    """Polls predicate() until it returns a truthy value; returns it or raises AssertionError."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")


class Redis:
    """A private redis-server on a unix socket in `workdir`, no persistence."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.socket = os.path.join(workdir, "redis.sock")
        self.proc = None

    def start(self, extra=(), netns=None):
        """Starts redis-server; with `netns`, inside that namespace (for TCP on its loopback;
        the unix socket stays reachable from the test)."""
        self.log = open(os.path.join(self.workdir, "redis.log"), "a")
        prefix = ["ip", "netns", "exec", netns] if netns else []
        self.proc = subprocess.Popen(
            [*prefix, "redis-server", "--port", "0", "--unixsocket", self.socket, "--unixsocketperm", "700",
             "--save", "", "--appendonly", "no", "--dir", self.workdir, "--databases", "16",
             *extra],
            stdout=self.log, stderr=subprocess.STDOUT)
        wait_until(lambda: self._ping(), timeout=10, what="redis-server to answer PING")

    def _ping(self):
        client = self.client(0)
        try:
            return client.ping()
        except (redis.exceptions.ConnectionError, FileNotFoundError):
            return False
        finally:
            client.close()

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
            self.log.close()
        self.proc = None
        if os.path.exists(self.socket):
            os.unlink(self.socket)

    def client(self, db):
        return redis.Redis(unix_socket_path=self.socket, db=db, decode_responses=True,
                           socket_timeout=5)


class Namespaces:
    """A "switch" namespace holding EthernetN veths, and a "wire" namespace holding their peers."""

    def __init__(self, tag):
        self.sw = f"psd-sw-{tag}"
        self.wire = f"psd-wi-{tag}"
        for ns in (self.sw, self.wire):
            run("ip", "netns", "add", ns)
            # IPv6 makes every link change cost O(interfaces); tests do not need it.
            for key in ("all", "default"):
                run("ip", "netns", "exec", ns, "sysctl", "-qw",
                    f"net.ipv6.conf.{key}.disable_ipv6=1")
            run("ip", "-n", ns, "link", "set", "lo", "up")
        # A spare device so peer ifindexes differ from ours: carrier changes then skip linkwatch's
        # slow path (docs/PERFORMANCE.md, "Kernel facts behind the method").
        run("ip", "-n", self.wire, "link", "add", "pad0", "type", "ifb")

    def ip(self, *args, check=True):
        return run("ip", "-n", self.sw, *args, check=check)

    def sysfs_net(self, port, attribute):
        """/sys/class/net/<port>/<attribute> as the switch namespace sees it."""
        return run("ip", "netns", "exec", self.sw, "cat",
                   f"/sys/class/net/{port}/{attribute}").stdout.strip()

    def wire_ip(self, *args, check=True):
        return run("ip", "-n", self.wire, *args, check=check)

    def add_ports(self, names):
        """Creates many EthernetN veth pairs, all up, in two `ip -batch` runs."""
        self.batch([f"link add {p} type veth peer name w{p[8:]} netns {self.wire}" for p in names]
                   + [f"link set {p} up" for p in names])
        self.batch([f"link set w{p[8:]} up" for p in names], wire=True)

    def add_port(self, name, peer=None, up=True, peer_up=True, mtu=None):
        peer = peer or "w" + name[len("Ethernet"):] if name.startswith("Ethernet") else "w" + name
        self.ip("link", "add", name, *(["mtu", str(mtu)] if mtu else []), "type", "veth",
                "peer", "name", peer, "netns", self.wire)
        if peer_up:
            self.wire_ip("link", "set", peer, "up")
        if up:
            self.ip("link", "set", name, "up")
        return peer

    def batch(self, commands, wire=False):
        """Runs many ip commands in one process (ip -batch)."""
        subprocess.run(["ip", "-n", self.wire if wire else self.sw, "-batch", "-"],
                       input="\n".join(commands) + "\n", text=True, check=True,
                       capture_output=True, timeout=120)

    def links(self):
        """{name: link} from `ip -j -d link` in the switch namespace."""
        return {link["ifname"]: link
                for link in json.loads(self.ip("-j", "-d", "link", "show").stdout)}

    def close(self):
        for ns in (self.sw, self.wire):
            run("ip", "netns", "del", ns, check=False)


class Daemon:
    def __init__(self, harness, extra_args=(), config=None, env=None, log_level="INFO"):
        self.h = harness
        self.log_level = log_level
        self.extra_args = list(extra_args)
        self.config = config
        self.env = env
        self.proc = None
        self.log_path = os.path.join(harness.dir, f"portsyncd.{next(_counter)}.log")

    def start(self):
        db = ["--db-config", self.h.db_config] if self.h.db_config else []
        args = ["ip", "netns", "exec", self.h.ns.sw, PORTSYNCD, *db,
                "--runtime-dir", self.h.runtime_dir, *self.extra_args]
        if self.log_level:
            args += ["--log-level", self.log_level]
        if self.config:
            args += ["--config", self.config]
        self.log = open(self.log_path, "a")
        # `ip netns exec` execs the daemon, so proc.pid is the daemon's PID.
        env = {**os.environ, **self.env} if self.env else None
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if not self.running():
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
            self.log.close()
            return code
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"portsyncd did not exit within {timeout}s of signal {sig}")

    def counters(self):
        """The counters from the daemon's exit line, as {name: int}."""
        for line in self.output().splitlines():
            if "counters: " in line:
                return {k: int(v) for k, v in
                        (kv.split("=") for kv in line.split("counters: ", 1)[1].split())}
        raise AssertionError("no counters line in the daemon's output:\n" + self.output())

    def output(self):
        with open(self.log_path) as f:
            return f.read()

    @property
    def socket(self):
        return os.path.join(self.h.runtime_dir, "portsyncd.sock")

    def token(self):
        with open(os.path.join(self.h.runtime_dir, "reload.token")) as f:
            return f.read().strip()

    def wait_log(self, text, timeout=10):
        wait_until(lambda: text in self.output(), timeout=timeout, what=f"log line {text!r}")


class Harness:
    """redis=False: a host with no SONiC database (no redis-server, no database_config.json;
    daemons then get no --db-config)."""

    def __init__(self, name="t", redis=True):
        self.tag = f"{os.getpid()}-{next(_counter)}"
        self.dir = tempfile.mkdtemp(prefix=f"portsyncd-{name}-")
        self.runtime_dir = os.path.join(self.dir, "run")
        self.daemons = []
        self.storms = []  # storm_in_background threads
        self.redis = Redis(self.dir) if redis else None
        self.ns = None
        self.appl = self.config = self.state = None
        self.db_config = None
        _live.append(self)
        if redis:
            self.db_config = os.path.join(self.dir, "database_config.json")
            self.write_db_config()
            self.redis.start()
        self.ns = Namespaces(self.tag)
        if redis:
            self.appl, self.config, self.state = (self.redis.client(d) for d in
                                                  (APPL_DB, CONFIG_DB, STATE_DB))

    def storm(self, ports, rounds, first_round=0):
        """Flaps every port `rounds` times: admin down/up in the switch namespace, cable
        pulls in the wire namespace, and MTU changes, in a few `ip -batch` runs. Rounds are
        numbered from `first_round` (a storm in two parts continues where the first stopped)."""
        sw, wire = [], []
        for r in range(first_round, first_round + rounds):
            for i, p in enumerate(ports):
                peer = "w" + p[len("Ethernet"):]
                sw.append(f"link set {p} {'down' if r % 2 == 0 else 'up'}")
                wire.append(f"link set {peer} {'down' if (r + i) % 2 == 0 else 'up'}")
                sw.append(f"link set {p} mtu {1500 + (r * 7 + i) % 500}")
        self.ns.batch(sw)
        self.ns.batch(wire, wire=True)

    def write_config(self, text):
        """Writes a portsyncd config file into the test's directory; returns its path."""
        path = os.path.join(self.dir, f"portsyncd.{next(_counter)}.conf")
        with open(path, "w") as f:
            f.write(text)
        return path

    def write_db_config(self, **overrides):
        doc = {
            "INSTANCES": {"redis": {"hostname": "127.0.0.1", "port": 6379,
                                    "unix_socket_path": self.redis.socket}},
            "DATABASES": {
                "APPL_DB": {"id": APPL_DB, "separator": ":", "instance": "redis"},
                "CONFIG_DB": {"id": CONFIG_DB, "separator": "|", "instance": "redis"},
                "STATE_DB": {"id": STATE_DB, "separator": "|", "instance": "redis"},
            },
            "VERSION": "1.0",
        }
        doc.update(overrides)
        with open(self.db_config, "w") as f:
            json.dump(doc, f)

    def daemon(self, *extra_args, config=None, env=None, log_level="INFO", start=True):
        d = Daemon(self, extra_args, config, env, log_level)
        self.daemons.append(d)
        return d.start() if start else d

    def start_converged(self, ports, configured=None, **daemon_kwargs):
        """The usual opening: `configured` (default `ports`) in CONFIG_DB and APPL_DB, the
        daemon started cold, then `ports` created and STATE_DB converged. Returns the daemon."""
        self.configure_ports(ports if configured is None else configured)
        d = self.daemon(**daemon_kwargs)
        d.wait_log("startup: cold start")
        self.ns.add_ports(ports)
        self.wait_converged()
        return d

    # --- playing the other SONiC daemons ---------------------------------------------------

    def configure_ports(self, names, appl=True, **fields):
        """CONFIG_DB PORT|<p> for each name; with appl=True also APPL_DB PORT_TABLE:<p>, as
        orchagent would have after consuming portsyncd's publication."""
        for n in names:
            values = {"lanes": "0", "admin_status": "up", "mtu": "9100", **fields}
            self.config.hset(f"PORT|{n}", mapping=values)
            if appl:
                self.appl.hset(f"PORT_TABLE:{n}", mapping=values)

    # --- what STATE_DB must hold ----------------------------------------------------------

    def expected_state(self, ignored=(), appl_ports=None):
        """{name: fields} STATE_DB must hold for the kernel's current links: ports passing the
        name and kind filters, known to APPL_DB (or in `appl_ports`, when given: the daemon keeps
        APPL_DB membership in memory across a Redis restart), and not in `ignored`."""
        expected = {}
        for name, link in self.ns.links().items():
            if not name.startswith(PORT_PREFIXES) or name in ignored:
                continue
            if link.get("linkinfo", {}).get("info_kind") == "team":
                continue
            if appl_ports is not None:
                if name not in appl_ports:
                    continue
            elif not self.appl.exists(f"PORT_TABLE:{name}"):
                continue
            expected[name] = {
                "state": "ok",
                "admin_status": "up" if "UP" in link.get("flags", []) else "down",
                "netdev_oper_status": "up" if running(link) else "down",
                "mtu": str(link["mtu"]),
            }
        return expected

    def actual_state(self):
        """{name: our four fields} for every STATE_DB PORT_TABLE key carrying our `state`."""
        actual = {}
        for key in self.state.scan_iter("PORT_TABLE|*"):
            h = self.state.hgetall(key)
            if "state" in h:
                actual[key.split("|", 1)[1]] = {
                    k: h.get(k) for k in ("state", "admin_status", "netdev_oper_status", "mtu")}
        return actual

    def converged(self, ignored=(), appl_ports=None):
        """True when STATE_DB equals the kernel for every port: nothing extra, nothing missing."""
        return self.expected_state(ignored, appl_ports) == self.actual_state()

    def wait_converged(self, timeout=10, ignored=(), appl_ports=None):
        """Waits until converged(); returns the seconds it took."""
        start = time.monotonic()
        try:
            wait_until(lambda: self.converged(ignored, appl_ports), timeout=timeout,
                       interval=0.02, what="STATE_DB to equal the kernel")
            return time.monotonic() - start
        except AssertionError:
            exp, act = self.expected_state(ignored, appl_ports), self.actual_state()
            diff = {n: (exp.get(n), act.get(n)) for n in set(exp) | set(act)
                    if exp.get(n) != act.get(n)}
            raise AssertionError(f"STATE_DB != kernel after {timeout}s: {len(diff)} ports differ, "
                                 f"e.g. {dict(list(diff.items())[:5])}")

    def close(self):
        if self not in _live:
            return
        _live.remove(self)
        for storm in self.storms:
            storm.resume()
        for d in self.daemons:
            if d.running():
                d.proc.kill()
                d.proc.wait()
            if d.proc is not None:
                d.log.close()
        for c in (self.appl, self.config, self.state):
            if c is not None:
                c.close()
        if self.redis:
            self.redis.kill()
        if self.ns:
            self.ns.close()
        if os.environ.get("PORTSYNCD_KEEP_LOGS"):
            print(f"logs kept in {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)



def running(link):
    """IFF_RUNNING, which `ip -j link` does not print: the kernel sets it (dev_get_flags) when the
    device is up and its operstate is UP or UNKNOWN (carrier on, not dormant)."""
    return "UP" in link.get("flags", []) and link.get("operstate") in ("UP", "UNKNOWN")


import unittest  # noqa: E402


class IntegrationTest(unittest.TestCase):
    """One Harness (namespaces + redis-server) per test, closed even when the test fails."""

    REDIS = True  # False: the test's host has no SONiC database

    def setUp(self):
        self.h = Harness(self.id().rsplit(".", 1)[-1][:20], redis=self.REDIS)
        self.addCleanup(self.h.close)
        self.addCleanup(self._print_logs_if_failed)  # runs first: cleanups are LIFO

    def _print_logs_if_failed(self):
        """A failed test prints the end of each daemon's log: a CI run keeps no files."""
        result = getattr(getattr(self, "_outcome", None), "result", None)
        if result is None or not any(t is self for t, _ in result.failures + result.errors):
            return
        for d in self.h.daemons:
            try:
                lines = d.output().splitlines()
            except OSError:
                continue
            sys.stderr.write(f"--- last {min(len(lines), 60)} lines of {d.log_path}\n")
            sys.stderr.write("\n".join(lines[-60:]) + "\n")

    def stop_clean(self, daemon):
        self.assertEqual(daemon.stop(), 0, daemon.output())


# --- Helpers for the hardening tests (test_faults, test_hostile_grpc, test_privilege) ----------

def proc_status(pid):
    """/proc/<pid>/status as {field: value string}."""
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def rss_kib(pid):
    """The process's resident set size in KiB (VmRSS)."""
    return int(proc_status(pid)["VmRSS"].split()[0])


class RssSampler:
    """Samples a process's VmRSS every `interval` seconds in a thread, between start() and
    stop(); `peak` is the largest sample (KiB), `baseline` the first."""

    def __init__(self, pid, interval=0.01):
        import threading
        self.pid, self.interval = pid, interval
        self.baseline = self.peak = rss_kib(pid)
        self.samples = 1
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.wait(self.interval):
            try:
                rss = rss_kib(self.pid)
            except (FileNotFoundError, ProcessLookupError, KeyError):
                return  # the process is gone: the test's own liveness check says so
            self.peak = max(self.peak, rss)
            self.samples += 1

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join()
        return self.peak


class WrappedDaemon(Daemon):
    """A daemon started through a wrapper inside the namespace, e.g. setpriv: `ip netns exec NS
    WRAPPER... PORTSYNCD ARGS`. The wrapper must exec the daemon, so proc.pid stays the daemon's
    PID. Executables are named by absolute path, so the daemon can run with any PATH."""

    def __init__(self, harness, wrapper, extra_args=(), config=None, env=None, log_level="INFO"):
        super().__init__(harness, extra_args, config, env, log_level)
        self.wrapper = list(wrapper)

    def start(self):
        args = [shutil.which("ip"), "netns", "exec", self.h.ns.sw, *self.wrapper,
                os.path.abspath(shutil.which(PORTSYNCD) or PORTSYNCD),
                "--db-config", self.h.db_config, "--runtime-dir", self.h.runtime_dir,
                *self.extra_args]
        if self.log_level:
            args += ["--log-level", self.log_level]
        if self.config:
            args += ["--config", self.config]
        self.log = open(self.log_path, "a")
        env = {**os.environ, **self.env} if self.env else None
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        return self


def wrapped_daemon(harness, wrapper, *extra_args, config=None, env=None, log_level="INFO",
                   start=True):
    """Like Harness.daemon(), through `wrapper` (see WrappedDaemon); stopped by Harness.close()."""
    d = WrappedDaemon(harness, wrapper, extra_args, config, env, log_level)
    harness.daemons.append(d)
    return d.start() if start else d


def start_redis_seeded(harness, seed, extra=()):
    """Starts the harness's redis-server so that it becomes reachable at its usual socket path
    only once `seed(client_for_db)` has filled it: redis-server listens on a side path first,
    is seeded there, and the socket is then renamed into place (a unix socket is found by its
    inode, so the rename is atomic for clients). Returns time.monotonic() at the rename: the
    moment Redis became reachable for the daemon."""
    redis_ = harness.redis
    final = redis_.socket
    redis_.socket = final + ".seeding"
    try:
        redis_.start(extra=extra)
        clients = {}

        def client(db):
            if db not in clients:
                clients[db] = redis_.client(db)
            return clients[db]
        seed(client)
        for c in clients.values():
            c.close()
    finally:
        seeding, redis_.socket = redis_.socket, final
    os.rename(seeding, final)
    return time.monotonic()


def storm_in_background(harness, ports, rounds, fault_at=None):
    """Harness.storm in a thread, started; its join() re-raises what the storm raised (an `ip`
    command that failed), so a broken storm fails the test instead of printing a traceback.

    With `fault_at=k` the storm stops after round k until the test calls resume(): a fault the
    test injects after wait_midway() is mid-storm by construction, with rounds before and after
    it, whatever the machine's speed:
        storm = storm_in_background(h, ports, 60, fault_at=30)
        storm.wait_midway(); h.redis.kill(); storm.resume(); storm.join()"""
    import threading

    class Storm(threading.Thread):
        error = None
        midway = threading.Event()
        resumed = threading.Event()

        def __init__(self):
            # A daemon thread: a test that fails before resume() cannot keep the run alive.
            super().__init__(daemon=True)

        def run(self):
            try:
                if fault_at is None:
                    harness.storm(ports, rounds)
                    return
                harness.storm(ports, fault_at)
                self.midway.set()
                if not self.resumed.wait(120):
                    raise AssertionError("the test never resumed the storm")
                harness.storm(ports, rounds - fault_at, first_round=fault_at)
            except BaseException as e:  # noqa: B902 - handed to join()
                self.error = e
                self.midway.set()

        def wait_midway(self):
            if not self.midway.wait(60):
                raise AssertionError("the storm never reached its midpoint")
            if self.error is not None:
                raise self.error

        def resume(self):
            self.resumed.set()

        def join(self, timeout=180):
            super().join(timeout)
            if self.is_alive():
                raise AssertionError(f"the storm did not end within {timeout}s")
            if self.error is not None:
                raise self.error

    thread = Storm()
    harness.storms.append(thread)  # Harness.close() resumes it, so it never waits in vain
    thread.start()
    return thread


class Orchagent:
    """Plays SONiC's orchagent for APPL_DB PORT_TABLE: consumes what portsyncd publishes
    through the ProducerStateTable protocol (PORT_TABLE_KEY_SET + `_PORT_TABLE:<key>`) into
    `PORT_TABLE:<key>`, as orchagent's ConsumerStateTable does, from a thread. Use as a context
    manager, or start()/stop()."""

    def __init__(self, harness, interval=0.01):
        import threading
        self.h = harness
        self.interval = interval
        self.consumed = []  # keys, in the order they were consumed
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.error = None

    def _run(self):
        client = self.h.redis.client(APPL_DB)
        try:
            while not self._stop.wait(self.interval):
                try:
                    for key in sorted(client.smembers("PORT_TABLE_KEY_SET")):
                        fields = client.hgetall(f"_PORT_TABLE:{key}")
                        pipe = client.pipeline(transaction=True)
                        pipe.srem("PORT_TABLE_KEY_SET", key)
                        pipe.delete(f"_PORT_TABLE:{key}")
                        if fields:
                            pipe.hset(f"PORT_TABLE:{key}", mapping=fields)
                        pipe.execute()
                        self.consumed.append(key)
                except (redis.exceptions.ConnectionError, FileNotFoundError):
                    continue  # Redis restarting: so does orchagent's consumer
        except BaseException as e:  # noqa: B902 - reported by stop()
            self.error = e
        finally:
            client.close()

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join()
        if self.error is not None:
            raise self.error

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def swss_flush(harness):
    """What SONiC's swss.sh does before every non-warm start of swss (restart, config reload,
    boot): APPL_DB FLUSHDB, and STATE_DB PORT_TABLE* deleted."""
    harness.appl.flushdb()
    keys = list(harness.state.scan_iter("PORT_TABLE*"))
    if keys:
        harness.state.delete(*keys)
