"""The gRPC API on the real daemon (namespace, redis-server, unix-socket gRPC), through the
Python client in api.py: every RPC's success and error codes, streams, resume, limits, Reload."""

import os
import signal
import subprocess
import threading
import time
import unittest

import grpc

import api
from api import pb
from harness import IntegrationTest, wait_until

PORTS = [f"Ethernet{i * 4}" for i in range(8)]


class ApiTest(IntegrationTest):
    config_text = ""
    log_level = "INFO"  # on the command line, which overrides the config file

    def setUp(self):
        super().setUp()
        h = self.h
        h.configure_ports(PORTS + ["Ethernet100"])
        self.d = h.daemon(config=h.write_config(self.config_text) if self.config_text else None,
                          log_level=self.log_level)
        self.d.wait_log("startup: cold start")
        h.ns.add_ports(PORTS)
        h.wait_converged()
        self.channel, self.stub = api.connect(self.d.socket)
        self.addCleanup(self.channel.close)

    def read_until_synced(self, stream):
        return api.read_until_synced(stream)


class GetPortStateTest(ApiTest):
    def test_every_port_in_natural_order_matching_the_kernel(self):
        h = self.h
        h.ns.ip("link", "set", "Ethernet4", "mtu", "9100")
        h.ns.wire_ip("link", "set", "w8", "down")
        h.wait_converged()
        # STATE_DB holds the writes before the daemon has read Redis' replies: wait for its view.
        wait_until(lambda: all(p.state_db_in_sync for p in
                               self.stub.GetPortState(pb.GetPortStateRequest(), timeout=5).ports),
                   what="the daemon to see its writes acknowledged")
        reply = self.stub.GetPortState(pb.GetPortStateRequest(), timeout=5)
        names = [p.name for p in reply.ports]
        self.assertEqual(names, PORTS + ["Ethernet100"])  # natural, not lexicographic
        links = h.ns.links()
        by_name = {p.name: p for p in reply.ports}
        for name in PORTS:
            p = by_name[name]
            self.assertTrue(p.in_kernel and p.in_appl_db and p.in_config_db, name)
            self.assertEqual(p.ifindex, links[name]["ifindex"])
            self.assertEqual(p.mtu, links[name]["mtu"])
            self.assertEqual(p.mac_address, links[name]["address"])
            self.assertTrue(p.state_db_in_sync, name)
        self.assertEqual(by_name["Ethernet4"].mtu, 9100)
        self.assertEqual(by_name["Ethernet8"].oper_status, pb.LINK_STATUS_DOWN)
        self.assertEqual(by_name["Ethernet8"].admin_status, pb.LINK_STATUS_UP)
        self.assertEqual(by_name["Ethernet8"].counters.oper_flaps, 1)
        # Configured but without a netdev: listed, not in the kernel.
        self.assertFalse(by_name["Ethernet100"].in_kernel)
        self.assertEqual(by_name["Ethernet100"].admin_status, pb.LINK_STATUS_UNSPECIFIED)
        self.assertGreater(reply.sequence, 0)
        self.assertTrue(reply.instance_id)
        # The socket is owner and group only; the reload token owner only.
        self.assertEqual(os.stat(self.d.socket).st_mode & 0o777, 0o660)
        token = os.path.join(self.h.runtime_dir, "reload.token")
        self.assertEqual(os.stat(token).st_mode & 0o777, 0o600)

    def test_named_ports_and_errors(self):
        reply = self.stub.GetPortState(pb.GetPortStateRequest(names=["Ethernet8", "Ethernet0"]))
        self.assertEqual([p.name for p in reply.ports], ["Ethernet0", "Ethernet8"])
        cases = [("Ethernet999", grpc.StatusCode.NOT_FOUND, "Ethernet999"),
                 ("", grpc.StatusCode.INVALID_ARGUMENT, "empty"),
                 ("Ethernet12345678", grpc.StatusCode.INVALID_ARGUMENT, "16 bytes"),
                 ("Ether\nnet0", grpc.StatusCode.INVALID_ARGUMENT, "control character")]
        for name, code, text in cases:
            with self.assertRaises(grpc.RpcError) as e:
                self.stub.GetPortState(pb.GetPortStateRequest(names=["Ethernet0", name]))
            self.assertEqual(e.exception.code(), code, name)
            self.assertIn(text, e.exception.details())

    def test_pages_and_a_name_pattern(self):
        names, token, sizes = [], "", []
        while True:
            reply = self.stub.GetPortState(pb.GetPortStateRequest(page_size=3, page_token=token))
            sizes.append(len(reply.ports))
            self.assertEqual(reply.total_size, len(PORTS) + 1)
            names += [p.name for p in reply.ports]
            token = reply.next_page_token
            if not token:
                break
        self.assertEqual(sizes, [3, 3, 3])
        self.assertEqual(names, PORTS + ["Ethernet100"])
        reply = self.stub.GetPortState(pb.GetPortStateRequest(name_pattern="Ethernet1*"))
        self.assertEqual([p.name for p in reply.ports], ["Ethernet12", "Ethernet16", "Ethernet100"])
        with self.assertRaises(grpc.RpcError) as e:
            self.stub.GetPortState(pb.GetPortStateRequest(page_token="Ethernet4"))
        self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)

    def test_thousands_of_names_and_oversized_requests(self):
        many = [f"Ethernet{i}" for i in range(5000)]
        with self.assertRaises(grpc.RpcError) as e:
            self.stub.GetPortState(pb.GetPortStateRequest(names=many))
        self.assertEqual(e.exception.code(), grpc.StatusCode.NOT_FOUND)
        huge = ["x" * 15] * 100_000  # ~1.7 MB, over the 1 MiB request limit
        with self.assertRaises(grpc.RpcError) as e:
            self.stub.GetPortState(pb.GetPortStateRequest(names=huge))
        self.assertEqual(e.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
        self.assertTrue(self.d.running())


class StreamTest(ApiTest):
    # In a sanitizer build (PORTSYNCD_SANITIZER, set by its ctest) the daemon streams several times
    # slower, and the storm below can put the stream more than stream_queue_limit (1,024) events
    # behind: it is then resynced, by design, and "every sequence exactly once" cannot hold. A
    # limit the storm cannot reach keeps that check meaningful there.
    config_text = "[grpc]\nreplay_buffer = 64\nmax_streams = 3\n" + (
        "stream_queue_limit = 1000000\n" if os.environ.get("PORTSYNCD_SANITIZER") else "")

    def test_snapshot_synced_then_every_change_in_order_across_a_storm(self):
        self.check_storm(lambda: self.stub.StreamLinkEvents(pb.StreamLinkEventsRequest()))

    def test_watch_link_events_batches_the_same_events_across_a_storm(self):
        # The batched RPC: the same snapshot, SYNCED and every change once, in order; what
        # differs is only how many events a message carries (reported, not asserted: that
        # depends on how far behind the reader is, which is the scheduler's business).
        watch = []
        self.check_storm(lambda: watch.append(api.Watch(self.stub)) or watch[-1])
        print(f"WatchLinkEvents: {watch[0].batches} messages, the largest with "
              f"{watch[0].largest} events")

    def check_storm(self, open_stream):
        h = self.h
        start = self.stub.GetPortState(pb.GetPortStateRequest()).sequence
        storm = threading.Thread(target=h.storm, args=(PORTS, 300))
        began = time.monotonic()
        storm.start()
        # Subscribe once the storm is under way.
        wait_until(lambda: self.stub.GetPortState(pb.GetPortStateRequest()).sequence > start + 50,
                   interval=0.002, what="the storm to start")
        stream = open_stream()
        events = iter(stream)
        snapshot = self.read_until_synced(events)
        live = []
        reader = threading.Thread(target=lambda: live.extend(events))
        reader.start()
        storm.join()
        storm_seconds = time.monotonic() - began
        h.wait_converged()
        final = self.stub.GetPortState(pb.GetPortStateRequest())
        wait_until(lambda: live and live[-1].sequence >= final.sequence, timeout=10,
                   what=f"events up to {final.sequence}")
        stream.cancel()
        reader.join()
        synced = snapshot[-1].sequence
        self.assertTrue(all(e.type == pb.LinkEvent.TYPE_SNAPSHOT for e in snapshot[:-1]))
        self.assertEqual(sorted(e.port.name for e in snapshot[:-1]),
                         sorted(PORTS + ["Ethernet100"]))
        self.assertLess(synced, final.sequence - 100, "the snapshot was not taken mid-storm")
        # Every sequence after the snapshot exactly once, in order: nothing missing or doubled.
        self.assertEqual([e.sequence for e in live], list(range(synced + 1, final.sequence + 1)))
        self.assertTrue(all(e.type == pb.LinkEvent.TYPE_CHANGED for e in live))
        state = {e.port.name: e.port for e in snapshot[:-1] + live}
        for port in final.ports:
            got = state[port.name]
            self.assertEqual((got.admin_status, got.oper_status, got.mtu),
                             (port.admin_status, port.oper_status, port.mtu), port.name)
        print(f"stream: snapshot at {synced}, {len(live)} live events, final {final.sequence}; "
              f"the storm: {(final.sequence - start) / storm_seconds:.0f} events/s")

    def test_a_new_stream_gets_the_current_state_not_an_old_snapshot_and_old_changes(self):
        # A first stream makes the daemon build a snapshot; changes follow; a stream opened
        # after them must start from a snapshot that holds them (its SYNCED at the sequence
        # GetPortState reports), with no old change replayed as live.
        h = self.h
        first = self.stub.StreamLinkEvents(pb.StreamLinkEventsRequest())
        self.read_until_synced(first)
        first.cancel()
        before = self.stub.GetPortState(pb.GetPortStateRequest()).sequence
        h.ns.batch([f"link set Ethernet4 mtu {1500 + i}" for i in range(1, 41)])
        wait_until(lambda: self.stub.GetPortState(pb.GetPortStateRequest()).sequence
                   >= before + 40, what="40 changes applied")
        now = self.stub.GetPortState(pb.GetPortStateRequest())
        opened = time.time()
        stream = self.stub.StreamLinkEvents(pb.StreamLinkEventsRequest())
        events = self.read_until_synced(stream)
        self.assertEqual(events[-1].sequence, now.sequence)
        mtu = {e.port.name: e.port.mtu for e in events[:-1]}
        self.assertEqual(mtu["Ethernet4"], 1540)
        # Nothing more is queued: the next event is a new change, after the stream opened.
        h.ns.ip("link", "set", "Ethernet0", "mtu", "1600")
        live = next(stream)
        self.assertEqual((live.port.name, live.sequence), ("Ethernet0", now.sequence + 1))
        self.assertGreaterEqual(live.time.seconds + live.time.nanos / 1e9, opened - 1)
        stream.cancel()

    def test_filter_and_removed(self):
        h = self.h
        stream = self.stub.StreamLinkEvents(pb.StreamLinkEventsRequest(names=["Ethernet4"]))
        snapshot = self.read_until_synced(stream)
        self.assertEqual([e.port.name for e in snapshot[:-1]], ["Ethernet4"])
        h.ns.ip("link", "set", "Ethernet0", "mtu", "2000")  # filtered out
        h.ns.ip("link", "del", "Ethernet4")  # goes down (CHANGED), then is deleted
        for event in stream:
            self.assertEqual(event.port.name, "Ethernet4")
            if event.type == pb.LinkEvent.TYPE_REMOVED:
                break
        self.assertFalse(event.port.in_kernel)
        stream.cancel()
        with self.assertRaises(grpc.RpcError) as e:
            next(iter(self.stub.StreamLinkEvents(pb.StreamLinkEventsRequest(names=["bad name"]))))
        self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)

    def test_resume_within_and_beyond_the_replay_buffer(self):
        h = self.h
        stream = self.stub.StreamLinkEvents(pb.StreamLinkEventsRequest())
        last = self.read_until_synced(stream)[-1]
        stream.cancel()
        h.ns.ip("link", "set", "Ethernet0", "mtu", "1600")
        h.ns.ip("link", "set", "Ethernet4", "mtu", "1700")
        wait_until(lambda: self.stub.GetPortState(pb.GetPortStateRequest()).sequence
                   >= last.sequence + 2, what="two events")
        resumed = self.stub.StreamLinkEvents(pb.StreamLinkEventsRequest(
            resume_after=last.sequence, instance_id=last.instance_id))
        first, second = next(resumed), next(resumed)
        self.assertEqual([first.sequence, second.sequence], [last.sequence + 1, last.sequence + 2])
        self.assertEqual([first.port.mtu, second.port.mtu], [1600, 1700])
        resumed.cancel()
        # Without the instance it came from, a sequence cannot be trusted: RESYNC.
        anonymous = self.stub.StreamLinkEvents(pb.StreamLinkEventsRequest(
            resume_after=last.sequence))
        self.assertEqual(next(anonymous).type, pb.LinkEvent.TYPE_RESYNC)
        anonymous.cancel()
        # Beyond the buffer (64 events): RESYNC, then a snapshot and SYNCED.
        h.storm(PORTS, 10)
        h.wait_converged()
        stale = self.stub.StreamLinkEvents(pb.StreamLinkEventsRequest(
            resume_after=last.sequence, instance_id=last.instance_id))
        events = self.read_until_synced(stale)
        self.assertEqual(events[0].type, pb.LinkEvent.TYPE_RESYNC)
        self.assertIn("no longer in the replay buffer", events[0].reason)
        self.assertEqual(len(events), 1 + len(PORTS) + 1 + 1)  # RESYNC, 9 ports, SYNCED
        stale.cancel()

    def test_stream_limit_and_shutdown(self):
        streams = [self.stub.StreamLinkEvents(pb.StreamLinkEventsRequest()) for _ in range(3)]
        for s in streams:
            self.read_until_synced(s)
        with self.assertRaises(grpc.RpcError) as e:
            next(iter(self.stub.StreamLinkEvents(pb.StreamLinkEventsRequest())))
        self.assertEqual(e.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
        streams[0].cancel()
        wait_until(lambda: self.stub.GetHealth(pb.GetHealthRequest())
                   .counters.stream_subscribers == 2, what="a freed slot")
        fourth = self.stub.StreamLinkEvents(pb.StreamLinkEventsRequest())
        self.read_until_synced(fourth)
        self.assertEqual(self.d.stop(), 0)
        with self.assertRaises(grpc.RpcError) as e:
            next(fourth)
        self.assertEqual(e.exception.code(), grpc.StatusCode.UNAVAILABLE)


class SlowSubscriberTest(ApiTest):
    config_text = "[grpc]\nstream_queue_limit = 1024\n"  # the default

    def test_stalled_subscriber_does_not_hold_back_others_and_is_resynced(self):
        h = self.h
        # A client that buffers little (no BDP probing, a 16 KiB window), so that when it stops
        # reading, the daemon's queue for it fills.
        channel = grpc.insecure_channel("unix:" + self.d.socket, options=[
            ("grpc.http2.bdp_probe", 0), ("grpc.http2.lookahead_bytes", 16384)])
        self.addCleanup(channel.close)
        stalled = api.pb_grpc.PortSyncStub(channel).StreamLinkEvents(pb.StreamLinkEventsRequest())
        next(stalled)  # started; now stop reading
        fast = self.stub.StreamLinkEvents(pb.StreamLinkEventsRequest())
        synced = self.read_until_synced(fast)[-1].sequence
        live = []
        reader = threading.Thread(target=lambda: live.extend(fast))
        reader.start()
        h.storm(PORTS, 200)  # thousands of events: far past the stalled stream's queue and window
        h.wait_converged()  # STATE_DB keeps converging
        final = self.stub.GetPortState(pb.GetPortStateRequest()).sequence
        wait_until(lambda: live and live[-1].sequence >= final, what=f"events up to {final}")
        fast.cancel()
        reader.join()
        self.assertEqual([e.sequence for e in live], list(range(synced + 1, final + 1)))
        # The stalled one, read now: it was told, with a RESYNC and a fresh snapshot.
        types = []
        for event in stalled:
            types.append(event.type)
            if event.type == pb.LinkEvent.TYPE_RESYNC:
                self.assertIn("fell behind", event.reason)
                break
        self.assertEqual(types[-1], pb.LinkEvent.TYPE_RESYNC)
        stalled.cancel()
        self.assertTrue(self.d.running())

class RestartTest(ApiTest):
    def test_a_restarted_daemon_has_a_new_instance_and_resyncs_old_resumers(self):
        first = self.stub.GetPortState(pb.GetPortStateRequest())
        self.channel.close()
        self.assertEqual(self.d.stop(), 0)
        # The new daemon is held before it applies its first link dump (the test stall file):
        # until then it does not know the kernel, and must not say every port is gone.
        stall = os.path.join(self.h.dir, "stall")
        open(stall, "w").close()
        self.addCleanup(lambda: os.path.exists(stall) and os.unlink(stall))
        d2 = self.h.daemon(env={"PORTSYNCD_TEST_STALL_FILE": stall})
        d2.wait_log("startup: restart start")
        self.channel, self.stub = api.connect(d2.socket)
        with self.assertRaises(grpc.RpcError) as e:
            self.stub.GetPortState(pb.GetPortStateRequest(), timeout=5)
        self.assertEqual(e.exception.code(), grpc.StatusCode.UNAVAILABLE)
        self.assertIn("first link dump", e.exception.details())
        stream = self.stub.StreamLinkEvents(pb.StreamLinkEventsRequest(
            resume_after=first.sequence, instance_id=first.instance_id))
        # The stream is open (the subscriber is counted) and says nothing before the dump.
        wait_until(lambda: api.subscribers(self.stub) == 1, what="the stream to be registered")
        os.unlink(stall)
        events = self.read_until_synced(stream)
        second = self.stub.GetPortState(pb.GetPortStateRequest())
        self.assertNotEqual(first.instance_id, second.instance_id)
        self.assertEqual(events[0].type, pb.LinkEvent.TYPE_RESYNC)
        self.assertIn(first.instance_id, events[0].reason)
        self.assertEqual(events[-1].instance_id, second.instance_id)
        snapshot = {e.port.name: e.port for e in events[1:-1]}
        self.assertEqual(sorted(snapshot), sorted(PORTS + ["Ethernet100"]))
        for name in PORTS:
            self.assertTrue(snapshot[name].in_kernel, name)
        self.assertTrue(all(p.in_kernel for p in second.ports if p.name in PORTS))
        stream.cancel()


class CarrierCountersTest(ApiTest):
    def kernel(self, port):
        return tuple(int(self.h.ns.sysfs_net(port, what)) for what in
                     ("carrier_changes", "carrier_up_count", "carrier_down_count"))

    def counters(self, port):
        c = self.stub.GetPortState(pb.GetPortStateRequest(names=[port]), timeout=5).ports[0]
        return c.counters.carrier_changes, c.counters.carrier_up, c.counters.carrier_down

    def test_the_kernels_carrier_counters_survive_a_daemon_restart(self):
        h = self.h
        for _ in range(3):  # three flaps of the peer: +6 changes
            h.ns.wire_ip("link", "set", "w4", "down")
            h.ns.wire_ip("link", "set", "w4", "up")
        wait_until(lambda: self.counters("Ethernet4") == self.kernel("Ethernet4"),
                   what="the daemon's counters to match the kernel's")
        before = self.counters("Ethernet4")
        self.assertGreaterEqual(before[0], 6)
        self.assertEqual(before[0], before[1] + before[2])
        port = self.stub.GetPortState(pb.GetPortStateRequest(names=["Ethernet4"])).ports[0]
        self.assertTrue(port.HasField("oper_last_change") and port.HasField("netdev_since"))
        self.channel.close()
        self.assertEqual(self.d.stop(), 0)
        d2 = h.daemon()
        self.channel, self.stub = api.connect(d2.socket)
        wait_until(lambda: api.dump_applied(self.stub), what="the restarted daemon's first dump")
        # The daemon's own flap count starts again; the kernel's counters do not.
        self.assertEqual(self.counters("Ethernet4"), before)
        restarted = self.stub.GetPortState(pb.GetPortStateRequest(names=["Ethernet4"])).ports[0]
        self.assertEqual(restarted.counters.oper_flaps, 0)
        h.ns.wire_ip("link", "set", "w4", "down")
        wait_until(lambda: self.counters("Ethernet4")[2] == before[2] + 1, what="one more down")
        self.assertEqual(self.counters("Ethernet4"), self.kernel("Ethernet4"))
        # portsyncctl's FLAPS column is the kernel's carrier-down count.
        r = subprocess.run([os.environ["PORTSYNCCTL"], "--target", f"unix:{d2.socket}", "ports",
                            "Ethernet4"], capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.splitlines()[1].split()[-1], str(before[2] + 1))


class HealthTest(ApiTest):
    def test_health_components_counters_and_grpc_health(self):
        # STATE_DB holds the writes before the daemon has read Redis' replies: wait for its view.
        wait_until(lambda: self.stub.GetHealth(pb.GetHealthRequest()).ports_in_sync ==
                   len(PORTS) + 1, what="every port in sync")
        reply = self.stub.GetHealth(pb.GetHealthRequest())
        self.assertEqual(reply.status, pb.SERVING_STATUS_SERVING)
        components = {c.name: c for c in reply.components}
        self.assertEqual(set(components),
                         {"netlink", "redis", "initial_sync", "port_init_done", "config"})
        self.assertTrue(all(c.status == pb.SERVING_STATUS_SERVING for c in reply.components))
        self.assertEqual(reply.start_mode, "cold")
        self.assertEqual(reply.ports_tracked, len(PORTS) + 1)
        self.assertEqual(reply.ports_in_sync, len(PORTS) + 1)
        self.assertGreater(reply.counters.netlink_messages, 0)
        self.assertGreaterEqual(reply.counters.ports_written, len(PORTS))
        # grpc.health.v1 follows GetHealth (the health thread wakes on every change).
        wait_until(lambda: api.health_check(self.channel) == "SERVING", what="grpc health")
        self.assertEqual(api.health_check(self.channel, "portsyncd.v1.PortSync"), "SERVING")
        self.assertIn(b"portsyncd.v1.PortSync", api.reflection_services(self.channel))
        # Listed, and resolvable as grpcurl resolves it: by symbol and by file name.
        self.assertIn(b"grpc.health.v1.Health", api.reflection_services(self.channel))
        files = api.reflection_files(self.channel, symbol="grpc.health.v1.Health")
        self.assertEqual(files[0].name, "grpc/health/v1/health.proto")
        self.assertEqual([m.name for m in files[0].service[0].method], ["Check", "Watch"])
        files = api.reflection_files(self.channel, filename="grpc/health/v1/health.proto")
        self.assertEqual(files[0].package, "grpc.health.v1")
        # Redis away: DEGRADED, still SERVING for grpc.health.v1.
        self.h.redis.kill()
        wait_until(lambda: self.stub.GetHealth(pb.GetHealthRequest()).status
                   == pb.SERVING_STATUS_DEGRADED, what="DEGRADED")
        self.assertEqual(api.health_check(self.channel), "SERVING")

    def test_not_serving_while_waiting_for_redis(self):
        h = self.h
        self.channel.close()
        self.assertEqual(self.d.stop(), 0)
        h.redis.kill()
        h.runtime_dir += "-2"  # a fresh start
        d2 = h.daemon()
        d2.wait_log("waiting for Redis")
        channel, stub = api.connect(d2.socket)
        reply = stub.GetHealth(pb.GetHealthRequest())
        self.assertEqual(reply.status, pb.SERVING_STATUS_NOT_SERVING)
        wait_until(lambda: api.health_check(channel) == "NOT_SERVING", what="grpc health")
        h.redis.start()
        wait_until(lambda: stub.GetHealth(pb.GetHealthRequest()).status
                   == pb.SERVING_STATUS_SERVING, what="SERVING")
        channel.close()


class ReloadTest(ApiTest):
    config_text = 'log_level = "INFO"\n[grpc]\nmax_streams = 5\n'
    log_level = None  # the file's log_level is in effect, so Reload can change it

    def reload(self, token):
        metadata = [("authorization", f"Bearer {token}")] if token is not None else []
        return self.stub.Reload(pb.ReloadRequest(), metadata=metadata, timeout=5)

    def config_path(self):
        return self.d.config

    def test_valid_invalid_and_unauthorized_reloads(self):
        path = self.config_path()
        token = self.d.token()
        # Unauthorized: no token, a wrong one. Nothing changes.
        with open(path, "w") as f:
            f.write('log_level = "DEBUG"\n[grpc]\nmax_streams = 5\n')
        for bad in (None, "not-the-token"):
            with self.assertRaises(grpc.RpcError) as e:
                self.reload(bad)
            self.assertEqual(e.exception.code(), grpc.StatusCode.PERMISSION_DENIED)
        self.h.ns.ip("link", "set", "Ethernet0", "mtu", "1234")
        # The barrier: the change is in STATE_DB, so the daemon has read it (and would have
        # logged it at DEBUG before writing it).
        wait_until(lambda: self.h.state.hget("PORT_TABLE|Ethernet0", "mtu") == "1234",
                   what="Ethernet0's MTU 1234 in STATE_DB")
        self.assertNotIn("DEBUG netlink", self.d.output())
        # Valid: a live key and a restart-only key.
        with open(path, "w") as f:
            f.write('log_level = "DEBUG"\n[grpc]\nmax_streams = 5\n[redis]\ntimeout_ms = 900\n')
        reply = self.reload(token)
        self.assertEqual(sorted(reply.changed_keys), ["log_level", "redis.timeout_ms"])
        self.assertEqual(list(reply.restart_required_keys), ["redis.timeout_ms"])
        self.assertTrue(reply.config_version)
        self.h.ns.ip("link", "set", "Ethernet0", "mtu", "1235")
        self.d.wait_log("DEBUG netlink: NEWLINK Ethernet0")
        # The restart-only key is not in effect: the next reload still reports it.
        again = self.reload(token)
        self.assertEqual(list(again.changed_keys), ["redis.timeout_ms"])
        self.assertEqual(list(again.restart_required_keys), ["redis.timeout_ms"])
        # Invalid: refused with file, line and key; the running config stays.
        with open(path, "w") as f:
            f.write('log_level = "INFO"\n[grpc]\nmax_streamz = 5\n')
        with self.assertRaises(grpc.RpcError) as e:
            self.reload(token)
        self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn(f"{path}:3: grpc.max_streamz: unknown key", e.exception.details())
        # SIGHUP reloads the same way; back to INFO against the DEBUG config now running.
        with open(path, "w") as f:
            f.write('log_level = "INFO"\n[grpc]\nmax_streams = 5\n[redis]\ntimeout_ms = 900\n')
        reloads = self.d.output().count("reload: config")
        os.kill(self.d.proc.pid, signal.SIGHUP)
        wait_until(lambda: self.d.output().count("reload: config") == reloads + 1,
                   what="the SIGHUP's reload")
        last = self.d.output().split("reload: config")[-1].splitlines()[0]
        self.assertIn("changed: log_level", last)


if __name__ == "__main__":
    unittest.main()
