#!/usr/bin/python3
"""End-to-end benchmark of a portsyncd on the real kernel and a real Redis, side by side with the
floor probe (the least work any portsyncd could do), in the same run.

    bench/run.py [--daemon 'CMD {db_config} ...'] [--scenarios ...] [--ports 64,1024,4096]

For every scenario and port count it builds a fresh world: a private redis-server on a unix
socket, a SONiC database_config.json, CONFIG_DB PORT|<p> and APPL_DB PORT_TABLE:<p> for N ports
(it plays orchagent), a "switch" namespace holding Ethernet<i> and a "wire" namespace holding the
veth peers w<i>. It starts the daemon under test in the switch namespace from the command template,
runs the scenario with psbench (native generators and probes), then does the same with the floor
probe in place of the daemon, and tears everything down with `ip netns del`.

Template placeholders: {db_config} {runtime_dir} {socket} (gRPC unix socket) {config} (a TOML
file the harness writes for portsyncd; ignore it for other daemons) {redis_socket}.

Output: a table on stdout, and in --out (default bench/results/<label>-<time>/): results.json
(every run, with the machine and the command), summary.md, and PNG plots.
See docs/PERFORMANCE.md for the method and the figures.
"""

import argparse
import datetime
import itertools
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import redis

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BUILD = os.environ.get("PORTSYNCD_BUILD", os.path.join(ROOT, "build"))
APPL_DB, CONFIG_DB, STATE_DB = 0, 4, 6
DEFAULT_DAEMON = (os.path.join(BUILD, "server", "portsyncd") +
                  " --db-config {db_config} --runtime-dir {runtime_dir} --config {config}"
                  " --log-level NOTICE")
SCENARIOS = ("latency", "storm", "startup", "footprint", "streaming")  # soak, scale: on request
METRICS_PORT = 9108  # our daemon's metrics, in the world's switch namespace (latency breakdown)
_counter = itertools.count()
_live = []


def sh(*args, check=True, **kw):
    return subprocess.run(args, check=check, capture_output=True, text=True, **kw)


def wait_until(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.01)
    raise RuntimeError(f"timed out after {timeout}s waiting for {what}")


def wait_quiet(limit_s=300, idle_pct=90):
    """Waits (up to limit_s) until the machine's CPUs are at least idle_pct% idle over a second:
    the kernel frees a gone world's 100,000 netdevs for 20 s to minutes after it is closed, on
    one CPU, which would slow whatever the next world times. Returns the seconds waited."""
    def snap():
        with open("/proc/stat") as f:
            return list(map(int, f.readline().split()[1:]))
    start = time.monotonic()
    while time.monotonic() - start < limit_s:
        a = snap()
        time.sleep(1)
        d = [y - x for x, y in zip(a, snap())]
        if sum(d) and 100 * d[3] / sum(d) >= idle_pct:
            break
    return round(time.monotonic() - start - 1, 1)


def proc_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def cpu_ns(pid):
    """CPU time of every thread of `pid` in ns (schedstat: finer than the 10 ms of /proc/stat)."""
    return sum(thread_cpu_ns(pid).values())


