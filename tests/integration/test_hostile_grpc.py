"""Hostile and careless gRPC clients (hardening): oversized requests, thousands of names,
malformed names, stream exhaustion, clients that never read, clients that vanish, junk bytes on
the socket, unauthorized Reload floods. The daemon must answer with the documented codes
(docs/API.md), stay alive, keep its memory bounded, and keep STATE_DB converging for everyone else.
"""

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

import grpc

import api
from api import pb
from harness import IntegrationTest, RssSampler, rss_kib, storm_in_background, wait_until

PORTS = [f"Ethernet{i * 4}" for i in range(32)]
# Under AddressSanitizer (PORTSYNCD_SANITIZE builds set PORTSYNCD_SANITIZER for every test) freed
# memory waits in ASan's quarantine and every allocation carries redzones, so RSS says more about
# the sanitizer than about the daemon: the bound is looser there, and exact in the normal build.
UNDER_ASAN = "address" in os.environ.get("PORTSYNCD_SANITIZER", "")
RSS_GROWTH_LIMIT_KIB = 32 * 1024 * (3 if UNDER_ASAN else 1)
SLOW_CHANNEL = [("grpc.http2.bdp_probe", 0), ("grpc.http2.lookahead_bytes", 16384)]
INVALID = grpc.StatusCode.INVALID_ARGUMENT
STREAM_TIMEOUT = 60  # every stream has a deadline: a daemon that never answers fails the test


def collect(stream, out):
    """Appends the stream's events to `out` until it ends or is cancelled."""
    try:
        out.extend(stream)
    except grpc.RpcError as e:
        if e.code() != grpc.StatusCode.CANCELLED:
            raise


class HostileTest(IntegrationTest):
    config_text = ""

    def setUp(self):
        super().setUp()
        h = self.h
        conf = h.write_config(self.config_text) if self.config_text else None
        self.d = h.start_converged(PORTS, config=conf)
        self.channel, self.stub = api.connect(self.d.socket)
        self.addCleanup(self.channel.close)

    def new_channel(self, options=()):
        channel = grpc.insecure_channel("unix:" + self.d.socket, options=list(options))
        self.addCleanup(channel.close)
        return channel

    def read_until_synced(self, stream):
        return api.read_until_synced(stream)

    def assert_code(self, call, code, text=None):
        with self.assertRaises(grpc.RpcError) as e:
            call()
        self.assertEqual(e.exception.code(), code, e.exception.details())
        if text is not None:
            self.assertIn(text, e.exception.details())
        return e.exception

    def assert_alive_and_converging(self):
        """The daemon still serves and STATE_DB still follows the kernel; returns seconds."""
        self.assertTrue(self.d.running(), self.d.output())
        self.assertEqual(api.health(self.stub).status, pb.SERVING_STATUS_SERVING)
        self.h.ns.ip("link", "set", "Ethernet0", "mtu", str(random.randint(1280, 9000)))
        return self.h.wait_converged()


