"""gNMI on the real daemon (namespace, redis-server, unix-socket gRPC), through an independent
Python gNMI client built from our gnmi .proto (gnmi_client.py): Capabilities, Get, every
Subscribe mode, sync_response placement, event timestamps, deletes, duplicates for a stalled
reader, heartbeats, SAMPLE, History replay, counters across a restart, and the errors."""

import os
import queue
import time
import unittest

import grpc

import api
import gnmi_client as gc
from api import pb
from gnmi_client import g
from harness import IntegrationTest, wait_until

PORTS = [f"Ethernet{i * 4}" for i in range(4)]
STATE = "/interfaces/interface[name={}]/state"


class GnmiTest(IntegrationTest):
    config_text = ""

    def setUp(self):
        super().setUp()
        h = self.h
        h.configure_ports(PORTS)
        self.d = h.daemon(config=h.write_config(self.config_text) if self.config_text else None)
        self.d.wait_log("startup: cold start")  # netdevs before it would be old interfaces
        h.ns.add_ports(PORTS)
        h.wait_converged()
        self.channel, self.gnmi = gc.connect(self.d.socket)
        self.addCleanup(self.channel.close)
        self.ps = api.pb_grpc.PortSyncStub(self.channel)
        wait_until(lambda: api.dump_applied(self.ps), what="the first link dump")

    def subscribe(self, paths, **kw):
        extensions = kw.pop("extensions", ())
        read = kw.pop("read", True)
        s = gc.Subscription(self.gnmi, gc.subscription_list(paths, **kw), extensions, read=read)
        self.addCleanup(s.close)
        return s

    def kernel(self, port):
        links = self.h.ns.links()[port]
        return {"mtu": links["mtu"], "ifindex": links["ifindex"],
                "carrier": int(self.h.ns.sysfs_net(port, "carrier_changes")),
                "transitions": int(self.h.ns.sysfs_net(port, "carrier_up_count")) +
                int(self.h.ns.sysfs_net(port, "carrier_down_count"))}

    def values(self, responses):
        """{path: value} of every update in `responses`."""
        out = {}
        for r in responses:
            if r.HasField("update"):
                out.update({k: v for k, (v, _) in gc.leaves(r.update).items()})
        return out

    def assert_error(self, fn, code, text):
        with self.assertRaises(grpc.RpcError) as e:
            fn()
        self.assertEqual(e.exception.code(), code, e.exception.details())
        self.assertIn(text, e.exception.details())


