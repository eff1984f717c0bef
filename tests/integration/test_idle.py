"""An idle daemon is quiet: none of its own threads wakes up while nothing happens.

docs/ARCHITECTURE.md lists every thread. Ours are named (ps-writer, ps-health, ps-keyspace,
ps-kicker, ps-signals, ps-metrics, and the engine thread, the main thread); with keyspace
notifications on, the only timed wake-ups left are the backstop audit and the keyspace watcher's
recheck, both a minute apart. gRPC's own threads (grpc_global_timer, timer_manager,
nexting_thread, grpcpp_sync_server) wake a few times a second and are not ours to change: this
test leaves them out and bench/run.py's footprint scenario measures them.

Not a timing test: an idle thread of ours that wakes at all is the defect, so the assertion is
zero. The window only has to be longer than any period we would be tempted to add (the polls'
are 1 s and 5 s), and the quiet that precedes it is waited for, not slept.
"""
import os
import time
import unittest

from harness import IntegrationTest, wait_until

WINDOW_S = 6.0


def thread_switches(pid):
    """{tid: (name, context switches)} for the threads of ours in process `pid`: the main thread
    (the engine thread) and those we name ps-*. Others keep the process' name "portsyncd" when
    their creator does not name them (ThreadSanitizer's background thread, which wakes
    periodically, is one) and are not ours."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                st = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
        except OSError:
            continue  # a thread that just ended
        if int(tid) == pid or name.startswith("ps-"):
            out[tid] = (name, int(st["voluntary_ctxt_switches"]) +
                        int(st["nonvoluntary_ctxt_switches"]))
    return out


class IdleTest(IntegrationTest):
    def test_an_idle_daemon_wakes_none_of_its_threads(self):
        h = self.h
        h.state.config_set("notify-keyspace-events", "AKE")
        ports = ["Ethernet0", "Ethernet4", "Ethernet8"]
        h.configure_ports(ports)
        # The daemon runs in the test's own namespace: its loopback, its port.
        conf = h.write_config('[metrics]\nlisten = "127.0.0.1:9108"\n')
        d = h.daemon(config=conf)
        d.wait_log("keyspace notifications: subscribed")
        h.ns.add_ports(ports)
        h.wait_converged()
        wait_until(lambda: h.appl.exists("_PORT_TABLE:PortInitDone"), what="PortInitDone")
        pid = d.proc.pid
        threads = thread_switches(pid)
        self.assertIn(str(pid), threads)  # the engine thread
        names = sorted({name for name, _ in threads.values()})
        for name in ("ps-writer", "ps-health", "ps-keyspace", "ps-signals",
                     "ps-kicker", "ps-metrics"):
            self.assertIn(name, names)

        # Quiet first: the last changes' trailing work (the health pass a second after them,
        # the subscription's audit) is over once two samples a second apart agree.
        last = {}

        def settled():
            nonlocal last
            now = thread_switches(pid)
            same = now == last
            last = now
            return same
        wait_until(settled, timeout=20, interval=1.0, what="the daemon's threads to settle")

        before = thread_switches(pid)
        time.sleep(WINDOW_S)  # the measurement window itself
        after = thread_switches(pid)
        woke = {f"{name} ({tid})": after[tid][1] - n for tid, (name, n) in before.items()
                if tid in after and after[tid][1] != n}
        self.assertEqual(woke, {}, f"threads of ours woke in {WINDOW_S} idle seconds")
        self.stop_clean(d)


if __name__ == "__main__":
    unittest.main(verbosity=2)