class OversizedTest(HostileTest):
    def test_requests_over_the_1_mib_limit_are_refused_before_parsing(self):
        # docs/API.md: "Requests larger than 1 MiB are refused (RESOURCE_EXHAUSTED) before they
        # are parsed" (gRPC's own default would be 4 MiB; both sizes are tried).
        rss_before = rss_kib(self.d.proc.pid)
        just_over = ["x" * 15] * (70_000)  # 70,000 x 17 bytes: ~1.13 MiB
        five_mib = ["y" * 15] * (5 * 1024 * 1024 // 17 + 1)
        for names in (just_over, five_mib):
            self.assert_code(lambda: self.stub.GetPortState(
                pb.GetPortStateRequest(names=names), timeout=10),
                grpc.StatusCode.RESOURCE_EXHAUSTED, "larger than max")
            stream = self.stub.StreamLinkEvents(pb.StreamLinkEventsRequest(names=names),
                                                timeout=10)
            self.assert_code(lambda: next(stream), grpc.StatusCode.RESOURCE_EXHAUSTED)
        # Ten more 5 MiB requests in parallel: still refused, memory does not follow them.
        errors = []

        def send():
            try:
                self.stub.GetPortState(pb.GetPortStateRequest(names=five_mib), timeout=10)
            except grpc.RpcError as e:
                errors.append(e.code())
        threads = [threading.Thread(target=send) for _ in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [grpc.StatusCode.RESOURCE_EXHAUSTED] * 10)
        # Just under the limit: parsed and answered (the first unknown name).
        under = ["z" * 15] * (1024 * 1024 // 17 - 1024)
        self.assert_code(lambda: self.stub.GetPortState(pb.GetPortStateRequest(names=under),
                                                        timeout=10),
                         grpc.StatusCode.NOT_FOUND, "port zzzzzzzzzzzzzzz is not known")
        growth = rss_kib(self.d.proc.pid) - rss_before
        took = self.assert_alive_and_converging()
        print(f"oversized requests (1.1 MiB, 5 MiB x 11): RESOURCE_EXHAUSTED; RSS +{growth} KiB; "
              f"converged {took:.3f}s after")
        self.assertLess(growth, RSS_GROWTH_LIMIT_KIB)


class ManyNamesTest(HostileTest):
    def test_thousands_of_names_and_duplicates(self):
        # 5,000 distinct valid-looking names: NOT_FOUND naming the first unknown one (API.md).
        many = [f"Ethernet{i}" for i in range(5000)]
        self.assert_code(lambda: self.stub.GetPortState(pb.GetPortStateRequest(names=many)),
                         grpc.StatusCode.NOT_FOUND, "port Ethernet1 is not known")
        # Every known name but the last: the last one is named.
        known_then_unknown = PORTS * 100 + ["Ethernet4999"]
        self.assert_code(lambda: self.stub.GetPortState(
            pb.GetPortStateRequest(names=known_then_unknown)),
            grpc.StatusCode.NOT_FOUND, "port Ethernet4999 is not known")
        # Duplicates: each port once, in natural order, however often it is asked for.
        dupes = ["Ethernet8", "Ethernet0"] * 2500
        reply = self.stub.GetPortState(pb.GetPortStateRequest(names=dupes))
        self.assertEqual([p.name for p in reply.ports], ["Ethernet0", "Ethernet8"])
        # Every port, 1,000 times over (~400 KB, under the limit): answered, and quickly.
        everything = list(reversed(PORTS)) * 1000
        start = time.monotonic()
        reply = self.stub.GetPortState(pb.GetPortStateRequest(names=everything), timeout=10)
        latency = time.monotonic() - start
        self.assertEqual([p.name for p in reply.ports], PORTS)
        self.assertLess(latency, 2.0)
        # A stream filtered on 5,000 names: the snapshot has the known ones only.
        stream = self.stub.StreamLinkEvents(pb.StreamLinkEventsRequest(names=many), timeout=10)
        snapshot = self.read_until_synced(stream)
        stream.cancel()
        self.assertEqual(sorted(e.port.name for e in snapshot[:-1]),
                         sorted(p for p in PORTS if p in set(many)))
        # resume_after at the top of uint64 (this instance): RESYNC, no arithmetic surprise.
        stream = self.stub.StreamLinkEvents(pb.StreamLinkEventsRequest(
            resume_after=2**64 - 1, instance_id=reply.instance_id), timeout=10)
        events = self.read_until_synced(stream)
        stream.cancel()
        self.assertEqual(events[0].type, pb.LinkEvent.TYPE_RESYNC)
        self.assertIn("beyond the last sequence", events[0].reason)
        took = self.assert_alive_and_converging()
        print(f"{len(everything)} names (32 ports x 1000) answered in {latency * 1000:.1f} ms; "
              f"converged {took:.3f}s after")


class MalformedNamesTest(HostileTest):
    BAD = ["", "Ethernet12345678", "E" * 100, "Ether\x00net0", "../x", "a/b", "Ethernet0 ",
           "Ether\tnet0", "Ethernet\x7f", "\n"]

    def test_malformed_names_are_invalid_argument(self):
        for name in self.BAD:
            self.assert_code(lambda: self.stub.GetPortState(
                pb.GetPortStateRequest(names=["Ethernet0", name])), INVALID)
            stream = self.stub.StreamLinkEvents(pb.StreamLinkEventsRequest(names=[name]),
                                                timeout=10)
            self.assert_code(lambda: next(stream), INVALID)
        # The same through raw bytes, as a client without protobuf's checks could send them.
        raw = api.raw_unary(self.channel, "GetPortState")
        for name in (b"Ether\x00net0", b"../x", b""):
            self.assert_code(lambda: raw(api.encode_names([name]), timeout=5), INVALID)
        self.assertEqual(api.subscribers(self.stub), 0)  # refused streams are not counted
        took = self.assert_alive_and_converging()
        print(f"{len(self.BAD)} malformed names x 2 RPCs: INVALID_ARGUMENT; converged {took:.3f}s")

    def test_non_utf8_names_are_refused_without_flooding_the_log(self):
        # A name that is not UTF-8 is not a valid proto3 `string`: protobuf refuses to parse the
        # request, and gRPC 1.51's callback server then fails the call with UNIMPLEMENTED before
        # any handler runs (server_callback_handlers.h, RunHandler): INVALID_ARGUMENT cannot be
        # answered from our code. docs/API.md says so. What we own: the daemon is unaffected,
        # and protobuf's one-line-per-request complaint goes through our log, rate-limited.
        for method, call in (("GetPortState", api.raw_unary(self.channel, "GetPortState")),
                             ("StreamLinkEvents",
                              lambda r, timeout: next(api.raw_stream(self.channel,
                                                                     "StreamLinkEvents")(
                                  r, timeout=timeout)))):
            for i in range(50):
                name = (b"Eth\xffnet0", b"\xc3", b"Ethernet\xed\xa0\x80")[i % 3]
                with self.assertRaises(grpc.RpcError) as e:
                    call(api.encode_names([name]), timeout=5)
                self.assertIn(e.exception.code(), (INVALID, grpc.StatusCode.UNIMPLEMENTED),
                              f"{method}({name!r}): {e.exception.details()!r}")
        self.assertTrue(self.d.running())
        took = self.assert_alive_and_converging()
        log = self.d.output()
        self.assertNotIn("[libprotobuf", log, "protobuf must log through portsyncd's logger")
        complaints = [line for line in log.splitlines() if "protobuf:" in line]
        self.assertGreaterEqual(len(complaints), 1, "the first malformed request is logged")
        self.assertLessEqual(len(complaints), 5, f"100 malformed requests flooded the log: "
                                                 f"{len(complaints)} lines")
        print(f"100 non-UTF-8 requests: refused, {len(complaints)} log line(s); converged "
              f"{took:.3f}s")


class StreamLimitTest(HostileTest):
    config_text = "[grpc]\nmax_streams = 8\n"

    def test_streams_up_to_the_limit_then_resource_exhausted_then_a_freed_slot(self):
        streams = [self.stub.StreamLinkEvents(pb.StreamLinkEventsRequest(), timeout=STREAM_TIMEOUT)
                   for _ in range(8)]
        for s in streams:
            self.read_until_synced(s)
        self.assertEqual(api.subscribers(self.stub), 8)
        # Many refused attempts, from many connections: each RESOURCE_EXHAUSTED naming the key,
        # none of them counted or leaked.
        for i in range(20):
            stub = self.stub if i % 2 else api.pb_grpc.PortSyncStub(self.new_channel())
            refused = stub.StreamLinkEvents(pb.StreamLinkEventsRequest(), timeout=10)
            self.assert_code(lambda: next(refused), grpc.StatusCode.RESOURCE_EXHAUSTED,
                             "grpc.max_streams")
        self.assertEqual(api.subscribers(self.stub), 8)
        # Unary RPCs are not streams: still answered at the limit.
        self.assertEqual(len(self.stub.GetPortState(pb.GetPortStateRequest()).ports), len(PORTS))
        streams.pop().cancel()
        start = time.monotonic()
        wait_until(lambda: api.subscribers(self.stub) == 7, what="a freed slot")
        freed = time.monotonic() - start
        again = self.stub.StreamLinkEvents(pb.StreamLinkEventsRequest(), timeout=STREAM_TIMEOUT)
        self.assertEqual(len(self.read_until_synced(again)), len(PORTS) + 1)
        self.h.ns.ip("link", "set", "Ethernet4", "mtu", "1400")
        self.assertEqual(next(again).port.name, "Ethernet4")
        for s in streams + [again]:
            s.cancel()
        wait_until(lambda: api.subscribers(self.stub) == 0, what="every slot freed")
        took = self.assert_alive_and_converging()
        print(f"max_streams 8: 20 refused with RESOURCE_EXHAUSTED; a cancelled slot was free "
              f"again {freed:.3f}s later; converged {took:.3f}s")


class NeverReadingClientsTest(HostileTest):
    # Room for a Python reader's lag in a fast storm; the stalled streams go far past it. Under a
    # sanitizer the daemon is slower and the reader was once seen 2,052 events behind: double the
    # room there, and the storm with it (it must still go far past the stalled streams' limit).
    SLOWER = bool(os.environ.get("PORTSYNCD_SANITIZER"))
    config_text = f"[grpc]\nstream_queue_limit = {4096 if SLOWER else 2048}\n"
    ROUNDS = 120 if SLOWER else 60

    def test_clients_that_never_read_cost_bounded_memory_and_hold_nobody_back(self):
        h = self.h
        stalled = []
        for _ in range(6):  # each on its own connection, with a small receive window
            stub = api.pb_grpc.PortSyncStub(self.new_channel(SLOW_CHANNEL))
            stream = stub.StreamLinkEvents(pb.StreamLinkEventsRequest(), timeout=STREAM_TIMEOUT)
            next(stream)  # started; never read again until the end
            stalled.append(stream)
        self.assertEqual(api.subscribers(self.stub), 6)
        fast = self.stub.StreamLinkEvents(pb.StreamLinkEventsRequest(), timeout=STREAM_TIMEOUT)
        synced = self.read_until_synced(fast)[-1].sequence
        live = []
        reader = threading.Thread(target=collect, args=(fast, live))
        reader.start()
        sampler = RssSampler(self.d.proc.pid).start()
        h.storm(PORTS, self.ROUNDS)  # ~6,500 (13,000) events: far past the limit and window
        took = h.wait_converged()
        final = self.stub.GetPortState(pb.GetPortStateRequest()).sequence
        wait_until(lambda: live and live[-1].sequence >= final, what=f"events up to {final}")
        peak = sampler.stop()
        fast.cancel()
        reader.join()
        # The reading subscriber got every event, in order, none missing or doubled.
        self.assertFalse([e for e in live if e.type == pb.LinkEvent.TYPE_RESYNC][:1],
                         "the reading subscriber was resynced")
        self.assertEqual([e.sequence for e in live], list(range(synced + 1, final + 1)))
        self.assertLess(peak - sampler.baseline, RSS_GROWTH_LIMIT_KIB)
        # Stalled, not cut (the cancelled reader's slot is released asynchronously: wait for it).
        wait_until(lambda: api.subscribers(self.stub) == 6, timeout=5,
                   what=f"6 subscribers, have {api.subscribers(self.stub)}")
        # Each stalled one, read at last: some buffered events, then RESYNC, a fresh snapshot
        # and SYNCED: told, never silently dropped.
        before_resync = []
        for stream in stalled:
            n = 0
            for event in stream:
                if event.type == pb.LinkEvent.TYPE_RESYNC:
                    self.assertIn("fell behind", event.reason)
                    break
                n += 1
            else:
                self.fail("a stalled stream ended without RESYNC")
            rest = self.read_until_synced(stream)
            self.assertEqual(len(rest), len(PORTS) + 1)
            self.assertEqual(rest[-1].sequence, final)
            before_resync.append(n)
            stream.cancel()
        print(f"6 never-reading streams through a storm of {final - synced} events: RSS "
              f"{sampler.baseline} -> peak {peak} KiB; reader complete; STATE_DB converged "
              f"{took:.3f}s after the storm; stalled streams got {min(before_resync)}-"
              f"{max(before_resync)} events, then RESYNC")
        self.assert_alive_and_converging()


# A client in its own process, so that it can die without closing anything (SIGKILL).
CLIENT = """
import sys
sys.path.insert(0, sys.argv[2])
import api
from api import pb
channel, stub = api.connect(sys.argv[1])
for event in stub.StreamLinkEvents(pb.StreamLinkEventsRequest()):
    if event.type == pb.LinkEvent.TYPE_SYNCED:
        print("SYNCED", flush=True)
"""


class VanishingClientsTest(HostileTest):
    def spawn_client(self):
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        proc = subprocess.Popen(
            [sys.executable, "-c", CLIENT, self.d.socket, os.path.dirname(api.__file__)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)

        def reap():
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            proc.stdout.close()
        self.addCleanup(reap)
        return proc

    def test_clients_that_vanish_mid_stream_are_released(self):
        h = self.h
        # Closed channels (the client drops the connection without cancelling).
        channels = [self.new_channel() for _ in range(5)]
        streams = [api.pb_grpc.PortSyncStub(c).StreamLinkEvents(pb.StreamLinkEventsRequest(),
                                                                timeout=STREAM_TIMEOUT)
                   for c in channels]  # kept referenced: a collected call is cancelled
        for stream in streams:
            self.read_until_synced(stream)
        self.assertEqual(api.subscribers(self.stub), 5)
        for channel in channels:
            channel.close()
        start = time.monotonic()
        wait_until(lambda: api.subscribers(self.stub) == 0, what="closed channels released")
        closed = time.monotonic() - start
        # Killed processes, mid-stream and mid-storm.
        procs = [self.spawn_client() for _ in range(4)]
        for proc in procs:
            self.assertEqual(proc.stdout.readline().strip(), "SYNCED")
        self.assertEqual(api.subscribers(self.stub), 4)
        storm = storm_in_background(h, PORTS, 20)
        for proc in procs:
            os.kill(proc.pid, signal.SIGKILL)
        start = time.monotonic()
        wait_until(lambda: api.subscribers(self.stub) == 0, what="killed clients released")
        killed = time.monotonic() - start
        storm.join()
        # Churn: hundreds of streams opened and dropped, some before their snapshot is out.
        rss_before = rss_kib(self.d.proc.pid)
        for i in range(300):
            stream = self.stub.StreamLinkEvents(pb.StreamLinkEventsRequest(), timeout=10)
            if i % 2:
                next(stream)
            stream.cancel()
        wait_until(lambda: api.subscribers(self.stub) == 0, what="churned streams released")
        growth = rss_kib(self.d.proc.pid) - rss_before
        took = self.assert_alive_and_converging()
        print(f"vanished clients released: closed channels in {closed:.3f}s, SIGKILLed "
              f"processes in {killed:.3f}s; 300 streams churned, RSS +{growth} KiB; "
              f"converged {took:.3f}s")
        self.assertLess(growth, RSS_GROWTH_LIMIT_KIB)


class JunkOnTheSocketTest(HostileTest):
    def test_junk_bytes_and_idle_connections_do_not_disturb_real_clients(self):
        fds_before = len(os.listdir(f"/proc/{self.d.proc.pid}/fd"))
        idle = []
        self.addCleanup(lambda: [s.close() for s in idle])
        for i in range(100):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(self.d.socket)
            if i % 4 == 0:
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            elif i % 4 == 1:
                s.sendall(random.Random(i).randbytes(4096))
            elif i % 4 == 2:  # the HTTP/2 preface, then nothing
                s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            idle.append(s)  # i % 4 == 3: connected, silent
        # Real clients are served meanwhile.
        start = time.monotonic()
        self.assertEqual(len(self.stub.GetPortState(pb.GetPortStateRequest()).ports), len(PORTS))
        latency = time.monotonic() - start
        took = self.assert_alive_and_converging()
        for s in idle:
            s.close()
        # Every connection is released: the daemon's descriptors come back down.
        wait_until(lambda: len(os.listdir(f"/proc/{self.d.proc.pid}/fd")) <= fds_before + 2,
                   what="the junk connections' descriptors closed")
        print(f"100 junk/idle connections: GetPortState answered in {latency * 1000:.1f} ms, "
              f"converged {took:.3f}s; descriptors back to {fds_before}")


class UnauthorizedReloadFloodTest(HostileTest):
    config_text = 'log_level = "INFO"\n'  # Reload re-reads it
    def test_a_flood_of_unauthorized_reloads_changes_nothing(self):
        codes = set()
        start = time.monotonic()
        for i in range(200):
            token = [] if i % 2 else [("authorization", "Bearer " + "0" * 64)]
            try:
                self.stub.Reload(pb.ReloadRequest(), metadata=token, timeout=5)
                codes.add("OK")
            except grpc.RpcError as e:
                codes.add(e.code())
        elapsed = time.monotonic() - start
        self.assertEqual(codes, {grpc.StatusCode.PERMISSION_DENIED})
        # The real token still works afterwards.
        reply = self.stub.Reload(pb.ReloadRequest(),
                                 metadata=[("authorization", f"Bearer {self.d.token()}")])
        self.assertEqual(list(reply.changed_keys), [])
        refused_lines = self.d.output().count("Reload refused")
        # Rate-limited: at most one line per second of flood (plus one).
        self.assertGreaterEqual(refused_lines, 1)
        self.assertLessEqual(refused_lines, int(elapsed) + 2)
        took = self.assert_alive_and_converging()
        print(f"200 unauthorized reloads: PERMISSION_DENIED in {elapsed:.2f}s; "
              f"{refused_lines} 'Reload refused' log lines; converged {took:.3f}s")


if __name__ == "__main__":
    unittest.main()