class CapabilitiesAndGetTest(GnmiTest):
    def test_capabilities(self):
        caps = self.gnmi.Capabilities(g.CapabilityRequest(), timeout=5)
        self.assertEqual(caps.gNMI_version, "0.10.0")
        self.assertEqual(set(caps.supported_encodings), {g.JSON, g.JSON_IETF, g.PROTO})
        self.assertEqual([m.name for m in caps.supported_models], ["openconfig-interfaces"])
        self.assertIn(b"gnmi.gNMI", api.reflection_services(self.channel))
        files = api.reflection_files(self.channel, symbol="gnmi.gNMI")
        self.assertEqual(files[0].package, "gnmi")

    def test_get_every_leaf_in_each_encoding_matches_the_kernel(self):
        h = self.h
        h.ns.ip("link", "set", "Ethernet4", "mtu", "9100")
        h.ns.wire_ip("link", "set", "w8", "down")
        h.wait_converged()
        k4 = self.kernel("Ethernet4")
        for encoding in (g.PROTO, g.JSON, g.JSON_IETF):
            reply = self.gnmi.Get(g.GetRequest(path=[gc.path("/interfaces")], encoding=encoding),
                                  timeout=5)
            self.assertEqual(len(reply.notification), len(PORTS))
            values = self.values([g.SubscribeResponse(update=n) for n in reply.notification])
            e4 = STATE.format("Ethernet4")
            mtu = values[e4 + "/mtu"]
            self.assertEqual(int(mtu), 9100, encoding)
            self.assertEqual(int(values[e4 + "/ifindex"]), k4["ifindex"])
            self.assertEqual(values[e4 + "/name"], "Ethernet4")
            self.assertEqual(values[e4 + "/oper-status"], "UP")
            self.assertEqual(values[STATE.format("Ethernet8") + "/oper-status"], "DOWN")
            self.assertEqual(values[STATE.format("Ethernet8") + "/admin-status"], "UP")
            self.assertEqual(int(values[e4 + "/counters/carrier-transitions"]), k4["carrier"])
            self.assertEqual(int(values[e4 + "/counters/interface-transitions"]),
                             k4["transitions"])
            self.assertGreater(int(values[e4 + "/last-change"]), 0)
            self.assertGreater(int(values[e4 + "/counters/last-clear"]), 0)
            if encoding == g.JSON_IETF:  # RFC 7951: 64-bit numbers as strings
                self.assertIsInstance(values[e4 + "/last-change"], str)
                self.assertIsInstance(mtu, int)
        # One leaf of one port, with the origins collectors use.
        for origin in ("", "openconfig", "openconfig-interfaces"):
            reply = self.gnmi.Get(g.GetRequest(
                path=[gc.path(STATE.format("Ethernet4") + "/mtu", origin)]), timeout=5)
            self.assertEqual(gc.leaves(reply.notification[0]),
                             {STATE.format("Ethernet4") + "/mtu": (9100, 0)})
        # A container: the counters.
        reply = self.gnmi.Get(g.GetRequest(
            path=[gc.path("/interfaces/interface[name=*]/state/counters")]), timeout=5)
        self.assertEqual(len(reply.notification[0].update), 3)

    def test_errors(self):
        get = lambda p, **kw: self.gnmi.Get(g.GetRequest(path=[p], **kw), timeout=5)
        self.assert_error(lambda: get(gc.path("/system/state")), grpc.StatusCode.NOT_FOUND,
                          "/system/state is not served")
        self.assert_error(lambda: get(gc.path("/interfaces/interface/config/mtu")),
                          grpc.StatusCode.NOT_FOUND, "only the interface's 'state'")
        self.assert_error(lambda: get(gc.path("/interfaces/interface/state/speed")),
                          grpc.StatusCode.NOT_FOUND, "no leaf 'speed'")
        self.assert_error(lambda: get(gc.path("/interfaces/interface[name=Ethernet96]")),
                          grpc.StatusCode.NOT_FOUND, "Ethernet96 has no netdev")
        self.assert_error(lambda: get(gc.path("/interfaces/interface[name=a b]")),
                          grpc.StatusCode.INVALID_ARGUMENT, "whitespace")
        self.assert_error(lambda: get(g.Path(elem=[g.PathElem(name="interfaces"),
                                                   g.PathElem(name="")])),
                          grpc.StatusCode.INVALID_ARGUMENT, "empty name")
        self.assert_error(lambda: get(g.Path(element=["interfaces"])),
                          grpc.StatusCode.INVALID_ARGUMENT, "deprecated 'element'")
        self.assert_error(lambda: get(gc.path("/interfaces", "sonic-db")),
                          grpc.StatusCode.UNIMPLEMENTED, "origin 'sonic-db'")
        self.assert_error(lambda: get(gc.path("/interfaces"), encoding=g.ASCII),
                          grpc.StatusCode.UNIMPLEMENTED, "encoding ASCII")
        self.assert_error(lambda: self.gnmi.Set(g.SetRequest(), timeout=5),
                          grpc.StatusCode.UNIMPLEMENTED, "read-only")
        # Subscribe refuses the same, and an interval shorter than it serves.
        for paths, kw, code, text in [
                (["/interfaces/interface/state/speed"], {}, grpc.StatusCode.NOT_FOUND, "speed"),
                (["/interfaces"], {"sub_mode": g.SAMPLE, "sample_ns": 1_000_000},
                 grpc.StatusCode.INVALID_ARGUMENT, "sample_interval 1000000 ns is shorter"),
                (["/interfaces"], {"heartbeat_ns": 5}, grpc.StatusCode.INVALID_ARGUMENT,
                 "heartbeat_interval 5 ns")]:
            s = self.subscribe(paths, **kw)
            self.assertIsNone(s.next())
            self.assertEqual(s.code(), code)
            self.assertIn(text, s.error.details())


