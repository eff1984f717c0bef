"""Faults around the daemon (hardening): Redis paused, slow, hung, absent for 30 s at startup,
restarted from an old snapshot, flapping; the daemon killed mid-storm and warm-restarted; a
netlink overflow as GetHealth shows it. Each test ends with STATE_DB converged to the kernel and
prints the figure it measured.

Already covered in test_resilience.py and not repeated here: Redis SIGKILLed in a storm and
restarted empty, Redis absent for 1.5 s at startup (cold), the daemon SIGSTOPped into a netlink
overflow (exit counters only), drift, refused writes; in test_startup.py: SIGKILL mid-storm then a
restart-marker restart, warm start from a stopped daemon.
"""

import os
import signal
import threading
import time
import unittest

import api
from harness import (IntegrationTest, Harness, RssSampler, start_redis_seeded,
                     storm_in_background, wait_until)

PORTS = [f"Ethernet{i * 4}" for i in range(48)]
OURS = {"state": "ok", "admin_status": "up", "netdev_oper_status": "up", "mtu": "9100"}

# Memory while Redis cannot take writes is bounded by the number of ports, not by the number of
# events or the length of the outage. What holds it (read in the sources):
#  - core/port_model.cc PortModel::MarkDirty: a change only sets Port::dirty and inserts the name
#    into the std::set `dirty_`: one entry per port however many messages arrive; the state is the
#    Port itself (latest flags/mtu), and a deletion is the single bit Port::delete_first.
#  - PortModel::TakeDirty turns that set into at most one StateWrite per port (latest state);
#    core/state_writer.cc StateWriter::Flush takes it under the model lock and sends it without
#    the lock, so while the writer thread waits on Redis (StateWriter::Run, Flush's pipeline, or
#    reconnecting with backoff) nothing is queued behind it: the next TakeDirty merges.
#  - The engine thread (KernelFollower::ProcessNetlink) never talks to Redis after startup; each
#    batch's PortModel::changes_ is drained at once by SharedModel::PublishChangesLocked into the
#    EventHub, whose replay ring and per-stream backlogs are bounded by grpc.replay_buffer
#    (4096) and grpc.stream_queue_limit (1024) (server/stream/event_hub.cc).
# So the bound is ~ports x sizeof(Port) + 4096 shared events: a few MiB here.
RSS_GROWTH_LIMIT_KIB = 32 * 1024  # generous: glibc arenas and gRPC buffers included


class FaultTest(IntegrationTest):
    def connect(self, d):
        channel, stub = api.connect(d.socket)
        self.addCleanup(channel.close)
        return stub

    def start_with_debug_redis(self):
        """Redis 7 refuses DEBUG unless `enable-debug-command` allows it (default "no");
        "local" allows it from unix-socket and loopback clients."""
        self.h.redis.kill()
        self.h.redis.start(extra=["--enable-debug-command", "local"])


class RedisPausedTest(FaultTest):
    def test_writes_paused_mid_storm_memory_stays_bounded_then_converges(self):
        h = self.h
        d = h.start_converged(PORTS)
        stub = self.connect(d)
        before = api.health(stub).counters
        sampler = RssSampler(d.proc.pid).start()
        storm = storm_in_background(h, PORTS, 60, fault_at=30)
        storm.wait_midway()
        # Every client's writes wait (EVAL and HSET included); reads go on. Long on purpose:
        # it ends with CLIENT UNPAUSE, so the pause lasts exactly as long as we decide.
        admin = h.redis.client(0)
        self.addCleanup(admin.close)
        admin.execute_command("CLIENT", "PAUSE", 30000, "WRITE")
        paused = time.monotonic()
        storm.resume()  # the second half of the storm happens while Redis takes no writes
        storm.join()
        time.sleep(max(0.0, 2.0 - (time.monotonic() - paused)))
        during = api.health(stub)  # the gRPC side answers while the writer waits on Redis
        self.assertTrue(d.running(), d.output())
        self.assertFalse(h.converged(), "STATE_DB cannot have followed the storm while paused")
        admin.execute_command("CLIENT", "UNPAUSE")
        unpaused = time.monotonic()
        took = h.wait_converged()
        peak = sampler.stop()
        after = api.health(stub).counters
        events = during.counters.netlink_messages - before.netlink_messages
        print(f"Redis writes paused {unpaused - paused:.2f}s during a storm of {events} netlink "
              f"messages on {len(PORTS)} ports: RSS {sampler.baseline} KiB -> peak {peak} KiB "
              f"(+{peak - sampler.baseline} KiB, {sampler.samples} samples); "
              f"converged {took:.3f}s after CLIENT UNPAUSE")
        self.assertGreater(events, 10 * len(PORTS), "the storm was too small to show a bound")
        self.assertLess(peak - sampler.baseline, RSS_GROWTH_LIMIT_KIB)
        # Redis being stuck never stalled netlink reading (COMPATIBILITY.md 7.1 / ARCHITECTURE).
        self.assertEqual(after.netlink_overruns, 0)
        self.assertLess(took, 3.0)
        self.stop_clean(d)


