"""Bad input gets a clear, actionable error and loses nothing."""

import json
import os
import shutil
import signal
import time
import unittest

from harness import IntegrationTest, wait_until


class BadInputTest(IntegrationTest):
    def run_to_exit(self, *args, config=None, timeout=10):
        """Runs the daemon (inside the test namespace, like every run) and waits for its exit."""
        d = self.h.daemon(*args, config=config)
        try:
            code = d.proc.wait(timeout)
        except Exception:
            raise AssertionError("portsyncd did not exit:\n" + d.output())
        return code, d.output()

    def write(self, name, text):
        path = os.path.join(self.h.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_help_exits_zero_and_bad_usage_two(self):
        code, out = self.run_to_exit("--help")
        self.assertEqual(code, 0)
        self.assertIn("Usage: portsyncd", out)
        self.assertIn("--db-config", out)
        code, out = self.run_to_exit("--no-such-flag")
        self.assertEqual(code, 2)
        code, out = self.run_to_exit("--log-level", "LOUD")
        self.assertEqual(code, 2)
        self.assertIn("--log-level 'LOUD'", out)

    def test_missing_db_config_is_waited_for_as_sonic_daemons_do(self):
        h = self.h
        path = os.path.join(h.dir, "later", "database_config.json")
        d = h.daemon("--db-config", path)
        d.wait_log(f"waiting for the SONiC database config {path}")
        self.assertTrue(d.running())
        os.makedirs(os.path.dirname(path))
        shutil.copy(h.db_config, path)
        d.wait_log(f"the SONiC database config {path} appeared after")
        d.wait_log("startup: cold start")
        self.stop_clean(d)
        # A stop signal ends the wait at once, cleanly.
        d2 = h.daemon("--db-config", "/nonexistent/database_config.json")
        d2.wait_log("waiting for the SONiC database config /nonexistent/database_config.json")
        self.stop_clean(d2)

    def test_unreadable_db_config_names_the_file(self):
        # Only a file that does not exist is waited for; --check-config never waits.
        code, out = self.run_to_exit("--check-config", "--db-config",
                                     "/nonexistent/database_config.json")
        self.assertEqual(code, 1)
        self.assertIn("/nonexistent/database_config.json: cannot read", out)
        code, out = self.run_to_exit("--db-config", self.h.dir)  # exists, but not a file
        self.assertEqual(code, 1)
        self.assertIn(f"portsyncd: {self.h.dir}: ", out)

    def test_malformed_db_config_names_file_and_position(self):
        path = self.write("bad.json", '{"INSTANCES": {\n  "redis": }\n')
        code, out = self.run_to_exit("--db-config", path)
        self.assertEqual(code, 1)
        self.assertIn(f"{path}: not valid JSON", out)
        self.assertIn("line 2", out)

    def test_db_config_missing_a_key_names_it(self):
        with open(self.h.db_config) as f:
            doc = json.load(f)
        del doc["DATABASES"]["STATE_DB"]["separator"]
        path = self.write("nosep.json", json.dumps(doc))
        code, out = self.run_to_exit("--db-config", path)
        self.assertEqual(code, 1)
        self.assertIn(f"{path}: DATABASES.STATE_DB.separator: missing required key", out)

    def test_config_file_errors_name_file_line_and_key(self):
        path = self.write("p.conf", 'log_level = "INFO"\n\n[netlink]\nbuffer = 5\n')
        code, out = self.run_to_exit(config=path)
        self.assertEqual(code, 1)
        self.assertIn(f"{path}:4: netlink.buffer: unknown key", out)
        path = self.write("q.conf", '[redis]\naudit_interval_ms = -5\n')
        code, out = self.run_to_exit(config=path)
        self.assertEqual(code, 1)
        self.assertIn(f"{path}:2: redis.audit_interval_ms: -5 is out of range", out)
        code, out = self.run_to_exit(config="/nonexistent/portsyncd.conf")
        self.assertEqual(code, 1)
        self.assertIn("/nonexistent/portsyncd.conf: cannot read", out)

    def test_command_line_options_override_the_config_file(self):
        h = self.h
        # The file names a database config and a runtime directory that do not exist; the
        # command line (the harness passes --db-config and --runtime-dir) wins.
        path = self.write("o.conf", 'db_config = "/nonexistent/db.json"\n'
                                    'runtime_dir = "/nonexistent/run"\nlog_level = "ERROR"\n')
        d = h.daemon(config=path, log_level="INFO")
        d.wait_log("startup: cold start")
        d.wait_log("INFO reconcile: ")  # --log-level INFO beat ERROR
        self.assertIn(f"runtime dir {h.runtime_dir}", d.output())
        self.assertEqual(d.stop(), 0)

    def test_check_config_validates_and_exits(self):
        path = self.write("ok.conf", 'log_level = "INFO"\n')
        code, out = self.run_to_exit("--check-config", config=path)
        self.assertEqual(code, 0, out)
        self.assertIn("configuration OK", out)
        path = self.write("syntax.conf", 'log_level = "INFO"\n[grpc\nmax_streams = 3\n')
        code, out = self.run_to_exit("--check-config", config=path)
        self.assertEqual(code, 1)
        self.assertEqual(len(out.strip().splitlines()), 1, out)
        self.assertIn(f"{path}:2: [grpc: invalid TOML: ", out)

    def test_config_port_name_longer_than_15_bytes_does_not_block_port_init_done(self):
        h = self.h
        h.configure_ports(["Ethernet0"], appl=False)
        h.configure_ports(["Ethernet1234567890"], appl=False)  # 18 bytes
        d = h.daemon()
        d.wait_log("port name is 18 bytes")  # logged while reading CONFIG_DB, before publishing
        # Still published verbatim (upstream does), but nothing waits for it.
        d.wait_log("startup: cold start")
        self.assertTrue(h.appl.exists("_PORT_TABLE:Ethernet1234567890"))
        h.appl.hset("PORT_TABLE:Ethernet0", "lanes", "0")
        h.ns.add_port("Ethernet0")
        wait_until(lambda: h.appl.exists("_PORT_TABLE:PortInitDone"), what="PortInitDone")
        self.stop_clean(d)

    def test_a_stray_sigusr1_does_not_disable_shutdown(self):
        h = self.h
        d = h.daemon()
        d.wait_log("startup: cold start")
        d.proc.send_signal(signal.SIGUSR1)
        time.sleep(0.2)
        self.assertTrue(d.running())
        self.assertEqual(d.stop(timeout=5), 0)

    def test_a_second_daemon_on_the_same_runtime_dir_is_refused(self):
        h = self.h
        d = h.daemon()
        d.wait_log("startup: cold start")
        token = d.token()
        code, out = self.run_to_exit()
        self.assertEqual(code, 1)
        self.assertIn("is portsyncd already running?", out)
        self.assertEqual(d.token(), token)  # the first daemon's token is untouched
        self.assertTrue(d.running())
        self.assertEqual(d.stop(), 0)

    def test_sigterm_exits_zero_promptly_even_while_redis_is_down(self):
        h = self.h
        d = h.daemon()
        d.wait_log("startup: cold start")
        h.redis.kill()
        time.sleep(0.2)
        start = time.monotonic()
        self.assertEqual(d.stop(), 0)
        self.assertLess(time.monotonic() - start, 5)


if __name__ == "__main__":
    unittest.main()