class SubscribeTest(GnmiTest):
    def test_once_sends_every_leaf_then_sync_then_ends(self):
        s = self.subscribe(["/interfaces"], mode=g.SubscriptionList.ONCE, encoding=g.JSON)
        responses = s.until_sync()
        self.assertEqual(len(responses), len(PORTS) + 1)
        self.assertTrue(all(r.HasField("update") for r in responses[:-1]))
        self.assertEqual(len(self.values(responses)), len(PORTS) * 9)
        self.assertIsNone(s.next())
        self.assertEqual(s.code(), grpc.StatusCode.OK)

    def test_poll_answers_each_poll_with_current_values_and_sync(self):
        h = self.h
        s = self.subscribe([STATE.format("Ethernet0") + "/mtu"], mode=g.SubscriptionList.POLL)
        first = s.until_sync()
        self.assertEqual(self.values(first), {STATE.format("Ethernet0") + "/mtu": 1500})
        h.ns.ip("link", "set", "Ethernet0", "mtu", "2000")
        wait_until(lambda: self.ps.GetPortState(pb.GetPortStateRequest(
            names=["Ethernet0"])).ports[0].mtu == 2000, what="the MTU change applied")
        with self.assertRaises(queue.Empty):  # nothing unasked
            s.next(timeout=0.3)
        s.poll()
        self.assertEqual(self.values(s.until_sync()), {STATE.format("Ethernet0") + "/mtu": 2000})

    def test_stream_on_change_sync_once_event_time_only_changed_leaves_and_deletes(self):
        h = self.h
        links = self.ps.StreamLinkEvents(pb.StreamLinkEventsRequest(names=["Ethernet4"]))
        self.addCleanup(links.cancel)
        for event in links:
            if event.type == pb.LinkEvent.TYPE_SYNCED:
                break
        s = self.subscribe(["/interfaces/interface[name=*]/state"])
        initial = s.until_sync()
        # Counted apart from StreamLinkEvents (GetHealth, portsyncctl health, /metrics).
        counters = api.health(self.ps).counters
        self.assertEqual((counters.gnmi_subscribers, counters.stream_subscribers), (1, 1))
        self.assertEqual(sum(r.HasField("sync_response") for r in initial), 1)
        self.assertEqual(len(self.values(initial)), len(PORTS) * 9)
        h.ns.ip("link", "set", "Ethernet4", "mtu", "4000")
        r = s.next()
        self.assertEqual(gc.leaves(r.update), {STATE.format("Ethernet4") + "/mtu": (4000, 0)})
        # The event's time: when the kernel's message arrived, as StreamLinkEvents reports it.
        event = next(links)
        self.assertEqual(r.update.timestamp,
                         event.time.seconds * 10**9 + event.time.nanos)
        # Carrier lost: oper-status, last-change (the same event time) and the counters.
        h.ns.wire_ip("link", "set", "w4", "down")
        r = s.next()
        got = gc.leaves(r.update)
        e4 = STATE.format("Ethernet4")
        self.assertEqual(got[e4 + "/oper-status"], ("DOWN", 0))
        self.assertEqual(got[e4 + "/last-change"][0], r.update.timestamp)
        self.assertEqual(got[e4 + "/counters/carrier-transitions"][0],
                         self.kernel("Ethernet4")["carrier"])
        self.assertNotIn(e4 + "/mtu", got)
        # A removed netdev: a delete of its path.
        # A removed netdev: a delete of its path (after, possibly, its going down as the
        # kernel takes the pair apart).
        h.ns.ip("link", "del", "Ethernet12")
        r = s.next()
        while not r.update.delete:
            self.assertTrue(all(k.startswith(STATE.format("Ethernet12"))
                                for k in gc.leaves(r.update)), r)
            r = s.next()
        self.assertEqual([gc.path_text(r.update.prefix, p) for p in r.update.delete],
                         ["/interfaces/interface[name=Ethernet12]"])
        self.assertFalse(r.update.update)

    def test_updates_only_sends_sync_first_then_changes(self):
        s = self.subscribe(["/interfaces"], updates_only=True, encoding=g.JSON_IETF)
        first = s.next()
        self.assertTrue(first.HasField("sync_response"))
        self.h.ns.ip("link", "set", "Ethernet0", "mtu", "1700")
        r = s.next()
        self.assertEqual(gc.leaves(r.update), {STATE.format("Ethernet0") + "/mtu": (1700, 0)})

    def test_heartbeat_resends_unchanged_values(self):
        s = self.subscribe([STATE.format("Ethernet8") + "/oper-status"],
                           heartbeat_ns=200_000_000)
        initial = s.until_sync()
        self.assertEqual(len(initial), 2)
        beats = [s.next(timeout=5) for _ in range(2)]  # no change: heartbeats alone
        for beat in beats:
            self.assertEqual(gc.leaves(beat.update),
                             {STATE.format("Ethernet8") + "/oper-status": ("UP", 0)})
        self.assertLess(beats[0].update.timestamp, beats[1].update.timestamp)

    def test_sample_every_interval_and_suppress_redundant(self):
        h = self.h
        s = self.subscribe([STATE.format("Ethernet0") + "/mtu"], sub_mode=g.SAMPLE,
                           sample_ns=200_000_000)
        s.until_sync()
        samples = [s.next(timeout=5) for _ in range(3)]  # unchanged values, every interval
        stamps = [r.update.timestamp for r in samples]
        self.assertEqual(stamps, sorted(stamps))
        self.assertTrue(all(gc.leaves(r.update) == {STATE.format("Ethernet0") + "/mtu": (1500, 0)}
                            for r in samples))
        # suppress_redundant: after the first sample, only what changed.
        q = self.subscribe([STATE.format("Ethernet0")], sub_mode=g.SAMPLE, sample_ns=200_000_000,
                           suppress=True)
        q.until_sync()
        first = q.next(timeout=5)
        self.assertEqual(len(first.update.update), 9)
        h.ns.ip("link", "set", "Ethernet0", "mtu", "1800")
        after = q.next(timeout=5)  # nothing before it: the unchanged samples are suppressed
        self.assertEqual(gc.leaves(after.update), {STATE.format("Ethernet0") + "/mtu": (1800, 0)})

    def test_history_replays_a_range_from_the_buffer_then_closes(self):
        h = self.h
        t0 = time.time_ns()
        for mtu in (1601, 1602, 1603):
            h.ns.ip("link", "set", "Ethernet0", "mtu", str(mtu))
        wait_until(lambda: self.ps.GetPortState(pb.GetPortStateRequest(
            names=["Ethernet0"])).ports[0].mtu == 1603, what="three changes applied")
        t1 = time.time_ns()
        h.ns.ip("link", "set", "Ethernet0", "mtu", "1604")  # after the range
        s = self.subscribe([STATE.format("Ethernet0") + "/mtu"],
                           extensions=[gc.history(t0, t1)])
        replay = s.until_sync()
        self.assertEqual([gc.leaves(r.update)[STATE.format("Ethernet0") + "/mtu"][0]
                          for r in replay[:-1]], [1601, 1602, 1603])
        self.assertTrue(all(t0 <= r.update.timestamp < t1 for r in replay[:-1]))
        self.assertIsNone(s.next())  # the range ended in the past: the stream closes
        self.assertEqual(s.code(), grpc.StatusCode.OK)
        # Before the daemon started: not in the buffer.
        old = self.subscribe(["/interfaces"], extensions=[gc.history(10**9, 2 * 10**9)])
        self.assertIsNone(old.next())
        self.assertEqual(old.code(), grpc.StatusCode.OUT_OF_RANGE)