class RedisSlowTest(FaultTest):
    def debug_sleep_mid_storm(self, seconds):
        """DEBUG SLEEP from another client while a storm runs; while Redis sleeps, a port is
        deleted and a configured one is created. Returns once Redis has answered again."""
        h = self.h
        storm = storm_in_background(h, PORTS[1:32], 30, fault_at=15)  # not Ethernet0 (deleted)
        storm.wait_midway()
        sleeper = h.redis.client(0)
        self.addCleanup(sleeper.close)
        slept = threading.Thread(target=sleeper.execute_command,
                                 args=("DEBUG", "SLEEP", seconds))
        slept.start()
        time.sleep(0.1)  # the DEBUG SLEEP reaches Redis (no harm if it is later: it still sleeps)
        storm.resume()
        h.ns.ip("link", "del", "Ethernet0")
        h.ns.add_port("Ethernet200")
        storm.join()
        slept.join()

    def test_debug_sleep_within_the_deadline_loses_nothing_and_needs_no_reconnect(self):
        h = self.h
        self.start_with_debug_redis()
        d = h.start_converged(PORTS[:32], configured=PORTS[:32] + ["Ethernet200"])
        stub = self.connect(d)
        connects = api.health(stub).counters.redis_reconnects
        self.debug_sleep_mid_storm(1)
        took = h.wait_converged()
        print(f"Redis slept 1 s (deadline 2 s) mid-storm: converged {took:.3f}s after it woke")
        self.assertFalse(h.state.exists("PORT_TABLE|Ethernet0"))
        self.assertEqual(h.state.hgetall("PORT_TABLE|Ethernet200")["state"], "ok")
        # Slow is not broken: the 2 s deadline was not reached, the connections were kept.
        self.assertEqual(api.health(stub).counters.redis_reconnects, connects)
        self.assertNotIn("reconnecting", d.output())
        self.stop_clean(d)

    def test_debug_sleep_past_the_deadline_reconnects_and_converges(self):
        h = self.h
        self.start_with_debug_redis()
        conf = h.write_config("[redis]\ntimeout_ms = 300\n")
        d = h.start_converged(PORTS[:32], configured=PORTS[:32] + ["Ethernet200"], config=conf)
        stub = self.connect(d)
        connects = api.health(stub).counters.redis_reconnects
        self.debug_sleep_mid_storm(1.5)
        took = h.wait_converged()
        print(f"Redis slept 1.5 s (deadline 0.3 s) mid-storm: converged {took:.3f}s after it "
              f"woke; {api.health(stub).counters.redis_reconnects - connects} reconnects")
        self.assertFalse(h.state.exists("PORT_TABLE|Ethernet0"))
        self.assertGreater(api.health(stub).counters.redis_reconnects, connects)
        self.assertIn("reconnecting", d.output())
        self.stop_clean(d)


class RedisHungTest(FaultTest):
    def test_redis_stopped_keeps_its_data_stale_key_removed_new_port_written(self):
        # test_resilience restarts Redis empty, so a port deleted meanwhile has no key left to
        # remove. Here Redis hangs (SIGSTOP) and comes back with everything it had.
        h = self.h
        ports = PORTS[:32]
        d = h.start_converged(ports, configured=ports + ["Ethernet200"])
        stub = self.connect(d)
        connects = api.health(stub).counters.redis_reconnects
        storm = storm_in_background(h, ports, 30, fault_at=15)
        storm.wait_midway()
        os.kill(h.redis.proc.pid, signal.SIGSTOP)
        try:
            storm.resume()
            storm.join()
            h.ns.ip("link", "del", "Ethernet0")
            h.ns.add_port("Ethernet200")
            h.ns.wire_ip("link", "set", "w4", "down")
            # Past redis.timeout_ms (2 s) the daemon calls the connection broken.
            wait_until(lambda: api.health(stub).status == api.pb.SERVING_STATUS_DEGRADED,
                       timeout=6, what="GetHealth DEGRADED while Redis hangs")
            self.assertTrue(d.running(), d.output())
        finally:
            os.kill(h.redis.proc.pid, signal.SIGCONT)
        took = h.wait_converged()
        print(f"Redis hung (SIGSTOP) ~2.5 s mid-storm: converged {took:.3f}s after SIGCONT")
        self.assertFalse(h.state.exists("PORT_TABLE|Ethernet0"), "stale key left behind")
        self.assertEqual(h.state.hget("PORT_TABLE|Ethernet200", "state"), "ok")
        self.assertEqual(h.state.hget("PORT_TABLE|Ethernet4", "netdev_oper_status"), "down")
        wait_until(lambda: api.health(stub).status == api.pb.SERVING_STATUS_SERVING,
                   what="GetHealth SERVING again")
        self.assertGreater(api.health(stub).counters.redis_reconnects, connects)
        d.wait_log("Redis reachable again after")
        self.stop_clean(d)


