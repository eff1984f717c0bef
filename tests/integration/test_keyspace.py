"""Keyspace notifications (docs/COMPATIBILITY.md 7.3 and 7.8) on a real Redis, kernel and daemon.

With `notify-keyspace-events` on in the server (SONiC runs AKE), the daemon sees an APPL_DB entry,
someone else's change to one of our STATE_DB keys and a LOGGER change as they happen. The tests
push every poll and the audit out to an hour, so only a notification can explain a prompt
reaction; the control runs the same with the server's notifications off and shows nothing
happens then.
"""

import time
import unittest

import grpc

import api
from harness import IntegrationTest, wait_until

HOUR_MS = 3_600_000
# Every poll and audit an hour away, notified or not: only notifications can act quickly.
NO_POLLING = ("[redis]\n"
              f"audit_interval_ms = {HOUR_MS}\n"
              f"audit_interval_notified_ms = {HOUR_MS}\n"
              "pending_poll_ms = 60000\n"
              "logger_poll_ms = 60000\n")


class KeyspaceTest(IntegrationTest):
    def start(self, notify="AKE", config=NO_POLLING):
        h = self.h
        if notify is not None:
            h.state.config_set("notify-keyspace-events", notify)
        h.configure_ports(["Ethernet0", "Ethernet4", "Ethernet8"])
        self.d = h.daemon(config=h.write_config(config))
        self.d.wait_log("startup: cold start")
        h.ns.add_ports(["Ethernet0", "Ethernet4"])
        h.wait_converged()
        channel, self.stub = api.connect(self.d.socket)
        self.addCleanup(channel.close)
        return self.d

    def port(self, name):
        """GetPortState of one port, or an empty PortState when the daemon does not know it."""
        try:
            return self.stub.GetPortState(api.pb.GetPortStateRequest(names=[name]),
                                          timeout=5).ports[0]
        except grpc.RpcError:  # NOT_FOUND while the daemon does not know the port
            return api.pb.PortState()

    def health(self):
        return api.health(self.stub).counters

    def test_someone_elses_changes_to_our_keys_are_repaired_at_once(self):
        h = self.h
        d = self.start()
        d.wait_log("keyspace notifications: subscribed")
        # First a key of ours with no netdev, deleted once checked. Its notification comes after
        # the subscription, whose full check (which forgets the expected notifications of our
        # earlier writes, so some may count as checks) is taken with or before it: once the key
        # is gone, that is over, and the counts below start from here.
        h.state.hset("PORT_TABLE|Ethernet8", "state", "ok")
        wait_until(lambda: not h.state.exists("PORT_TABLE|Ethernet8"), timeout=2,
                   what="Ethernet8 deleted")
        base = self.health()
        h.state.hset("PORT_TABLE|Ethernet0", "mtu", "1")               # a field of ours changed
        h.wait_converged(timeout=2)
        h.state.hdel("PORT_TABLE|Ethernet4", "state")                  # one removed
        h.wait_converged(timeout=2)
        h.state.delete("PORT_TABLE|Ethernet0")                         # the whole key
        h.wait_converged(timeout=2)
        h.state.hset("PORT_TABLE|Ethernet4", "host_tx_ready", "true")  # not ours: left alone
        # One more drift of ours after it: notifications arrive in order, and the writer takes
        # every key notified so far in each pass, so once this one is repaired, Ethernet4's
        # notification has been handled too.
        h.state.hset("PORT_TABLE|Ethernet0", "mtu", "2")
        h.wait_converged(timeout=2)
        self.assertEqual(h.state.hget("PORT_TABLE|Ethernet4", "host_tx_ready"), "true")
        after = self.health()
        self.assertEqual(after.drift_repairs - base.drift_repairs, 4)
        # Five changes by someone else checked; our own repairs' notifications were not.
        self.assertEqual(after.keyspace_checks - base.keyspace_checks, 5)
        self.stop_clean(d)
        counters = d.counters()
        self.assertGreater(counters["keyspace_events"], counters["keyspace_checks"])

    def test_control_without_server_notifications_nothing_is_repaired(self):
        # The same as above with the server's notifications off (Redis' default): the daemon
        # says why it polls, and with the audit an hour away the drift stays.
        h = self.h
        d = self.start(notify=None)
        d.wait_log('keyspace notifications: not in use (unix:')
        self.assertIn('notify-keyspace-events is "" on the server', d.output())
        h.state.hset("PORT_TABLE|Ethernet0", "mtu", "1")
        # The barrier: a kernel change of another port, made after the drift, is in STATE_DB: the
        # daemon has run and written since; with notifications off nothing told it of the drift
        # (the audit is an hour away), so it stays.
        h.ns.ip("link", "set", "Ethernet4", "mtu", "1400")
        wait_until(lambda: h.state.hget("PORT_TABLE|Ethernet4", "mtu") == "1400",
                   what="Ethernet4's MTU 1400 in STATE_DB")
        self.assertEqual(h.state.hget("PORT_TABLE|Ethernet0", "mtu"), "1")
        self.assertEqual(self.health().drift_repairs, 0)
        self.stop_clean(d)

    def test_without_server_notifications_the_audit_repairs(self):
        h = self.h
        d = self.start(notify=None, config="[redis]\naudit_interval_ms = 300\n")
        h.state.hset("PORT_TABLE|Ethernet0", "mtu", "1")
        h.wait_converged(timeout=3)
        self.assertEqual(self.health().drift_repairs, 1)
        self.stop_clean(d)

    def test_our_own_writes_are_not_checked_in_a_storm(self):
        h = self.h
        ports = [f"Ethernet{4 * i}" for i in range(8)]
        h.state.config_set("notify-keyspace-events", "AKE")
        h.configure_ports(ports)
        d = h.daemon(config=h.write_config(NO_POLLING))
        d.wait_log("keyspace notifications: subscribed")
        channel, stub = api.connect(d.socket)
        self.addCleanup(channel.close)
        h.ns.add_ports(ports)
        h.wait_converged()
        h.storm(ports, rounds=20)
        for p in ports[:4]:
            h.ns.ip("link", "del", p)  # DELs of keys that exist, and a re-creation
        h.ns.add_ports(ports[:2])
        h.wait_converged()
        # A sentinel: someone else's write, notified after all of ours (one pub/sub connection
        # delivers in order). Once it is checked, every notification of ours has been seen.
        h.state.hset("PORT_TABLE|Ethernet200", "host_tx_ready", "true")
        wait_until(lambda: api.health(stub).counters.keyspace_checks >= 1, timeout=5,
                   what="the sentinel checked")
        self.stop_clean(d)
        counters = d.counters()
        self.assertGreater(counters["state_db_writes"], 100)
        self.assertGreaterEqual(counters["keyspace_events"],
                                counters["state_db_writes"] + counters["state_db_deletes"] - 4)
        self.assertEqual(counters["keyspace_checks"], 1)  # the sentinel only
        self.assertEqual(counters["drift_repairs"], 0)

    def test_an_appl_db_entry_is_published_without_waiting_for_the_poll(self):
        h = self.h
        d = self.start()
        d.wait_log("keyspace notifications: subscribed")
        h.ns.add_port("Ethernet12")  # no APPL_DB entry yet: remembered, not written
        wait_until(lambda: self.port("Ethernet12").in_kernel, what="the engine to see Ethernet12")
        self.assertFalse(self.port("Ethernet12").in_appl_db)
        self.assertFalse(h.state.exists("PORT_TABLE|Ethernet12"))
        h.configure_ports(["Ethernet12"])  # orchagent's turn; the poll is a minute away
        wait_until(lambda: h.state.hget("PORT_TABLE|Ethernet12", "state") == "ok", timeout=2,
                   what="Ethernet12 published")
        h.wait_converged()
        self.stop_clean(d)

    def test_a_logger_change_applies_without_waiting_for_the_poll(self):
        h = self.h
        d = self.start()
        d.wait_log("keyspace notifications: subscribed")
        h.config.hset("LOGGER|portsyncd", "LOGLEVEL", "DEBUG")
        d.wait_log("log level set to DEBUG from CONFIG_DB LOGGER|portsyncd", timeout=2)
        self.stop_clean(d)

    def test_notifications_turned_off_at_run_time_bring_the_polls_back(self):
        # While subscribed and quiet, the watcher rereads the setting every backstop period
        # (here 1 s) on a side connection. The audit's own period is 300 ms, so the log line
        # and the repair below come from the polling mode, whatever the machine's load.
        h = self.h
        d = self.start(config="[redis]\naudit_interval_ms = 300\naudit_interval_notified_ms = 1000\n")
        d.wait_log("keyspace notifications: subscribed")
        h.state.config_set("notify-keyspace-events", "")
        d.wait_log('notify-keyspace-events changed to "" on the server', timeout=15)
        d.wait_log("polling: audit every 300ms")
        components = {c.name: c.message for c in api.health(self.stub).components}
        self.assertIn("not in use", components["redis"])
        h.state.hset("PORT_TABLE|Ethernet0", "mtu", "1")  # the next audit repairs it
        h.wait_converged(timeout=30)
        # And on again: subscribed again within the recheck period.
        h.state.config_set("notify-keyspace-events", "AKE")
        wait_until(lambda: d.output().count("keyspace notifications: subscribed") == 2,
                   timeout=15, what="a second subscription")
        self.stop_clean(d)

    def test_after_a_redis_restart_it_subscribes_again(self):
        h = self.h
        d = self.start()
        d.wait_log("keyspace notifications: subscribed")
        h.redis.kill()
        h.redis.start(extra=["--notify-keyspace-events", "AKE"])
        h.configure_ports(["Ethernet0", "Ethernet4", "Ethernet8"])
        wait_until(lambda: d.output().count("keyspace notifications: subscribed") == 2,
                   timeout=5, what="a second subscription")
        h.wait_converged(timeout=5)
        h.state.hset("PORT_TABLE|Ethernet4", "admin_status", "sideways")
        h.wait_converged(timeout=2)
        self.stop_clean(d)


if __name__ == "__main__":
    unittest.main(verbosity=2)