class SlowReaderTest(GnmiTest):
    config_text = "[grpc]\nstream_queue_limit = 64\n"

    def test_a_stalled_reader_gets_the_latest_values_with_duplicates_and_slows_nobody(self):
        h = self.h
        # A client that buffers little (no BDP probing, a 16 KiB window).
        channel, stub = gc.connect(self.d.socket, options=[
            ("grpc.http2.bdp_probe", 0), ("grpc.http2.lookahead_bytes", 16384)])
        self.addCleanup(channel.close)
        stalled = gc.Subscription(stub, gc.subscription_list(["/interfaces"]), read=False)
        self.addCleanup(stalled.close)
        fast = self.subscribe(["/interfaces"])
        fast.until_sync()
        h.storm(PORTS, 300)
        h.wait_converged()  # STATE_DB keeps converging
        final = {p.name: p for p in self.ps.GetPortState(pb.GetPortStateRequest()).ports}
        stalled.start_reading()
        got, duplicates = {}, 0
        # Read until every port's MTU is the final one (the last values arrive last).
        want = {STATE.format(n) + "/mtu": p.mtu for n, p in final.items()}
        while any(got.get(k) != v for k, v in want.items()):
            r = stalled.next(timeout=20)
            self.assertIsNotNone(r, stalled.error)
            if r.HasField("update"):
                for k, (v, dup) in gc.leaves(r.update).items():
                    got[k] = v
                    duplicates += dup
        self.assertGreater(duplicates, 0, "no update said it folded changes")
        # Nobody slowed: the stream that kept reading has every port's final values too.
        fast_got = {}
        while any(fast_got.get(k) != v for k, v in want.items()):
            r = fast.next(timeout=20)
            self.assertIsNotNone(r, fast.error)
            if r.HasField("update"):
                fast_got.update({k: v for k, (v, _) in gc.leaves(r.update).items()})
        for name, p in final.items():
            self.assertEqual(got[STATE.format(name) + "/oper-status"],
                             "UP" if p.oper_status == pb.LINK_STATUS_UP else "DOWN", name)
        self.assertIn("gNMI subscriber fell behind", self.d.output())
        self.assertTrue(self.d.running())