class RedisSnapshotTest(FaultTest):
    def test_redis_restarted_from_an_old_snapshot_is_corrected(self):
        # SONiC's Redis may come back from a dump (warm reboot): STATE_DB then holds *old*
        # values of ours, and keys of ports deleted since, rather than nothing.
        h = self.h
        ports = PORTS[:16]
        d = h.start_converged(ports, configured=ports + ["Ethernet200"])
        h.state.save()  # dump.rdb in the test's directory, loaded by the next redis-server
        h.storm(ports, 11)  # ends with every port admin down: every value of ours changes
        h.ns.ip("link", "del", "Ethernet4")
        h.ns.add_port("Ethernet200")
        h.wait_converged()
        h.redis.kill()
        h.redis.start()
        self.assertEqual(h.state.hget("PORT_TABLE|Ethernet4", "state"), "ok")  # old data is back
        took = h.wait_converged()
        print(f"Redis restarted from a stale snapshot: converged {took:.3f}s after it was back")
        # A Redis restarted while the kernel is quiet is noticed at the writer's next command:
        # the LOGGER poll (redis.logger_poll_ms, 1 s) at the latest, then a reconnect.
        self.assertLess(took, 1.5)
        self.assertFalse(h.state.exists("PORT_TABLE|Ethernet4"))
        self.stop_clean(d)


class RedisFlappingTest(FaultTest):
    def test_redis_killed_and_restarted_five_times_during_a_storm(self):
        h = self.h
        ports = PORTS[:32]
        d = h.start_converged(ports)
        sampler = RssSampler(d.proc.pid).start()
        storm = storm_in_background(h, ports, 80)
        for _ in range(5):
            h.redis.kill()
            time.sleep(0.15)
            h.redis.start()
            h.configure_ports(ports)  # the other daemons re-create APPL_DB as they come back
            time.sleep(0.1)
        storm.join()
        took = h.wait_converged()
        peak = sampler.stop()
        print(f"Redis restarted 5 times in a storm: converged {took:.3f}s after the storm; "
              f"RSS {sampler.baseline} -> peak {peak} KiB")
        self.assertLess(peak - sampler.baseline, RSS_GROWTH_LIMIT_KIB)
        self.stop_clean(d)
        self.assertGreaterEqual(d.counters()["reconciles"], 2)