def thread_cpu_ns(pid):
    """CPU time in ns of each live thread of `pid`: {tid: ns}."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                out[tid] = int(f.read().split()[0])
        except FileNotFoundError:
            continue
    return out


def cpu_by_thread_name(pid, before):
    """ms of CPU per thread name since `before` (a thread_cpu_ns result); a thread born since
    counts from 0, one gone since is not counted."""
    by_name = {}
    for tid, ns in thread_cpu_ns(pid).items():
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
        except FileNotFoundError:
            continue
        by_name[name] = by_name.get(name, 0) + (ns - before.get(tid, 0)) / 1e6
    return {k: round(v, 1) for k, v in sorted(by_name.items()) if v >= 0.05}


class World:
    """One scenario's redis-server, namespaces, ports and daemon; close() undoes all of it."""

    def __init__(self, args, ports, ipv6, metrics=False):
        self.args, self.n = args, ports
        self.tag = f"{os.getpid()}-{next(_counter)}"
        self.dir = tempfile.mkdtemp(prefix="psbench-")
        self.redis_socket = os.path.join(self.dir, "redis.sock")
        self.runtime_dir = os.path.join(self.dir, "run")
        self.socket = os.path.join(self.runtime_dir, "portsyncd.sock")
        self.sw, self.wire = f"psb-sw-{self.tag}", f"psb-wi-{self.tag}"
        self.redis_proc = self.daemon = None
        self.namespaces = []
        _live.append(self)
        self.db = {d: redis.Redis(unix_socket_path=self.redis_socket, db=d,
                                  decode_responses=True) for d in (APPL_DB, CONFIG_DB, STATE_DB)}
        self.start_redis()
        self.db_config = os.path.join(self.dir, "database_config.json")
        with open(self.db_config, "w") as f:
            json.dump({"INSTANCES": {"redis": {"hostname": "127.0.0.1", "port": 6379,
                                               "unix_socket_path": self.redis_socket}},
                       "DATABASES": {
                           "APPL_DB": {"id": APPL_DB, "separator": ":", "instance": "redis"},
                           "CONFIG_DB": {"id": CONFIG_DB, "separator": "|", "instance": "redis"},
                           "STATE_DB": {"id": STATE_DB, "separator": "|", "instance": "redis"}},
                       "VERSION": "1.0"}, f)
        self.config = os.path.join(self.dir, "portsyncd.conf")
        with open(self.config, "w") as f:
            # Room for the footprint scenario's 100 subscribers and the streaming ones.
            f.write(f"[grpc]\nmax_streams = {max(100, args.max_subscribers) + 16}\n")
            if metrics:  # in the switch namespace: its own loopback
                f.write(f'[metrics]\nlisten = "127.0.0.1:{METRICS_PORT}"\n')
        for ns in (self.sw, self.wire):
            sh("ip", "netns", "add", ns)
            self.namespaces.append(ns)
            if not ipv6:
                for key in ("all", "default"):
                    sh("ip", "netns", "exec", ns, "sysctl", "-qw",
                       f"net.ipv6.conf.{key}.disable_ipv6=1")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        # A spare device so peer ifindexes differ from ours: carrier changes then skip
        # linkwatch's 1-per-10ms slow path (docs/PERFORMANCE.md, kernel facts).
        sh("ip", "-n", self.wire, "link", "add", "pad0", "type", "ifb")
        self.configure_ports(range(ports))

    def start_redis(self):
        """Starts (or, after kill_redis, restarts empty) the private redis-server."""
        self.redis_proc = subprocess.Popen(
            ["redis-server", "--port", "0", "--unixsocket", self.redis_socket,
             "--unixsocketperm", "700", "--save", "", "--appendonly", "no", "--dir", self.dir,
             "--databases", "16"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self._ping, 10, "redis-server")
        # As SONiC's database runs (AKE), unless --keyspace-events says otherwise: the daemon
        # under test uses keyspace notifications when the server has them on.
        self.db[STATE_DB].config_set("notify-keyspace-events", self.args.keyspace_events)

    def kill_redis(self):
        self.redis_proc.kill()
        self.redis_proc.wait()
        for c in self.db.values():
            c.connection_pool.disconnect()

    def configure_ports(self, indexes):
        """CONFIG_DB PORT and APPL_DB PORT_TABLE entries of Ethernet<i>, as SONiC has them."""
        pipe = self.db[CONFIG_DB].pipeline(transaction=False)
        appl = self.db[APPL_DB].pipeline(transaction=False)
        for i in indexes:
            fields = {"lanes": str(i), "mtu": "1500", "alias": f"eth{i}"}
            pipe.hset(f"PORT|Ethernet{i}", mapping={**fields, "admin_status": "up"})
            # As orchagent has it before it applied admin_status: a cold start then waits for
            # every port before PortInitDone (docs/COMPATIBILITY.md 2 step 5).
            appl.hset(f"PORT_TABLE:Ethernet{i}", mapping=fields)
        pipe.execute()
        appl.execute()

    def state_db_vs_kernel(self):
        """Ports whose STATE_DB fields differ from the kernel's netdev (or that have a key of
        ours and no netdev), as 'name: why' strings; [] when STATE_DB equals the kernel."""
        links = json.loads(sh("ip", "-j", "-n", self.sw, "link", "show").stdout)
        kernel = {}
        for link in links:
            name = link["ifname"].split("@")[0]
            if not name.startswith("Ethernet"):
                continue
            admin = "UP" in link.get("flags", [])
            oper = admin and link.get("operstate") in ("UP", "UNKNOWN")
            kernel[name] = ["ok", "up" if admin else "down", "up" if oper else "down",
                            str(link["mtu"])]
        keys = [k.split("|", 1)[1] for k in self.db[STATE_DB].scan_iter("PORT_TABLE|*", 10000)]
        names = sorted(set(keys) | set(kernel))
        pipe = self.db[STATE_DB].pipeline(transaction=False)
        for name in names:
            pipe.hmget(f"PORT_TABLE|{name}", "state", "admin_status", "netdev_oper_status", "mtu")
        wrong = []
        for name, got in zip(names, pipe.execute()):
            want = kernel.get(name)
            if want is None:
                if got[0] is not None:
                    wrong.append(f"{name}: a STATE_DB key and no netdev")
            elif got != want:
                wrong.append(f"{name}: STATE_DB {got}, kernel {want}")
        return wrong

    def _ping(self):
        try:
            return self.db[STATE_DB].ping()
        except (redis.exceptions.ConnectionError, FileNotFoundError):
            return False

    def batch_files(self):
        """Writes the ip -batch files creating the ports; returns (switch, wire) paths. Large
        counts are split (ip -batch of 100,000 `netns` lines fails): the paths are then
        space-separated lists, for create_command()."""
        chunk = 5000
        sws, wires = [], []
        for first in range(0, max(self.n, 1), chunk):
            last = min(self.n, first + chunk)
            sw = os.path.join(self.dir, f"sw-{first}.batch")
            wire = os.path.join(self.dir, f"wire-{first}.batch")
            with open(sw, "w") as f:
                for i in range(first, last):
                    f.write(f"link add Ethernet{i} type veth peer name w{i} netns {self.wire}\n")
                for i in range(first, last):
                    f.write(f"link set Ethernet{i} up\n")
            with open(wire, "w") as f:
                for i in range(first, last):
                    f.write(f"link set w{i} up\n")
            sws.append(sw)
            wires.append(wire)
        return " ".join(sws), " ".join(wires)

    def create_command(self):
        """A shell command creating every port (peers up), chunk after chunk."""
        sws, wires = self.batch_files()
        return " && ".join(f"ip -n {self.sw} -batch {sw} && ip -n {self.wire} -batch {wire}"
                           for sw, wire in zip(sws.split(), wires.split()))

    def create_ports(self):
        sh("sh", "-c", self.create_command())

    def stop_for_restart(self):
        """Kills the daemon (or the floor) and empties what its restart will write again:
        STATE_DB's PORT_TABLE (so its writes show), PortInitDone, and its log."""
        self.daemon.kill()
        self.daemon.wait()
        open(os.path.join(self.dir, "daemon.log"), "w").close()
        keys = list(self.db[STATE_DB].scan_iter("PORT_TABLE|*", 10000))
        for i in range(0, len(keys), 10000):
            self.db[STATE_DB].delete(*keys[i:i + 10000])
        self.db[APPL_DB].delete("_PORT_TABLE:PortInitDone")

    def create_ports_timed(self):
        """Creates the N ports under a started daemon (a cold start, as at boot); psbench
        startup's result: until every port is oper up in STATE_DB and PortInitDone is out."""
        return psbench("startup", "--observe", self.args.start_observe, "--redis",
                       self.redis_socket, "--ports", str(self.n), "--want-oper", "up",
                       "--init-done", "1", "--allow-exit", "1", "--wait-exit", "1",
                       "--timeout-s", "900", extra=["--", "sh", "-c", self.create_command()])

    def enable_warm_restart(self):
        self.db[STATE_DB].hset("WARM_RESTART_ENABLE_TABLE|system", "enable", "true")
        self.db[STATE_DB].hset("WARM_RESTART_TABLE|portsyncd", "restore_count", "0")

    def daemon_argv(self, template):
        cmd = template.format(db_config=self.db_config, runtime_dir=self.runtime_dir,
                              socket=self.socket, config=self.config,
                              redis_socket=self.redis_socket)
        return ["ip", "netns", "exec", self.sw, *shlex.split(cmd)]

    def start(self, template):
        """Starts the daemon (`ip netns exec` execs it, so the PID is the daemon's)."""
        self.log = open(os.path.join(self.dir, "daemon.log"), "a")
        self.daemon = subprocess.Popen(self.daemon_argv(template), stdout=self.log,
                                       stderr=subprocess.STDOUT)
        return self.daemon

    def wait_started(self, floor):
        """A daemon is up once it announced itself in STATE_DB (WARM_RESTART_TABLE, which every
        portsyncd writes first); the floor probe writes nothing until there are ports."""
        if floor:
            time.sleep(0.3)
        else:
            wait_until(lambda: self.daemon.poll() is not None or
                       self.db[STATE_DB].exists("WARM_RESTART_TABLE|portsyncd"), 30,
                       "the daemon to start")
            time.sleep(0.2)
        if self.daemon.poll() is not None:
            with open(os.path.join(self.dir, "daemon.log")) as f:
                tail = f.read()[-2000:]
            raise RuntimeError(f"the daemon exited with {self.daemon.returncode}:\n{tail}")

    def wait_ports_synced(self, timeout=60):
        """Every port in STATE_DB as the kernel has it after creation: up, up, 1500."""
        want = ["ok", "up", "up", "1500"]

        def synced():
            pipe = self.db[STATE_DB].pipeline(transaction=False)
            for i in range(self.n):
                pipe.hmget(f"PORT_TABLE|Ethernet{i}", "state", "admin_status",
                           "netdev_oper_status", "mtu")
            return all(v == want for v in pipe.execute())
        wait_until(synced, timeout, f"{self.n} ports in STATE_DB")

    def health(self):
        """Our daemon's health counters over gRPC, or None for another daemon."""
        if not os.path.exists(self.socket):
            return None
        r = sh(os.path.join(BUILD, "client", "portsyncctl"), "--json", "--target",
               f"unix:{self.socket}", "health", check=False)
        if r.returncode != 0:
            print(f"portsyncctl health failed: {r.stderr.strip()}", file=sys.stderr)
            return None
        return json.loads(r.stdout)

    def commandstats(self):
        info = self.db[STATE_DB].info("commandstats")
        return {k[len("cmdstat_"):]: v["calls"] for k, v in info.items()}

    def stop_daemon(self):
        if self.daemon and self.daemon.poll() is None:
            self.daemon.send_signal(signal.SIGTERM)
            try:
                self.daemon.wait(10)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
                self.daemon.wait()
        self.daemon = None

    def close(self):
        if self not in _live:
            return
        _live.remove(self)
        if self.daemon and self.daemon.poll() is None:
            self.daemon.kill()
            self.daemon.wait()
        for c in self.db.values():
            c.close()
        if self.redis_proc and self.redis_proc.poll() is None:
            self.redis_proc.kill()
            self.redis_proc.wait()
        for ns in self.namespaces:
            sh("ip", "netns", "del", ns, check=False)
        if os.environ.get("PSBENCH_KEEP"):  # keep the logs (daemon.log) for a post-mortem
            print(f"kept {self.dir}", file=sys.stderr)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


def _close_all(*_):
    for w in list(_live):
        w.close()


def percentile(values, p):
    """Nearest-rank percentile, as psbench computes it."""
    v = sorted(values)
    if not v:
        return None
    rank = max(1, min(len(v), -(-int(p * len(v) * 1000) // 100000)))
    return v[rank - 1]


def summary(us):
    if not us:
        return {"count": 0}
    return {"count": len(us), "mean_us": sum(us) / len(us), "p50_us": percentile(us, 50),
            "p90_us": percentile(us, 90), "p99_us": percentile(us, 99),
            "p999_us": percentile(us, 99.9), "max_us": max(us)}


def merge_latency(runs):
    """One latency result from repeated runs: percentiles over all their events together."""
    out = dict(runs[0])
    out["events"] = sum(r["events"] for r in runs)
    out["lost"] = sum(r["lost"] for r in runs)
    out["samples_us"] = [x for r in runs for x in r["samples_us"]]
    out["all"] = summary(out["samples_us"])
    kinds = {k for r in runs for k in r.get("samples_by_kind_us", {})}
    out["by_kind"] = {k: summary([x for r in runs for x in r["samples_by_kind_us"].get(k, [])])
                      for k in sorted(kinds)}
    out.pop("samples_by_kind_us", None)
    out["repeats"] = [{"p50_us": r["all"].get("p50_us"), "p99_us": r["all"].get("p99_us")}
                      for r in runs]
    own = [r["own_us"] for r in runs if r.get("own_us")]
    if own:
        out["own_us"] = {k: sum(o[k] for o in own) / len(own) for k in own[0]}
    return out


def niced(nice):
    """The command prefix that runs a command at nice value `nice` (none for 0)."""
    return ["nice", "-n", str(nice)] if nice else []


def psbench(*args, extra=(), nice=0):
    r = subprocess.run([*niced(nice), os.path.join(BUILD, "bench", "psbench"), *args, *extra],
                       capture_output=True, text=True)
    if r.returncode not in (0, 3) or not r.stdout.strip():
        raise RuntimeError(f"psbench {args[0]} failed ({r.returncode}): {r.stderr.strip()}")
    out = json.loads(r.stdout.strip().splitlines()[-1])
    if r.stderr.strip():
        out["stderr"] = r.stderr.strip()[-2000:]
    return out


# --- scenarios: each runs once for the daemon under test and once for the floor ---------------

def running_world(args, n, template, floor, metrics=False):
    w = World(args, n, ipv6=n <= 64, metrics=metrics)
    w.start(template)
    w.wait_started(floor)
    w.create_ports()
    w.wait_ports_synced()
    time.sleep(0.5)
    return w


def own_histograms(w):
    """{name: (sum seconds, count)} of the daemon's latency histograms, from its /metrics (read
    inside the switch namespace); {} when it has none (another daemon, or metrics off)."""
    code = ("import urllib.request, sys; sys.stdout.write(urllib.request.urlopen("
            f"'http://127.0.0.1:{METRICS_PORT}/metrics', timeout=5).read().decode())")
    r = sh("ip", "netns", "exec", w.sw, "python3", "-c", code, check=False)
    out = {}
    for line in r.stdout.splitlines():
        for name in ("portsyncd_event_to_state_db_seconds", "portsyncd_redis_round_trip_seconds"):
            if line.startswith(name + "_sum "):
                out.setdefault(name, [0.0, 0])[0] = float(line.split()[1])
            elif line.startswith(name + "_count "):
                out.setdefault(name, [0.0, 0])[1] = int(line.split()[1])
    return out


def stream_args(w, subscribers, gnmi, batched=False):
    """psbench's subscriber options: StreamLinkEvents (WatchLinkEvents when `batched`) and gNMI
    Subscribe streams."""
    if not subscribers and not gnmi:
        return []
    return ["--subscribers", str(subscribers), "--gnmi-subscribers", str(gnmi), "--grpc",
            w.socket] + (["--batched", "1"] if batched else [])


def scenario_latency(args, n, template, floor, subscribers=0, gnmi=0, batched=False):
    # Our daemon also reports where its time went: its own histograms' means over the run.
    breakdown = not floor and not subscribers and not gnmi and template == DEFAULT_DAEMON
    w = running_world(args, n, template, floor, metrics=breakdown)
    try:
        events = args.events if subscribers + gnmi < 1000 else max(200, args.events // 10)
        extra = stream_args(w, subscribers, gnmi, batched)
        before = own_histograms(w) if breakdown else {}
        out = psbench("latency", "--redis", w.redis_socket, "--sw", w.sw, "--wire", w.wire,
                      "--ports", str(n), "--events", str(events), "--gap-us",
                      str(args.gap_us), extra=extra)
        after = own_histograms(w) if breakdown else {}
        means = {}
        for name, (total, count) in after.items():
            total0, count0 = before.get(name, (0.0, 0))
            if count > count0:
                means[name] = (total - total0) / (count - count0) * 1e6
        if len(means) == 2:
            # From the kernel message's arrival in the daemon to Redis' reply, and the part of it
            # that is the pipeline's round trip; the rest is the engine -> writer hand-over,
            # batch building and bookkeeping.
            out["own_us"] = {"event_to_ack": means["portsyncd_event_to_state_db_seconds"],
                             "round_trip": means["portsyncd_redis_round_trip_seconds"]}
        return out
    finally:
        w.close()


def scenario_storm(args, n, template, floor, subscribers=0, gnmi=0, batched=False):
    w = running_world(args, n, template, floor)
    try:
        before = w.commandstats()
        extra = stream_args(w, subscribers, gnmi, batched)
        r = psbench("storm", "--redis", w.redis_socket, "--sw", w.sw, "--ports", str(n),
                    "--duration-s", str(args.storm_seconds), "--rate", str(args.storm_rate),
                    "--cpu-pids", f"{w.daemon.pid},{w.redis_proc.pid}", extra=extra)
        after = w.commandstats()
        writes = {k: after.get(k, 0) - before.get(k, 0) for k in after
                  if k in ("hset", "hmset", "del", "hdel", "evalsha", "eval", "sadd")}
        writes.pop("hget", None)
        r["redis_write_commands"] = writes
        r["redis_writes_total"] = sum(writes.values())
        lag = [p["kernel"] - p["state_db"] for p in r["timeline"]]
        r["max_lag_events"] = max(lag, default=0)
        cpu = r.pop("cpu_seconds")
        r["daemon_cpu_s"], r["redis_cpu_s"] = cpu
        r["daemon_cpu_ms_per_1k_events"] = 1e6 * cpu[0] / max(1, r["kernel_events"])
        health = w.health()
        if health:
            c = health.get("counters", {})
            r["daemon_overruns"] = int(c.get("netlinkOverruns", c.get("netlink_overruns", 0)))
            r["daemon_resyncs"] = int(c.get("netlinkResyncs", c.get("netlink_resyncs", 0)))
        if floor:
            w.stop_daemon()
        return r
    finally:
        w.close()


def scenario_startup(args, n, template, floor):
    out = {"scenario": "startup", "ports": n}
    # Warm: the ports exist, SONiC warm restart is enabled, the daemon starts.
    w = World(args, n, ipv6=n <= 64)
    try:
        w.create_ports()
        w.enable_warm_restart()
        time.sleep(0.5)
        r = psbench("startup", "--observe", args.start_observe, "--redis", w.redis_socket,
                    "--ports", str(n), "--log", os.path.join(w.dir, "daemon.log"),
                    extra=["--", *w.daemon_argv(template)])
        out["warm_all_ports_ms"] = r["all_ports_ms"]
        os.kill(r["pid"], signal.SIGKILL)
    finally:
        w.close()
    # Cold: the daemon is up, then the ports are created (as at boot).
    w = World(args, n, ipv6=n <= 64)
    try:
        w.start(template)
        w.wait_started(floor)
        create = w.create_command()
        r = psbench("startup", "--observe", args.start_observe, "--redis", w.redis_socket,
                    "--ports", str(n), "--want-oper", "up",
                    "--init-done", "0" if floor else "1", "--allow-exit", "1",
                    extra=["--", "sh", "-c", create])
        out["cold_all_ports_ms"] = r["all_ports_ms"]
        if not floor:
            out["cold_init_done_ms"] = r.get("init_done_ms")
    finally:
        w.close()
    return out


def thread_wakeups(pid):
    """{thread name: context switches so far}, names summed (gRPC runs several of some)."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            st = proc_status(f"{pid}/task/{tid}")
        except FileNotFoundError:
            continue
        name = st["Name"]
        out.setdefault(name, [0, 0])
        out[name][0] += 1
        out[name][1] += int(st["voluntary_ctxt_switches"]) + int(st["nonvoluntary_ctxt_switches"])
    return out


def idle_figures(pid, seconds):
    """Idle CPU ms, wake-ups/s and {thread name: [count, wake-ups/s]} over `seconds`."""
    cpu0, by0 = cpu_ns(pid), thread_wakeups(pid)
    time.sleep(seconds)
    cpu1, by1 = cpu_ns(pid), thread_wakeups(pid)
    cs0, cs1 = (sum(w for _, w in by.values()) for by in (by0, by1))
    by = {name: [c, round((w - by0.get(name, [0, w])[1]) / seconds, 2)]
          for name, (c, w) in by1.items()}
    return (cpu1 - cpu0) / 1e6, (cs1 - cs0) / seconds, by


def grpc_floor(args, dir_):
    """gRPC 1.51's callback API doing nothing (psbench grpc-idle): its threads, RSS, idle CPU
    and wake-ups, which any daemon serving that API pays before any work of its own."""
    sock = os.path.join(dir_, "grpc-idle.sock")
    p = subprocess.Popen([os.path.join(BUILD, "bench", "psbench"), "grpc-idle", "--socket", sock],
                         stdout=subprocess.PIPE, text=True)
    try:
        json.loads(p.stdout.readline())
        time.sleep(2)
        st = proc_status(p.pid)
        cpu, wakeups, by = idle_figures(p.pid, args.idle_seconds)
        return {"threads": int(st["Threads"]), "rss_kib": int(st["VmRSS"].split()[0]),
                "idle_cpu_ms": cpu, "idle_wakeups_per_s": wakeups, "by_thread": by}
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(10)


def scenario_footprint(args, n, template, floor):
    w = running_world(args, n, template, floor)
    try:
        pid = w.daemon.pid
        time.sleep(2)
        st = proc_status(pid)
        out = {"scenario": "footprint", "ports": n, "rss_kib": int(st["VmRSS"].split()[0]),
               "threads": int(st["Threads"])}
        out["idle_cpu_ms"], out["idle_wakeups_per_s"], out["by_thread"] = \
            idle_figures(pid, args.idle_seconds)
        out["idle_seconds"] = args.idle_seconds
        if not floor and template == DEFAULT_DAEMON:
            out["grpc_floor"] = grpc_floor(args, w.dir)
        if not floor and os.path.exists(w.socket):
            sub = subprocess.Popen([os.path.join(BUILD, "bench", "psbench"), "subscribe",
                                    "--grpc", w.socket, "--count", "100"],
                                   stdout=subprocess.PIPE, text=True)
            try:
                ready = json.loads(sub.stdout.readline())
                time.sleep(1)
                st = proc_status(pid)
                out["rss_kib_100_subscribers"] = int(st["VmRSS"].split()[0])
                out["threads_100_subscribers"] = int(st["Threads"])
                out["subscribers_ready"] = ready["ready"]
            finally:
                sub.send_signal(signal.SIGTERM)
                sub.wait(20)
        return out
    finally:
        w.close()


class Orphan:
    """A daemon psbench started and left running (its PID): enough of Popen for World."""

    def __init__(self, pid):
        self.pid = pid

    def poll(self):
        try:
            os.kill(self.pid, 0)
            with open(f"/proc/{self.pid}/stat") as f:
                return 0 if f.read().rsplit(")", 1)[1].split()[0] == "Z" else None
        except (ProcessLookupError, FileNotFoundError):
            return 0

    def kill(self):
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def send_signal(self, sig):
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            pass

    def wait(self, timeout=None):
        wait_until(lambda: self.poll() is not None, timeout or 30, f"PID {self.pid} to exit")
        return 0


def time_all_ports(w, since, command, timeout_s=600):
    """Runs `command` under psbench startup (watching STATE_DB's hset notifications; with
    --start-observe polls, reading every port still missing its key each ms); returns ms from
    `since` (time.monotonic()) until every port has one, and the PID."""
    before = time.monotonic()
    r = psbench("startup", "--observe", w.args.start_observe, "--redis", w.redis_socket,
                "--ports", str(w.n), "--allow-exit", "1",
                "--timeout-s", str(timeout_s), "--log", os.path.join(w.dir, "daemon.log"),
                extra=["--", *command])
    if r["all_ports_ms"] < 0:
        return None, r["pid"]
    return (before - since) * 1000 + r["all_ports_ms"], r["pid"]


def scenario_scale(args, n, template, floor):
    """Every SONiC path at N ports, each timed until STATE_DB equals the kernel (the floor
    probe: one dump and one pipelined write per port, timed the same way). In one World: cold
    start (the daemon up, N ports created), memory, the API at that size, a restart of the
    daemon alone, a warm restart, Redis killed and restarted empty, and a netlink overflow
    with its re-dump."""
    out = {"scenario": "scale", "ports": n}
    if n >= 10000:  # the previous world's netdevs freed first
        out["waited_quiet_s"] = wait_quiet()
    w = World(args, n, ipv6=False)
    try:
        if floor:
            w.create_ports()
            time.sleep(1)
            out["write_all_ms"], pid = time_all_ports(w, time.monotonic(), w.daemon_argv(template))
            w.daemon = Orphan(pid)
            return out
        # Cold start: the daemon is up, then the ports are created (as at boot).
        w.start(template)
        w.wait_started(floor)
        rss_empty = int(proc_status(w.daemon.pid)["VmRSS"].split()[0])
        r = w.create_ports_timed()
        out["cold_all_ports_ms"], out["cold_init_done_ms"] = r["all_ports_ms"], r["init_done_ms"]
        # The kernel's share: creating N veth pairs (ip -batch); what follows the last is ours.
        out["cold_created_ms"] = r.get("command_done_ms")
        time.sleep(3)
        st = proc_status(w.daemon.pid)
        out["rss_kib_empty"], out["rss_kib"] = rss_empty, int(st["VmRSS"].split()[0])
        out["threads"] = int(st["Threads"])
        # The API at this size.
        g = psbench("getports", "--grpc", w.socket)
        out["get_port_state_rpc_ms"], out["get_port_state_pages"] = g["ms"], g["pages"]
        t0 = time.monotonic()
        ctl = sh(os.path.join(BUILD, "client", "portsyncctl"), "--json", "--target",
                 f"unix:{w.socket}", "ports", check=False)
        out["get_port_state_ms"] = (time.monotonic() - t0) * 1000
        out["get_port_state_ports"] = len(json.loads(ctl.stdout)["ports"]) if ctl.returncode == 0 \
            else f"failed: {ctl.stderr.strip()[:200]}"
        t0 = time.monotonic()  # the operator's table (and the JSON above: protobuf's printer)
        sh(os.path.join(BUILD, "client", "portsyncctl"), "--target", f"unix:{w.socket}", "ports",
           check=False)
        out["portsyncctl_ports_ms"] = (time.monotonic() - t0) * 1000
        for api, extra in (("stream", []), ("watch", ["--batched", "1"]),
                           ("gnmi", ["--count", "0", "--gnmi", "1"])):
            daemon_ns = cpu_ns(w.daemon.pid)
            t0 = time.monotonic()
            sub = subprocess.Popen([os.path.join(BUILD, "bench", "psbench"), "subscribe", "--grpc",
                                    w.socket, "--count", "1", *extra], stdout=subprocess.PIPE,
                                   text=True)
            line = json.loads(sub.stdout.readline())
            out[f"{api}_snapshot_ms"] = (time.monotonic() - t0) * 1000 if line["ready"] else None
            # Who the time went to: the client receiving and decoding, the daemon sending.
            out[f"{api}_snapshot_client_cpu_ms"] = line.get("cpu_ms")
            out[f"{api}_snapshot_daemon_cpu_ms"] = (cpu_ns(w.daemon.pid) - daemon_ns) / 1e6
            sub.send_signal(signal.SIGTERM)
            sub.communicate(timeout=120)
        # STATE_DB's latency while the API serves every port: single kernel changes on 64 of the
        # ports (psbench latency), alone, then while a loop takes new streams' snapshots of every
        # port (StreamLinkEvents, WatchLinkEvents, gNMI) and GetPortState's pages.
        # Each port's changes come in pairs that restore it (psbench latency): a whole number
        # of pairs per port, or the second run would start with changes that change nothing.
        probed = min(n, 64)
        events = max(1, args.scale_latency_events // (2 * probed)) * 2 * probed

        def latency():
            return psbench("latency", "--redis", w.redis_socket, "--sw", w.sw, "--wire", w.wire,
                           "--ports", str(probed), "--events", str(events),
                           "--gap-us", "3000")["all"]
        out["latency_alone"] = latency()
        stop, taken = threading.Event(), []

        def snapshots():
            loads = (["subscribe", "--count", "1"], ["subscribe", "--count", "1", "--batched", "1"],
                     ["subscribe", "--count", "0", "--gnmi", "1"], ["getports"])
            while not stop.is_set():
                for load in loads:
                    if stop.is_set():
                        break
                    if load[0] == "getports":
                        psbench("getports", "--grpc", w.socket, nice=args.scale_load_nice)
                    else:
                        sub = subprocess.Popen([*niced(args.scale_load_nice),
                                                os.path.join(BUILD, "bench", "psbench"),
                                                load[0], "--grpc", w.socket, *load[1:]],
                                               stdout=subprocess.PIPE, text=True)
                        json.loads(sub.stdout.readline())
                        sub.send_signal(signal.SIGTERM)
                        sub.communicate(timeout=120)
                    taken.append(load[-1] if load[0] == "subscribe" else "getports")
                    stop.wait(0.05)  # paced: at small sizes a snapshot takes a millisecond
        loader = threading.Thread(target=snapshots)
        loader.start()
        try:
            out["latency_during_snapshots"] = latency()
        finally:
            stop.set()
            loader.join(300)
        out["snapshots_during_latency"] = len(taken)
        out["snapshot_clients_nice"] = args.scale_load_nice
        health = w.health() or {}
        out["drift_repairs"] = int((health.get("counters") or {}).get("drift_repairs", 0))

        def check(what):
            wrong = w.state_db_vs_kernel()
            if wrong:
                out.setdefault("wrong", {})[what] = wrong[:5]

        def phases(log_path):
            """Our daemon's own timeline of a start, from its log at INFO: ms from the start
            rule to the end of startup, to the writer's first connection (after the dump), to
            the rewrite's start, to PortInitDone."""
            marks = {"start rule:": "rule", "startup:": "startup", "reconcile:": "rewrite",
                     "PortInitDone published": "init_done"}
            at = {}
            with open(log_path) as f:
                for line in f:
                    for text, key in marks.items():
                        if text in line and key not in at:
                            at[key] = datetime.datetime.fromisoformat(line.split()[0].rstrip("Z"))
            if "rule" not in at:
                return None
            return {k: round((v - at["rule"]).total_seconds() * 1000, 1) for k, v in at.items()}

        ours = template == DEFAULT_DAEMON
        verbose = template.replace("--log-level NOTICE", "--log-level INFO") if ours else template

        def restart(warm, config_extra="", name=None):
            """Kills the daemon, empties STATE_DB's PORT_TABLE (so its writes show), starts it
            again; ms until every port is back in STATE_DB (then checked field by field)."""
            w.stop_for_restart()
            log = os.path.join(w.dir, "daemon.log")
            if warm:
                w.enable_warm_restart()
            if config_extra:
                with open(w.config, "a") as f:
                    f.write(config_extra)
            ms, pid = time_all_ports(w, time.monotonic(), w.daemon_argv(verbose))
            w.daemon = Orphan(pid)
            if warm:
                w.db[STATE_DB].delete("WARM_RESTART_ENABLE_TABLE|system")
            time.sleep(1)
            if ours:  # read after the pause: PortInitDone may follow the last port's write
                out.setdefault("phases", {})[name or ("warm" if warm else "restart")] = phases(log)
            check("warm restart" if warm else "restart")
            return ms
        out["restart_ms"] = restart(warm=False)
        out["warm_restart_ms"] = restart(warm=True)
        # A netlink overflow: the daemon again (a restart of the daemon alone, COMPATIBILITY.md
        # 7.7) with the smallest receive buffer, then an MTU storm it cannot keep up with; from
        # the storm's end until STATE_DB equals the kernel.
        restart(warm=False, config_extra="[netlink]\nreceive_buffer_bytes = 65536\n",
                name="restart, 64 KiB buffer")
        r = psbench("storm", "--redis", w.redis_socket, "--sw", w.sw, "--ports", str(n),
                    "--duration-s", "2", "--resume", "1", "--sample-ms", "1000")
        out["overflow_converge_ms"] = r["converge_ms"] if r["converged"] else None
        out["overflow_storm"] = {k: r.get(k) for k in ("kernel_events", "converged", "ports_behind",
                                                       "send_errors")}
        check("overflow")
        # Redis killed and restarted empty; CONFIG_DB and APPL_DB filled again, as SONiC would
        # (last: APPL_DB then has no PortConfigDone, so a later start would be a cold one).
        w.kill_redis()
        time.sleep(0.5)
        t0 = time.monotonic()
        w.start_redis()
        out["redis_restart_ms"], _ = time_all_ports(w, t0, ["true"])
        w.configure_ports(range(n))
        time.sleep(1)
        check("Redis restart")
        health = w.health() or {}
        out["overflows"] = int((health.get("counters") or {}).get("netlink_overruns", 0))
        out["drift_repairs_end"] = int((health.get("counters") or {}).get("drift_repairs", 0))
        return out
    finally:
        w.close()


def floor_own_ms(log):
    """The floor probe's own time to its last write's reply (it logs it once done, which may be
    after psbench startup saw the ports), or None."""
    found = []

    def logged():
        with open(log) as f:
            found[:] = [float(line.split()[4]) for line in f
                        if line.startswith("floor: every port written")]
        return bool(found)
    try:
        wait_until(logged, 5, "the floor probe's own time in its log")
    except RuntimeError:
        return None
    return found[-1]


def scenario_restarts(args, n, template, floor_template):
    """A restart of the daemon alone against the floor probe, alternating in one world of N
    ports (one cold start, then `--restart-rounds` rounds, who goes first alternating), for each
    way psbench startup can watch (`--restart-observe`): less noise than the scale scenario's
    one restart, each in a world of its own. Each run: the daemon (or the floor) killed,
    STATE_DB's PORT_TABLE and PortInitDone emptied (World.stop_for_restart, as in scale's
    restarts), started again, ms until every port is back; the floor's own time (its log)
    beside it. The daemon logs at INFO, as in the scale scenario's restarts."""
    out = {"scenario": "restarts", "ports": n, "runs": []}
    if n >= 10000:  # the previous world's netdevs freed first
        out["waited_quiet_s"] = wait_quiet()
    w = World(args, n, ipv6=False)
    verbose = template.replace("--log-level NOTICE", "--log-level INFO")
    try:
        w.start(template)
        w.wait_started(False)
        w.create_ports_timed()
        time.sleep(3)
        log = os.path.join(w.dir, "daemon.log")
        for rnd in range(args.restart_rounds):
            for observe in args.restart_observe.split(","):
                order = (("floor", floor_template), ("daemon", verbose))
                for who, t in order if rnd % 2 == 0 else order[::-1]:
                    w.stop_for_restart()
                    time.sleep(1)
                    r = psbench("startup", "--observe", observe, "--redis", w.redis_socket,
                                "--ports", str(n), "--allow-exit", "1", "--timeout-s", "600",
                                "--log", log, extra=["--", *w.daemon_argv(t)])
                    w.daemon = Orphan(r["pid"])
                    out["runs"].append({
                        "round": rnd, "observe": observe, "who": who,
                        "ms": r["all_ports_ms"] if r["all_ports_ms"] >= 0 else None,
                        "observed_by": r.get("observed_by"),
                        "own_ms": floor_own_ms(log) if who == "floor" else None})
        return out
    finally:
        w.close()


def cycle_rss(cycles):
    if len(cycles) < 2:
        return "-"
    a, b = cycles[0], cycles[-1]
    return (f"{a['peak_kib'] / 1024:.1f} / {a['trough_kib'] / 1024:.1f} ({a['chunks']}) -> "
            f"{b['peak_kib'] / 1024:.1f} / {b['trough_kib'] / 1024:.1f} ({b['chunks']}), "
            f"{len(cycles)} cycles")


def rss_cycles(samples):
    """The complete Redis-restart cycles among soak samples, each from the chunk after a
    restart to the next chunk that restarted Redis: their chunks and highest and lowest RSS."""
    out, current, started = [], [], False
    for x in samples:
        if started:
            current.append(x)
        if x.get("redis_restarted"):
            if current:
                out.append({"chunks": f"{current[0]['chunk']}-{current[-1]['chunk']}",
                            "peak_kib": max(c["rss_kib"] for c in current),
                            "trough_kib": min(c["rss_kib"] for c in current)})
            current, started = [], True
    return out


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


class Churn:
    """What a long-lived switch sees besides MTU storms, in a thread: carrier flaps of
    `flaps_per_s` ports a second (the peer goes down and up), and every `recreate_s` seconds
    the churn ports (Ethernet<n>.. beyond the storm's) deleted and created again. Pause() and
    Resume() stop it for the checks."""

    def __init__(self, w, flaps_per_s, churn_ports, recreate_s):
        self.w, self.flaps_per_s, self.recreate_s = w, flaps_per_s, recreate_s
        self.churn = list(range(w.n, w.n + churn_ports))
        self.flaps = self.recreates = 0
        self.paused = threading.Event()
        self.stopped = threading.Event()
        self.idle = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def create_churn_ports(self):
        self._batch(self.w.sw, [f"link add Ethernet{i} type veth peer name w{i} netns "
                                f"{self.w.wire}" for i in self.churn] +
                    [f"link set Ethernet{i} up" for i in self.churn])
        self._batch(self.w.wire, [f"link set w{i} up" for i in self.churn])

    def _batch(self, ns, lines):
        path = os.path.join(self.w.dir, f"churn-{ns}.batch")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        sh("ip", "-n", ns, "-force", "-batch", path, check=False)

    def _run(self):
        next_port, last_recreate = 0, time.monotonic()
        while not self.stopped.is_set():
            if self.paused.is_set():
                self.idle.set()
                time.sleep(0.05)
                continue
            self.idle.clear()
            t0 = time.monotonic()
            ports = [(next_port + k) % self.w.n for k in range(self.flaps_per_s)]
            next_port = (next_port + self.flaps_per_s) % self.w.n
            self._batch(self.w.wire, [f"link set w{p} down" for p in ports] +
                        [f"link set w{p} up" for p in ports])
            self.flaps += len(ports)
            if self.churn and time.monotonic() - last_recreate >= self.recreate_s:
                self._batch(self.w.sw, [f"link del Ethernet{i}" for i in self.churn])
                self.create_churn_ports()
                self.recreates += 1
                last_recreate = time.monotonic()
            time.sleep(max(0.0, 1.0 - (time.monotonic() - t0)))

    def pause(self):
        self.paused.set()
        self.idle.wait(30)

    def resume(self):
        self.paused.clear()


def scenario_soak(args, n, template, floor):
    """Hours of churn, nothing growing (docs/RELIABILITY.md). For --soak-seconds, in chunks of
    --soak-chunk seconds: an MTU storm of --soak-rate events/s on the N ports, carrier flaps of
    --soak-flaps ports a second, --soak-churn-ports netdevs deleted and created again every
    --soak-recreate seconds, Redis killed and restarted empty every --soak-redis-every chunks
    (CONFIG_DB and APPL_DB then filled again, as SONiC would), and subscribers of both APIs
    (StreamLinkEvents + gNMI in one process, WatchLinkEvents in another) replaced every chunk.
    After each chunk, with the churn paused: STATE_DB compared to the kernel (every field of
    every port, and no key without a netdev), then the daemon's RSS, open files, threads, CPU
    over the chunk, audit drift repairs, and events the subscribers lost. Growth after the
    warm-up (the first chunks), drift, a STATE_DB that does not equal the kernel, or a lost
    event fails the run."""
    w = running_world(args, n, template, floor)
    churn = Churn(w, args.soak_flaps, args.soak_churn_ports, args.soak_recreate)
    procs = []  # the current chunk's subscriber processes
    try:
        pid = w.daemon.pid
        if churn.churn:
            w.configure_ports(churn.churn)
            churn.create_churn_ports()
        churn.thread.start()
        samples, failures = [], []
        start = time.monotonic()
        chunk = 0
        subs = max(0, args.soak_subscribers) if not floor else 0
        health0 = w.health() or {}
        drift0 = int((health0.get("counters") or {}).get("drift_repairs", 0))
        while time.monotonic() - start < args.soak_seconds:
            threads0 = thread_cpu_ns(pid)
            cpu0, t0 = sum(threads0.values()), time.monotonic()
            procs.clear()
            if subs:
                third = max(1, subs // 3)
                for extra in (["--count", str(third), "--gnmi", str(third)],
                              ["--count", str(max(1, subs - 2 * third)), "--batched", "1"]):
                    procs.append(subprocess.Popen(
                        [os.path.join(BUILD, "bench", "psbench"), "subscribe", "--grpc",
                         w.socket, *extra], stdout=subprocess.PIPE, text=True))
                for p in procs:
                    if not json.loads(p.stdout.readline())["ready"]:
                        failures.append(f"chunk {chunk}: subscribers not all SYNCED")
            restarted = args.soak_redis_every > 0 and chunk % args.soak_redis_every == \
                args.soak_redis_every - 1
            storm_s = max(1.0, args.soak_chunk - 3)
            if restarted:  # a Redis restart in the middle of the chunk, the churn running
                storm_s /= 2
            r = psbench("storm", "--redis", w.redis_socket, "--sw", w.sw, "--ports", str(n),
                        "--duration-s", str(storm_s), "--rate", str(args.soak_rate),
                        "--resume", "1", "--sample-ms", "1000")
            events, converge = r["kernel_events"], r["converge_ms"]
            if not r["converged"]:
                failures.append(f"chunk {chunk}: STATE_DB did not converge after the storm")
            if restarted:
                w.kill_redis()
                time.sleep(0.5)
                w.start_redis()
                w.configure_ports(list(range(n)) + churn.churn)
                r = psbench("storm", "--redis", w.redis_socket, "--sw", w.sw, "--ports", str(n),
                            "--duration-s", str(storm_s), "--rate", str(args.soak_rate),
                            "--resume", "1", "--sample-ms", "1000")
                events += r["kernel_events"]
                converge = max(converge or 0, r["converge_ms"] or 0)
                if not r["converged"]:
                    failures.append(f"chunk {chunk}: STATE_DB did not converge after the "
                                    "Redis restart")
            churn.pause()
            t_check = time.monotonic()
            wrong = w.state_db_vs_kernel()
            while wrong and time.monotonic() - t_check < 10:
                time.sleep(0.1)
                wrong = w.state_db_vs_kernel()
            equal_ms = (time.monotonic() - t_check) * 1000
            if wrong:
                failures.append(f"chunk {chunk}: STATE_DB != kernel 10 s after the churn "
                                f"stopped: {len(wrong)} ports, e.g. {wrong[:3]}")
            stream = {"events": 0, "lost": 0, "resyncs": 0, "ended_early": 0}
            for p in procs:
                p.send_signal(signal.SIGTERM)
                out, _ = p.communicate(timeout=60)
                st = json.loads(out.strip().splitlines()[-1])
                for k in stream:
                    stream[k] += st.get(k, 0)
            if stream["lost"]:
                failures.append(f"chunk {chunk}: subscribers lost {stream['lost']} events")
            churn.resume()
            time.sleep(0.5)  # let stream teardown finish
            st = proc_status(pid)
            health = w.health() or {}
            drift = int((health.get("counters") or {}).get("drift_repairs", 0)) - drift0
            samples.append({"t_s": round(time.monotonic() - start, 1), "chunk": chunk,
                            "rss_kib": int(st["VmRSS"].split()[0]), "fds": fd_count(pid),
                            "threads": int(st["Threads"]), "events": events,
                            "cpu_ms_per_s": round((cpu_ns(pid) - cpu0) / 1e6 /
                                                  (time.monotonic() - t0), 2),
                            "converge_ms": converge, "state_db_equal_ms": round(equal_ms),
                            "state_db_wrong": len(wrong), "drift_repairs": drift,
                            "redis_restarted": restarted, "flaps": churn.flaps,
                            "recreates": churn.recreates,
                            "stream_events": stream["events"], "stream_lost": stream["lost"],
                            "stream_resyncs": stream["resyncs"],
                            # where the CPU went (ms per thread name over the chunk)
                            "cpu_ms_by_thread": cpu_by_thread_name(pid, threads0)})
            print(f"soak: chunk {chunk}: {samples[-1]}", file=sys.stderr, flush=True)
            chunk += 1
        churn.stopped.set()
        churn.thread.join(30)
        warm = samples[min(args.soak_warmup, len(samples) - 1)]
        last = samples[-1]
        after = samples[min(args.soak_warmup, len(samples) - 1):]
        rss_growth = last["rss_kib"] - warm["rss_kib"]
        # Noise: the spread of RSS between consecutive samples after the warm-up.
        noise = max((abs(a["rss_kib"] - b["rss_kib"]) for a, b in zip(after, after[1:])),
                    default=0)
        cycles = rss_cycles(after)
        # Under ASan, freed memory waits in its quarantine and RSS measures the sanitizer: the
        # leak check is LeakSanitizer's, when the daemon exits (below).
        if len(cycles) >= 2 and not args.soak_sanitized:
            # With Redis restarted every few chunks, RSS is a sawtooth: the rewrite after each
            # reconnect hands freed pages back (malloc_trim), and they fill again. Compared cycle
            # to cycle: the last complete one's highest and lowest sample against the first's.
            bound = max(1024, cycles[0]["peak_kib"] // 50)
            for what in ("peak_kib", "trough_kib"):
                grew = cycles[-1][what] - cycles[0][what]
                if grew > bound:
                    failures.append(f"RSS {what[:-4]} per Redis-restart cycle grew {grew} KiB "
                                    f"(cycles {cycles[0]['chunks']} -> {cycles[-1]['chunks']})")
        elif rss_growth > max(2048, warm["rss_kib"] // 50, noise) and not args.soak_sanitized:
            failures.append(f"RSS grew {rss_growth} KiB after the warm-up (noise {noise} KiB)")
        if last["fds"] > warm["fds"]:
            failures.append(f"open files grew {warm['fds']} -> {last['fds']}")
        if last["threads"] > warm["threads"]:
            failures.append(f"threads grew {warm['threads']} -> {last['threads']}")
        if last["drift_repairs"]:
            failures.append(f"the audit repaired {last['drift_repairs']} ports nobody else wrote")
        if args.soak_sanitized:
            # A clean exit after SIGTERM: LeakSanitizer found nothing the daemon still held
            # unreachable, and no other report aborted it (its report goes to the sanitizer's
            # log_path, where deploy/sanitize.sh looks too).
            daemon = w.daemon
            w.stop_daemon()
            if daemon.returncode != 0:
                with open(os.path.join(w.dir, "daemon.log")) as f:
                    tail = f.read()[-3000:]
                failures.append(f"the daemon exited with {daemon.returncode} after SIGTERM (a "
                                f"sanitizer report?):\n{tail}")
        return {"scenario": "soak", "ports": n, "rate": args.soak_rate,
                "flaps_per_s": args.soak_flaps, "churn_ports": args.soak_churn_ports,
                "subscribers": subs, "seconds": round(time.monotonic() - start, 1),
                "samples": samples, "rss_growth_kib": rss_growth, "rss_noise_kib": noise,
                "rss_cycles": cycles,
                "failures": failures}
    finally:
        churn.stopped.set()
        for p in procs:  # a chunk's subscribers, when the soak ends inside it
            if p.poll() is None:
                p.kill()
                p.wait()
        w.close()


# --- reporting ------------------------------------------------------------------------------

def ratio(a, b):
    return a / b if a is not None and b else None


def fmt(v, unit=""):
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.1f}{unit}" if abs(v) >= 10 else f"{v:.3g}{unit}"
    return f"{v:,}{unit}"


def report(results, out_dir):
    lines = []

    def table(title, header, rows):
        lines.append(f"\n### {title}\n")
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---|" * len(header))
        for row in rows:
            lines.append("| " + " | ".join(fmt(c) if not isinstance(c, str) else c
                                           for c in row) + " |")

    by = {}
    for r in results:
        # The streaming scenario's storm without subscribers is its own row, next to the rest.
        who = r["who"] + (" (streaming)" if r.get("streaming") and r["scenario"] == "storm" and
                          not r.get("subscribers") else "")
        by.setdefault((r["scenario"], r["ports"], r.get("subscribers", 0), r.get("api", "")),
                      {})[who] = r

    rows = []
    for (sc, n, subs, api), rs in sorted(by.items()):
        if sc != "latency" or subs:
            continue
        d, f = rs.get("daemon"), rs.get("floor")
        da, fa = (d or {}).get("all", {}), (f or {}).get("all", {})
        rows.append([n, "off" if n > 64 else "on", da.get("count"), da.get("p50_us"),
                     da.get("p90_us"), da.get("p99_us"), da.get("p999_us"), da.get("max_us"),
                     fa.get("p50_us"), fa.get("p99_us"), ratio(da.get("p50_us"), fa.get("p50_us")),
                     ratio(da.get("p99_us"), fa.get("p99_us"))])
    if rows:
        table("Single-event latency, kernel change -> STATE_DB keyspace notification (µs)",
              ["ports", "IPv6", "events", "p50", "p90", "p99", "p99.9", "max", "floor p50",
               "floor p99", "p50 / floor", "p99 / floor"], rows)

    rows = []
    for (sc, n, subs, api), rs in sorted(by.items()):
        d, f = rs.get("daemon") or {}, rs.get("floor") or {}
        if sc != "latency" or subs or not d.get("own_us"):
            continue
        own = d["own_us"]
        rows.append([n, d["all"].get("mean_us"), f.get("all", {}).get("mean_us"),
                     own["event_to_ack"], own["round_trip"],
                     own["event_to_ack"] - own["round_trip"]])
    if rows:
        table("Where the daemon's time goes, single events (means, µs; the daemon's own "
              "histograms over the same runs)",
              ["ports", "kernel -> notification", "floor", "daemon: message -> Redis reply",
               "of which the round trip", "of which the rest (hand-over, batch)"], rows)

    rows = []
    for (sc, n, subs, api), rs in sorted(by.items()):
        if sc != "latency" or subs:
            continue
        d, f = rs.get("daemon") or {}, rs.get("floor") or {}
        for kind in sorted(d.get("by_kind", {})):
            dk, fk = d["by_kind"][kind], f.get("by_kind", {}).get(kind, {})
            rows.append([n, kind, dk.get("count"), dk.get("p50_us"), dk.get("p99_us"),
                         fk.get("p50_us"), fk.get("p99_us"), ratio(dk.get("p50_us"), fk.get("p50_us")),
                         ratio(dk.get("p99_us"), fk.get("p99_us"))])
    if rows:
        table("Single-event latency by kind of change (µs)",
              ["ports", "change", "events", "p50", "p99", "floor p50", "floor p99", "p50 / floor",
               "p99 / floor"], rows)

    rows = []
    for (sc, n, subs, api), rs in sorted(by.items()):
        if sc != "storm":
            continue
        for who in ("daemon", "daemon (streaming)", "floor"):
            r = rs.get(who)
            if r:
                rows.append([n, f"{subs} {api}".strip(), who, r["kernel_events"], r["kernel_rate"],
                             r["applied_rate"],
                             r["keep_up"], r["converge_ms"], r["redis_writes_total"],
                             r.get("daemon_overruns", "-"), r["daemon_cpu_ms_per_1k_events"],
                             (r.get("stream") or {}).get("resyncs", "-"),
                             ratio((r.get("stream") or {}).get("events"),
                                   (r.get("stream") or {}).get("messages"))])
    if rows:
        table("Storm: every port's MTU changed as fast as the kernel takes it",
              ["ports", "subscribers", "who", "kernel events", "kernel/s", "STATE_DB applied/s",
               "keep-up", "converge ms", "Redis writes", "overruns", "CPU ms / 1k events",
               "stream resyncs", "events / message"], rows)

    rows = []
    for (sc, n, subs, api), rs in sorted(by.items()):
        if sc != "startup":
            continue
        d, f = rs.get("daemon", {}), rs.get("floor", {})
        rows.append([n, d.get("warm_all_ports_ms"), f.get("warm_all_ports_ms"),
                     ratio(d.get("warm_all_ports_ms"), f.get("warm_all_ports_ms")),
                     d.get("cold_all_ports_ms"), d.get("cold_init_done_ms"),
                     f.get("cold_all_ports_ms")])
    if rows:
        table("Startup (ms)", ["ports", "warm: all in STATE_DB", "floor", "ratio",
                               "cold: all up in STATE_DB", "cold: PortInitDone", "floor cold"],
              rows)

    rows = []
    for (sc, n, subs, api), rs in sorted(by.items()):
        if sc != "footprint":
            continue
        for who in ("daemon", "floor"):
            r = rs.get(who)
            if r:
                rows.append([n, who, r["rss_kib"] / 1024, r["threads"],
                             (r.get("rss_kib_100_subscribers") or 0) / 1024 or None,
                             r["idle_cpu_ms"] / r["idle_seconds"], r["idle_wakeups_per_s"]])
                g = r.get("grpc_floor")
                if g:
                    rows.append([n, "gRPC callback API alone", g["rss_kib"] / 1024, g["threads"],
                                 None, g["idle_cpu_ms"] / r["idle_seconds"],
                                 g["idle_wakeups_per_s"]])
    if rows:
        table("Footprint", ["ports", "who", "RSS MiB", "threads", "RSS MiB, 100 subscribers",
                            "idle CPU ms/s", "idle wake-ups/s"], rows)

    rows = []
    for (sc, n, subs, api), rs in sorted(by.items()):
        d = rs.get("daemon") if sc == "footprint" else None
        if not d or not d.get("by_thread"):
            continue
        floor_by = (d.get("grpc_floor") or {}).get("by_thread", {})
        for name, (count, wakeups) in sorted(d["by_thread"].items()):
            owner = "ours" if name.startswith("ps-") or name == "portsyncd" else "gRPC"
            f = floor_by.get(name)
            rows.append([n, name, owner, count, wakeups,
                         f"{f[0]} / {f[1]}" if f else "-"])
    if rows:
        table("Threads at idle (name, whose, how many, wake-ups/s; gRPC alone: count / wake-ups/s)",
              ["ports", "thread", "whose", "count", "wake-ups/s", "gRPC alone"], rows)


    rows = []
    scale = [(n, rs) for (sc, n, subs, api), rs in sorted(by.items()) if sc == "scale"]
    smallest = min((rs["daemon"] for n, rs in scale if "daemon" in rs), key=lambda r: r["ports"],
                   default=None)
    for n, rs in scale:
        d, f = rs.get("daemon"), rs.get("floor")
        if not d:
            continue
        fl = f.get("write_all_ms") if f else None
        cell = lambda ms: None if ms is None else (f"{ms:,.0f} ({ms / fl:.2f}x)" if fl else ms)
        per_port = None
        if smallest and d["ports"] > smallest["ports"]:
            per_port = (d["rss_kib"] - smallest["rss_kib"]) * 1024 / (d["ports"] - smallest["ports"])
        cold = d.get("cold_all_ports_ms")
        created = d.get("cold_created_ms")
        rows.append([n, fl, f"{cold:,.0f} (netdevs created at {created:,.0f})" if created
                     else cold, cell(d.get("restart_ms")),
                     cell(d.get("warm_restart_ms")), cell(d.get("redis_restart_ms")),
                     d.get("overflow_converge_ms"), d["rss_kib"] / 1024, per_port,
                     d.get("get_port_state_rpc_ms"), d.get("portsyncctl_ports_ms"),
                     d.get("get_port_state_ms"),
                     d.get("stream_snapshot_ms"),
                     d.get("watch_snapshot_ms"), d.get("gnmi_snapshot_ms"),
                     f"{d.get('drift_repairs')} / {d.get('drift_repairs_end')}",
                     "; ".join(f"{k}: {len(v)} ports" for k, v in d.get("wrong", {}).items())
                     or "none"])
    if rows:
        table("Scale: ms until STATE_DB equals the kernel (x the floor probe's dump + one "
              "pipelined write per port, same run)",
              ["ports", "floor ms", "cold start", "daemon restart", "warm restart",
               "Redis restart (empty)", "overflow re-dump (after the storm)", "RSS MiB",
               "RSS bytes/port over the smallest run", "GetPortState, every page",
               "portsyncctl ports", "portsyncctl --json ports", "StreamLinkEvents snapshot",
               "WatchLinkEvents snapshot", "gNMI snapshot", "drift repairs",
               "STATE_DB != kernel after"], rows)
        rows = []
        for n, rs in scale:
            for what, p in sorted((rs.get("daemon") or {}).get("phases", {}).items()):
                if p:
                    rows.append([n, what, p.get("startup"), p.get("rewrite"), p.get("init_done")])
        if rows:
            table("Where a restart's time goes (ms after the start rule, from the daemon's log)",
                  ["ports", "start", "startup done (Redis read)",
                   "the dump applied, stale keys deleted (reconcile)", "PortInitDone"], rows)
        rows = []
        for n, rs in scale:
            d = rs.get("daemon") or {}
            a, b = d.get("latency_alone"), d.get("latency_during_snapshots")
            if a and b:
                rows.append([n, a["count"], a["p50_us"], a["p99_us"], a["max_us"], b["count"],
                             b["p50_us"], b["p99_us"], b["max_us"],
                             d.get("snapshots_during_latency"), d.get("snapshot_clients_nice", 0)])
        if rows:
            table("STATE_DB latency (µs, kernel change to STATE_DB, 64 of the ports) alone and "
                  "while new streams' snapshots and GetPortState pages of every port are taken",
                  ["ports", "events", "p50 alone", "p99 alone", "max alone", "events",
                   "p50 during", "p99 during", "max during", "snapshots taken meanwhile",
                   "the snapshot clients' nice"], rows)

    rows = [[r["ports"], api, r.get(f"{key}_snapshot_ms"), r.get(f"{key}_snapshot_client_cpu_ms"),
             r.get(f"{key}_snapshot_daemon_cpu_ms")]
            for r in results if r["scenario"] == "scale" and r["who"] == "daemon"
            for api, key in (("StreamLinkEvents", "stream"), ("WatchLinkEvents", "watch"),
                             ("gNMI Subscribe", "gnmi"))
            if r.get(f"{key}_snapshot_client_cpu_ms") is not None]
    if rows:
        table("A new stream's snapshot of every port: ms until it is in, and CPU ms: the client's "
              "(psbench, from its start: connecting, then receiving and decoding every message) "
              "and the daemon's meanwhile",
              ["ports", "API", "snapshot ms", "client CPU", "daemon CPU"], rows)

    rows = []
    for r in results:
        if r["scenario"] != "restarts":
            continue
        for observe in dict.fromkeys(x["observe"] for x in r["runs"]):
            runs = [x for x in r["runs"] if x["observe"] == observe]
            for rnd in sorted({x["round"] for x in runs}):
                f = next(x for x in runs if x["round"] == rnd and x["who"] == "floor")
                d = next(x for x in runs if x["round"] == rnd and x["who"] == "daemon")
                over = f"{d['ms'] / f['ms']:.2f}x" if d["ms"] and f["ms"] else "-"
                rows.append([r["ports"], f"{observe} ({d['observed_by']})", rnd + 1, f["ms"],
                             f["own_ms"], d["ms"], over])
    if rows:
        table("Restart of the daemon alone against the floor, alternating in one world (ms until "
              "every port is in STATE_DB; the floor's own time from its log, from its main work's "
              "start, after exec and loading)",
              ["ports", "watched by", "round", "floor", "floor, its own time", "daemon",
               "daemon / floor"], rows)

    rows = []
    for (sc, n, subs, api), rs in sorted(by.items()):
        if sc != "soak":
            continue
        for who, r in rs.items():
            smp = r["samples"]
            first, warm, last = smp[0], smp[min(2, len(smp) - 1)], smp[-1]
            rows.append([n, who, r["rate"], r.get("flaps_per_s"), r["subscribers"], r["seconds"],
                         sum(x["events"] for x in smp), first["rss_kib"] / 1024,
                         warm["rss_kib"] / 1024, last["rss_kib"] / 1024,
                         f"{warm['fds']} -> {last['fds']}",
                         f"{warm['threads']} -> {last['threads']}",
                         max(x.get("cpu_ms_per_s", 0) for x in smp),
                         max(x["converge_ms"] or 0 for x in smp),
                         sum(x.get("state_db_wrong", 0) for x in smp),
                         last.get("drift_repairs"), sum(x.get("stream_lost", 0) for x in smp),
                         sum(1 for x in smp if x.get("redis_restarted")),
                         cycle_rss(r.get("rss_cycles") or []),
                         "; ".join(r["failures"]) or "none"])
    if rows:
        table("Soak", ["ports", "who", "MTU events/s", "flaps/s", "subscribers", "seconds",
                       "kernel events", "RSS MiB first", "after warm-up", "last", "fds",
                       "threads", "worst CPU ms/s", "worst converge ms", "STATE_DB != kernel",
                       "drift repairs", "lost events", "Redis restarts",
                       "RSS MiB per Redis-restart cycle after warm-up, highest / lowest: first "
                       "cycle -> last", "failures"], rows)

    rows = []
    for (sc, n, subs, api), rs in sorted(by.items()):
        if sc == "latency" and subs:
            d = rs.get("daemon", {})
            stream = d.get("stream") or {}
            ours = "WatchLinkEvents" if api == "watch" else "StreamLinkEvents"
            for name, key in ((ours, "latency"), ("gNMI", "gnmi_latency")):
                s = stream.get(key) or {}
                if not s.get("count"):
                    continue
                rows.append([n, f"{subs} {api}".strip(), name, d.get("all", {}).get("p50_us"),
                             d.get("all", {}).get("p99_us"), s.get("count"), s.get("p50_us"),
                             s.get("p99_us"), s.get("max_us"), d.get("subscriber_missed")])
    if rows:
        table("Streaming: kernel change -> each subscriber (µs)",
              ["ports", "subscribers", "API", "STATE_DB p50", "STATE_DB p99", "deliveries",
               "subscriber p50", "subscriber p99", "max", "missed"], rows)
    text = "\n".join(lines) + "\n"
    with open(os.path.join(out_dir, "summary.md"), "w") as f:
        f.write(text)
    return text


def plots(results, out_dir):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed (python3-matplotlib): no plots", file=sys.stderr)
        return
    lat = [r for r in results if r["scenario"] == "latency" and not r.get("subscribers")]
    if lat:
        fig, ax = plt.subplots(figsize=(8, 5))
        for r in lat:
            xs = sorted(r["samples_us"])
            if xs:
                ys = [(i + 1) / len(xs) for i in range(len(xs))]
                ax.plot(xs, ys, label=f"{r['who']} N={r['ports']}",
                        linestyle="-" if r["who"] == "daemon" else "--")
        ax.set_xscale("log")
        ax.set_xlabel("kernel change -> STATE_DB notification (µs, log)")
        ax.set_ylabel("fraction of events")
        ax.set_title("Single-event latency (CDF)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
        fig.savefig(os.path.join(out_dir, "latency_cdf.png"), dpi=100)
        plt.close(fig)
    storms = [r for r in results if r["scenario"] == "storm" and not r.get("streaming")]
    if storms:
        fig, axes = plt.subplots(1, len({r["ports"] for r in storms}), figsize=(12, 4),
                                 squeeze=False)
        for ax, n in zip(axes[0], sorted({r["ports"] for r in storms})):
            for r in storms:
                if r["ports"] != n:
                    continue
                t = [p["t_ms"] / 1000 for p in r["timeline"]]
                if r["who"] == "daemon":
                    ax.plot(t, [p["kernel"] / 1e3 for p in r["timeline"]], "k:",
                            label="kernel events")
                ax.plot(t, [p["state_db"] / 1e3 for p in r["timeline"]],
                        label=f"STATE_DB ({r['who']})")
            ax.set_title(f"Storm, N={n}")
            ax.set_xlabel("s")
            ax.set_ylabel("thousand events (cumulative)")
            ax.legend()
            ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(os.path.join(out_dir, "storm_timeline.png"), dpi=100)
        plt.close(fig)
    soaks = [r for r in results if r["scenario"] == "soak"]
    if soaks:
        fig, axes = plt.subplots(3, 1, figsize=(9, 8), sharex=True)
        for r in soaks:
            t = [x["t_s"] / 60 for x in r["samples"]]
            axes[0].plot(t, [x["rss_kib"] / 1024 for x in r["samples"]], label="RSS MiB")
            axes[1].plot(t, [x["fds"] for x in r["samples"]], label="open files")
            axes[1].plot(t, [x["threads"] for x in r["samples"]], label="threads")
            axes[2].plot(t, [x.get("cpu_ms_per_s", 0) for x in r["samples"]],
                         label="CPU ms/s over the chunk")
            restarts = [x["t_s"] / 60 for x in r["samples"] if x.get("redis_restarted")]
            for ax in axes:
                for x in restarts:
                    ax.axvline(x, color="grey", alpha=0.2)
        axes[0].set_ylim(bottom=0)
        axes[1].set_ylim(bottom=0)
        axes[2].set_ylim(bottom=0)
        axes[2].set_xlabel("minutes (grey: a Redis restart in that chunk)")
        for ax in axes:
            ax.legend(loc="lower right")
            ax.grid(alpha=0.3)
        r0 = soaks[0]
        axes[0].set_title(f"Soak, {r0['ports']} ports: {r0['rate']} MTU events/s, "
                          f"{r0.get('flaps_per_s')} flaps/s, {r0.get('churn_ports')} netdevs "
                          f"re-created, {r0['subscribers']} subscribers replaced every chunk")
        fig.tight_layout()
        fig.savefig(os.path.join(out_dir, "soak.png"), dpi=100)
        plt.close(fig)
    streams = [r for r in results if r["scenario"] == "latency" and r.get("subscribers")
               and r.get("stream")]
    if streams:
        fig, ax = plt.subplots(figsize=(8, 5))
        for r in streams:
            xs = sorted(r["stream"]["latency_sample_us"])
            if xs:
                ax.plot(xs, [(i + 1) / len(xs) for i in range(len(xs))],
                        label=f"{r['subscribers']} subscribers ({r.get('api', 'portsync')})")
        ax.set_xscale("log")
        ax.set_xlabel("kernel change -> subscriber receives it (µs, log)")
        ax.set_ylabel("fraction of deliveries")
        ax.set_title(f"StreamLinkEvents latency (CDF), N={streams[0]['ports']}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
        fig.savefig(os.path.join(out_dir, "stream_latency_cdf.png"), dpi=100)
        plt.close(fig)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="Example: bench/run.py --scenarios latency --ports 64")
    p.add_argument("--daemon", default=DEFAULT_DAEMON,
                   help="command template of the daemon under test (default: this build)")
    p.add_argument("--label", default="portsyncd", help="names the results directory")
    p.add_argument("--scenarios", default=",".join(SCENARIOS),
                   help=f"comma-separated, from {','.join(SCENARIOS)},soak,scale,restarts")
    p.add_argument("--ports", default="64,1024,4096", help="port counts (comma-separated)")
    p.add_argument("--events", type=int, default=2000, help="events per latency run")
    p.add_argument("--repeat", type=int, default=3,
                   help="latency and startup runs per port count, alternating daemon and floor")
    p.add_argument("--gap-us", type=int, default=3000, help="idle time between latency events")
    p.add_argument("--storm-seconds", type=float, default=5.0)
    p.add_argument("--storm-rate", type=int, default=0,
                   help="storm: MTU changes per second (0: as fast as the kernel takes them; a "
                        "fixed rate leaves CPU to spare, so CPU per event does not depend on how "
                        "the two vCPUs happen to be shared)")
    p.add_argument("--idle-seconds", type=float, default=10.0)
    p.add_argument("--subscribers", default="1,100,1000",
                   help="streaming scenario subscriber counts")
    p.add_argument("--stream-apis", default="portsync,watch,gnmi,both",
                   help="streaming scenario APIs: portsync (StreamLinkEvents), watch "
                        "(WatchLinkEvents), gnmi (Subscribe), both (the subscriber count of "
                        "StreamLinkEvents and of gNMI at once)")
    p.add_argument("--stream-ports", type=int, default=64,
                   help="ports in the streaming latency runs")
    p.add_argument("--stream-storm-ports", type=int, default=1024,
                   help="ports in the streaming storm runs")
    p.add_argument("--scale-latency-events", type=int, default=1024,
                   help="scale: kernel changes timed alone and again during snapshots")
    p.add_argument("--start-observe", choices=("events", "polls"), default="events",
                   help="how psbench startup sees ports written, for every start timed: events "
                        "(STATE_DB's hset keyevent notifications, each port read back; polls when "
                        "the server has none) or polls (every missing port read every ms, the "
                        "method before 2026-12-07: at 100,000 ports it takes most of a CPU)")
    p.add_argument("--restart-rounds", type=int, default=3,
                   help="restarts: rounds of (floor, daemon) per way of watching")
    p.add_argument("--restart-observe", default="events,polls",
                   help="restarts: the ways psbench startup watches, alternating (events, polls)")
    p.add_argument("--scale-load-nice", type=int, default=0,
                   help="scale: the nice value of the clients taking snapshots during the latency "
                        "run (19 stands for collectors on other machines: on this one their own "
                        "CPU competes with the daemon's engine)")
    p.add_argument("--soak-seconds", type=float, default=600,
                   help="soak scenario length (not in the default scenarios)")
    p.add_argument("--soak-chunk", type=float, default=60, help="soak sampling period, s")
    p.add_argument("--soak-rate", type=int, default=100, help="soak MTU storm rate, events/s")
    p.add_argument("--soak-flaps", type=int, default=20, help="soak carrier flaps per second")
    p.add_argument("--soak-churn-ports", type=int, default=16,
                   help="soak netdevs deleted and created again every --soak-recreate s")
    p.add_argument("--soak-recreate", type=float, default=10)
    p.add_argument("--soak-redis-every", type=int, default=10,
                   help="kill and restart Redis every this many chunks (0: never)")
    p.add_argument("--soak-warmup", type=int, default=2, help="chunks before growth counts")
    p.add_argument("--soak-sanitized", action="store_true",
                   help="a sanitizer build (ASan): no RSS rule (its quarantine holds freed "
                        "memory); the daemon must exit 0 after SIGTERM (LeakSanitizer's check)")
    p.add_argument("--soak-subscribers", type=int, default=12,
                   help="a third each: StreamLinkEvents, gNMI, WatchLinkEvents")
    p.add_argument("--no-floor", action="store_true",
                   help="skip the floor probe runs (not in restarts: the floor is its comparison)")
    p.add_argument("--keyspace-events", default="AKE",
                   help="the private Redis' notify-keyspace-events, for every scenario (default "
                        "AKE, as SONiC's database runs; the latency probe needs K and h)")
    p.add_argument("--out", help="results directory (default bench/results/<label>-<time>)")
    p.add_argument("--replot", metavar="DIR",
                   help="only redo the table and plots of an earlier run's results.json")
    args = p.parse_args()
    if args.replot:
        with open(os.path.join(args.replot, "results.json")) as f:
            results = json.load(f)["results"]
        print(report(results, args.replot))
        plots(results, args.replot)
        return
    if os.geteuid() != 0:
        sys.exit("run.py needs root (ip netns)")
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda s, f: (_close_all(), os._exit(128 + s)))
    scenarios = args.scenarios.split(",")
    ports = [int(x) for x in args.ports.split(",")]
    subs = [int(x) for x in args.subscribers.split(",") if x]
    args.max_subscribers = max(subs) if "streaming" in scenarios else 100
    floor_cmd = os.path.join(BUILD, "bench", "psbench") + " floor --redis {redis_socket}"
    out_dir = args.out or os.path.join(
        HERE, "results", f"{args.label}-{datetime.datetime.now():%Y%m%d-%H%M%S}")
    os.makedirs(out_dir, exist_ok=True)

    results = []
    runs = {"latency": scenario_latency, "storm": scenario_storm, "startup": scenario_startup,
            "footprint": scenario_footprint, "soak": scenario_soak, "scale": scenario_scale}
    whos = [("daemon", args.daemon, False)] + ([] if args.no_floor else
                                                [("floor", floor_cmd, True)])
    try:
        for sc in scenarios:
            if sc == "restarts":
                for n in ports:
                    print(f"restarts: {n} ports, daemon and floor alternating", file=sys.stderr,
                          flush=True)
                    results.append({**scenario_restarts(args, n, args.daemon, floor_cmd),
                                    "who": "daemon", "ipv6": False})
                continue
            if sc == "streaming":
                # Per API: k StreamLinkEvents streams ("portsync"), k gNMI Subscribe streams
                # ("gnmi"), or k of each at once ("both").
                apis = args.stream_apis.split(",")
                counts = lambda api, k: (k if api in ("portsync", "watch", "both") else 0,
                                         k if api in ("gnmi", "both") else 0,
                                         api == "watch")
                for api in apis:
                    for k in subs:
                        print(f"streaming: latency, {args.stream_ports} ports, {k} subscribers "
                              f"({api})", file=sys.stderr, flush=True)
                        r = scenario_latency(args, args.stream_ports, args.daemon, False,
                                             *counts(api, k))
                        results.append({**r, "who": "daemon", "subscribers": k, "api": api,
                                        "streaming": True})
                print(f"streaming: storm, {args.stream_storm_ports} ports, no subscribers",
                      file=sys.stderr, flush=True)
                r = scenario_storm(args, args.stream_storm_ports, args.daemon, False)
                results.append({**r, "who": "daemon", "subscribers": 0, "streaming": True})
                for api in apis:
                    for k in subs:
                        print(f"streaming: storm, {args.stream_storm_ports} ports, {k} "
                              f"subscribers ({api})", file=sys.stderr, flush=True)
                        r = scenario_storm(args, args.stream_storm_ports, args.daemon, False,
                                           *counts(api, k))
                        results.append({**r, "who": "daemon", "subscribers": k, "api": api,
                                        "streaming": True})
                continue
            for n in ports:
                if sc == "startup":
                    # Repeats alternate too; each figure is the median of the repeats.
                    per_who = {who: [] for who, _, _ in whos}
                    for rep in range(args.repeat):
                        for who, cmd, floor in whos:
                            print(f"{sc}: {n} ports, {who}, run {rep + 1}/{args.repeat}",
                                  file=sys.stderr, flush=True)
                            per_who[who].append(runs[sc](args, n, cmd, floor))
                    for who, rs in per_who.items():
                        merged = {"scenario": "startup", "ports": n, "who": who, "ipv6": n <= 64,
                                  "repeats": rs}
                        for key in rs[0]:
                            if key.endswith("_ms"):
                                vals = sorted(r[key] for r in rs if r.get(key) is not None)
                                merged[key] = vals[len(vals) // 2] if vals else None
                        results.append(merged)
                    continue
                if sc == "latency":
                    # Repeats alternate daemon and floor, so a noisy moment of the machine
                    # lands on both; percentiles are over every event of every repeat.
                    per_who = {who: [] for who, _, _ in whos}
                    for rep in range(args.repeat):
                        for who, cmd, floor in whos:
                            print(f"{sc}: {n} ports, {who}, run {rep + 1}/{args.repeat}",
                                  file=sys.stderr, flush=True)
                            per_who[who].append(runs[sc](args, n, cmd, floor))
                    for who, rs in per_who.items():
                        results.append({**merge_latency(rs), "who": who, "ipv6": n <= 64})
                    continue
                for who, cmd, floor in whos:
                    print(f"{sc}: {n} ports, {who}", file=sys.stderr, flush=True)
                    r = runs[sc](args, n, cmd, floor)
                    r.update(who=who, ipv6=n <= 64)
                    results.append(r)
    finally:
        _close_all()
        meta = {"date": datetime.datetime.now().isoformat(timespec="seconds"),
                "machine": {"cpus": os.cpu_count(), "kernel": platform.release(),
                            "redis": sh("redis-server", "--version").stdout.strip()},
                "daemon": args.daemon, "argv": sys.argv, "results": results}
        with open(os.path.join(out_dir, "results.json"), "w") as f:
            json.dump(meta, f, indent=1)
    print(report(results, out_dir))
    plots(results, out_dir)
    print(f"results: {out_dir}", file=sys.stderr)
    failed = [f for r in results for f in r.get("failures", [])]
    if failed:
        sys.exit("FAILED: " + "; ".join(failed))


if __name__ == "__main__":
    main()