class RestartTest(GnmiTest):
    def test_transition_counters_survive_a_daemon_restart(self):
        h = self.h
        for _ in range(2):
            h.ns.wire_ip("link", "set", "w4", "down")
            h.ns.wire_ip("link", "set", "w4", "up")
        counters = STATE.format("Ethernet4") + "/counters"

        def read():
            reply = self.gnmi.Get(g.GetRequest(path=[gc.path(counters)]), timeout=5)
            return {k: v for k, (v, _) in gc.leaves(reply.notification[0]).items()}

        k = self.kernel("Ethernet4")
        wait_until(lambda: read()[counters + "/carrier-transitions"] == k["carrier"],
                   what="the counters to follow the kernel")
        before = read()
        self.assertEqual(before[counters + "/interface-transitions"], k["transitions"])
        self.channel.close()
        self.assertEqual(self.d.stop(), 0)
        self.d = h.daemon()
        self.channel, self.gnmi = gc.connect(self.d.socket)
        self.ps = api.pb_grpc.PortSyncStub(self.channel)
        wait_until(lambda: api.dump_applied(self.ps), what="the restarted daemon's first dump")
        after = read()
        self.assertEqual(after[counters + "/carrier-transitions"],
                         before[counters + "/carrier-transitions"])
        self.assertEqual(after[counters + "/interface-transitions"],
                         before[counters + "/interface-transitions"])

    def test_before_the_first_link_dump_get_is_unavailable_and_subscribe_waits(self):
        h = self.h
        self.channel.close()
        self.assertEqual(self.d.stop(), 0)
        stall = os.path.join(h.dir, "stall")
        open(stall, "w").close()
        self.addCleanup(lambda: os.path.exists(stall) and os.unlink(stall))
        self.d = h.daemon(env={"PORTSYNCD_TEST_STALL_FILE": stall})
        self.d.wait_log("startup: restart start")
        self.channel, self.gnmi = gc.connect(self.d.socket)
        self.assert_error(lambda: self.gnmi.Get(g.GetRequest(path=[gc.path("/interfaces")]),
                                                timeout=5),
                          grpc.StatusCode.UNAVAILABLE, "first link dump")
        s = self.subscribe(["/interfaces"])
        with self.assertRaises(queue.Empty):  # nothing (no port "absent") before the dump
            s.next(timeout=0.5)
        os.unlink(stall)
        values = self.values(s.until_sync())
        self.assertEqual(len(values), len(PORTS) * 9)
        self.assertTrue(all(values[STATE.format(p) + "/oper-status"] == "UP" for p in PORTS))


if __name__ == "__main__":
    unittest.main()