class RedisAbsentAtStartupTest(FaultTest):
    WAIT = 30.0

    def test_redis_unreachable_for_30s_at_startup(self):
        # Two daemons ride out the same 30 s without Redis, each with its own namespaces and
        # Redis: a restart (the marker in its runtime directory: it crashed while the database
        # was down too) and a cold start (boot order: portsyncd before Redis).
        h = self.h  # restart
        c = Harness("absent-cold")  # cold
        self.addCleanup(c.close)
        ports = PORTS[:8]
        os.makedirs(h.runtime_dir, exist_ok=True)
        open(os.path.join(h.runtime_dir, "portsyncd.started"), "w").close()
        h.ns.add_ports(ports)
        c.ns.add_ports(ports[:4])  # old interfaces for the cold start
        c.ns.add_port("PortChannel1")  # not an Ethernet: published like a port
        for x in (h, c):
            x.redis.kill()
        d, dc = h.daemon(), c.daemon()
        started = time.monotonic()
        d.wait_log("startup: waiting for Redis")
        dc.wait_log("startup: waiting for Redis")
        stub = self.connect(d)
        reply = api.health(stub)  # gRPC is up before Redis: it says why it is not serving
        self.assertEqual(reply.status, api.pb.SERVING_STATUS_NOT_SERVING)
        components = {comp.name: comp.status for comp in reply.components}
        self.assertEqual(components["redis"], api.pb.SERVING_STATUS_DEGRADED)
        self.assertEqual(components["initial_sync"], api.pb.SERVING_STATUS_NOT_SERVING)
        # Cold or restart is decided from Redis: not yet.
        self.assertEqual(reply.start_mode, "pending")
        # While the engine waits for Redis, the kernel changes: the netlink socket queues it.
        time.sleep(2)
        h.ns.ip("link", "del", "Ethernet4")
        h.ns.add_port("Ethernet200")
        h.ns.wire_ip("link", "set", "w8", "down")
        h.ns.ip("link", "set", "Ethernet12", "mtu", "4000")
        time.sleep(max(0.0, started + self.WAIT - time.monotonic()))
        pid, pid_c = d.proc.pid, dc.proc.pid
        self.assertTrue(d.running() and dc.running(), d.output() + dc.output())

        def seed_restart(db):
            # What Redis holds when it comes back: APPL_DB as orchagent left it, a stale key of
            # ours for the port deleted meanwhile, and another daemon's key.
            for p in ports + ["Ethernet200"]:
                db(4).hset(f"PORT|{p}", mapping={"lanes": "0", "mtu": "9100"})
                db(0).hset(f"PORT_TABLE:{p}", mapping={"admin_status": "up", "mtu": "9100"})
            db(0).hset("PORT_TABLE:PortConfigDone", "count", str(len(ports) + 1))
            db(6).hset("PORT_TABLE|Ethernet4", mapping=OURS)
            db(6).hset("PORT_TABLE|Ethernet100", "host_tx_ready", "true")

        def seed_cold(db):
            for p in ports[:4] + ["PortChannel1"]:
                db(4).hset(f"PORT|{p}", mapping={"lanes": "0", "mtu": "9100"})
                db(0).hset(f"PORT_TABLE:{p}", mapping={"admin_status": "up", "mtu": "9100"})

        back = start_redis_seeded(h, seed_restart)
        took = h.wait_converged()
        back_c = start_redis_seeded(c, seed_cold)
        dc.wait_log("startup: cold start")
        c.wait_converged(ignored=set(ports[:4]))
        print(f"Redis unreachable {back - started:.1f}s at startup: restart start converged "
              f"{took:.3f}s after Redis came back; cold start converged "
              f"{time.monotonic() - back_c:.3f}s after its Redis came back")
        self.assertLess(took, 3.0)  # startup retries every reconnect_max_ms (0.1 s) at most
        # Same processes: waiting is not a failure, nothing restarted them.
        self.assertEqual((d.proc.pid, dc.proc.pid), (pid, pid_c))
        self.assertTrue(d.running() and dc.running())
        out = d.output()
        self.assertIn("startup: restart start", out)
        waits = [line for line in out.splitlines() if "startup: waiting for Redis" in line]
        self.assertGreaterEqual(len(waits), 3, "one line per 10 s while Redis is unreachable")
        self.assertIn("so far", waits[-1])
        # Restart: the changes made while waiting are in STATE_DB, nothing was set down, the
        # stale key is gone, the other daemon's key is untouched.
        self.assertFalse(h.state.exists("PORT_TABLE|Ethernet4"))
        self.assertEqual(h.state.hget("PORT_TABLE|Ethernet12", "mtu"), "4000")
        self.assertEqual(h.state.hget("PORT_TABLE|Ethernet8", "netdev_oper_status"), "down")
        self.assertEqual(h.state.hgetall("PORT_TABLE|Ethernet100"), {"host_tx_ready": "true"})
        links = h.ns.links()
        for p in set(ports + ["Ethernet200"]) - {"Ethernet4"}:
            self.assertIn("UP", links[p]["flags"], p)
        # Cold: the contract's start, 30 s late: Ethernet netdevs set down, PortChannel1 written.
        self.assertIn("4 old interfaces set down", dc.output())
        links_c = c.ns.links()
        for p in ports[:4]:
            self.assertNotIn("UP", links_c[p]["flags"], p)
        self.assertEqual(set(c.actual_state()), {"PortChannel1"})
        self.assertEqual(c.appl.hgetall("_PORT_TABLE:PortConfigDone"), {"count": "5"})
        self.stop_clean(d)
        self.stop_clean(dc)


class WarmRestartTest(FaultTest):
    def test_sigkill_mid_storm_then_sonic_warm_restart(self):
        h = self.h
        ports = PORTS[:16]
        d = h.start_converged(ports, configured=ports + ["Ethernet200"])
        self.assertEqual(h.state.hget("WARM_RESTART_TABLE|portsyncd", "restore_count"), "0")
        # `config warm_restart enable system`, then the daemon dies in a storm.
        h.state.hset("WARM_RESTART_ENABLE_TABLE|system", "enable", "true")
        # Its last round leaves every port admin up.
        storm = storm_in_background(h, ports, 20, fault_at=10)
        storm.wait_midway()
        d.proc.kill()
        d.proc.wait()
        storm.resume()
        storm.join()
        # While it is down: a port removed (netdev and configuration, as a breakout change
        # does; a port still in CONFIG_DB would rightly hold PortInitDone back), one created.
        # The cold start's publications are cleared so that we see what the warm start
        # publishes.
        h.ns.ip("link", "del", "Ethernet8")
        h.config.delete("PORT|Ethernet8")
        h.appl.delete("PORT_TABLE:Ethernet8")
        h.ns.add_port("Ethernet200")
        h.appl.delete("_PORT_TABLE:PortConfigDone", "_PORT_TABLE:PortInitDone",
                      "_PORT_TABLE:Ethernet0")
        # A fresh runtime directory: no restart marker, so only SONiC's warm restart keeps the
        # ports up (a cold start would set every Ethernet netdev down and ignore it).
        h.runtime_dir += "-warm"
        d2 = h.daemon()
        d2.wait_log("startup: warm start")
        took = h.wait_converged()
        print(f"warm restart after SIGKILL mid-storm: converged {took:.3f}s after the warm start "
              f"was logged")
        self.assertEqual(h.state.hget("WARM_RESTART_TABLE|portsyncd", "restore_count"), "1")
        self.assertFalse(h.state.exists("PORT_TABLE|Ethernet8"), "stale key left behind")
        self.assertEqual(h.state.hget("PORT_TABLE|Ethernet200", "state"), "ok")
        self.assertIn("0 old interfaces set down", d2.output())
        links = h.ns.links()
        for p in [p for p in ports if p != "Ethernet8"] + ["Ethernet200"]:
            self.assertIn("UP", links[p]["flags"], p)
        # Warm: no APPL_DB copy, no PortConfigDone; PortInitDone again.
        wait_until(lambda: h.appl.exists("_PORT_TABLE:PortInitDone"), what="PortInitDone")
        self.assertFalse(h.appl.exists("_PORT_TABLE:PortConfigDone"))
        self.assertFalse(h.appl.exists("_PORT_TABLE:Ethernet0"))
        self.stop_clean(d2)


class OverflowHealthTest(FaultTest):
    def test_forced_overflow_is_visible_in_get_health(self):
        h = self.h
        ports = PORTS[:32]
        h.configure_ports(ports)
        d = h.daemon("--netlink-buffer", "65536")  # 128 KiB granted: ~80 link messages
        d.wait_log("startup: cold start")
        h.ns.add_ports(ports)
        h.wait_converged()
        stub = self.connect(d)
        before = api.health(stub)
        self.assertEqual(before.counters.netlink_overruns, 0)
        os.kill(d.proc.pid, signal.SIGSTOP)
        try:
            h.storm(ports, 10)
            h.ns.ip("link", "del", "Ethernet4")  # its DELLINK is lost in the overflow
        finally:
            os.kill(d.proc.pid, signal.SIGCONT)
        took = h.wait_converged()

        def counted():
            c = api.health(stub).counters
            # (ports_deleted counts once Redis' reply is read, after STATE_DB shows the DEL.)
            return c if (c.netlink_overruns >= 1 and c.netlink_resyncs >= 1 and
                         c.ports_deleted > before.counters.ports_deleted) else None
        counters = wait_until(counted, what="the overrun and its re-dump counted in GetHealth")
        reply = api.health(stub)
        netlink = next(comp for comp in reply.components if comp.name == "netlink")
        print(f"netlink overflow: converged {took:.3f}s after SIGCONT; GetHealth: "
              f"{counters.netlink_overruns} overruns, {counters.netlink_resyncs} resyncs; "
              f"netlink: {netlink.message}")
        self.assertRegex(netlink.message, r"[1-9]\d* overruns recovered by [1-9]\d* re-dumps")
        self.assertGreater(counters.ports_deleted, before.counters.ports_deleted)
        self.assertFalse(h.state.exists("PORT_TABLE|Ethernet4"))
        self.assertEqual(reply.status, api.pb.SERVING_STATUS_SERVING)  # recovered, not degraded
        self.stop_clean(d)


if __name__ == "__main__":
    unittest.main()
