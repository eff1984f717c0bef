"""The TCP listener: TLS, mutual TLS, and insecure only on loopback. The daemon's TCP listener
is on its namespace's loopback, so the client (portsyncctl) runs inside that namespace."""

import os
import subprocess
import unittest

from harness import IntegrationTest

PORTSYNCCTL = os.environ.get("PORTSYNCCTL", "portsyncctl")
PORT = 50051  # inside the test's own namespace: cannot collide with anything else


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_pki(d):
    """A CA, a server certificate for 127.0.0.1/localhost and a client certificate."""
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
            "ca.pem", "-days", "2", "-subj", "/CN=portsyncd test CA", cwd=d)
    with open(os.path.join(d, "san.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name, ext in (("server", ["-extfile", "san.ext"]), ("client", [])):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out",
                f"{name}.csr", "-subj", f"/CN={name}", cwd=d)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", *ext, cwd=d)


# Capabilities and a Get over mTLS; prints gNMI_version and the number of ports in the answer.
GNMI_OVER_TLS = """
import sys
import grpc
import gnmi_client as gc
from gnmi_client import g
address, ca, cert, key = sys.argv[1:]
read = lambda path: open(path, "rb").read()
creds = grpc.ssl_channel_credentials(read(ca), read(key), read(cert))
channel = grpc.secure_channel(address, creds)
stub = gc.g_grpc.gNMIStub(channel)
caps = stub.Capabilities(g.CapabilityRequest(), timeout=10)
got = stub.Get(g.GetRequest(path=[gc.path("/interfaces")]), timeout=10)
print(caps.gNMI_version, len(got.notification))
"""


class TcpListenerTest(IntegrationTest):
    def ctl_in_ns(self, *args):
        return subprocess.run(["ip", "netns", "exec", self.h.ns.sw, PORTSYNCCTL, "--timeout", "3",
                               "--target", f"127.0.0.1:{PORT}", *args],
                              capture_output=True, text=True, timeout=20)

    def test_mutual_tls(self):
        h = self.h
        make_pki(h.dir)
        p = lambda name: os.path.join(h.dir, name)  # noqa: E731
        conf = h.write_config(
            f'[grpc]\ntcp_address = "127.0.0.1:{PORT}"\ntls_cert_file = "{p("server.pem")}"\n'
            f'tls_key_file = "{p("server.key")}"\ntls_client_ca_file = "{p("ca.pem")}"\n')
        d = h.daemon(config=conf)
        d.wait_log("startup: cold start")
        self.assertIn(f"and 127.0.0.1:{PORT} (mTLS)", d.output())
        ok = self.ctl_in_ns("--ca", p("ca.pem"), "--cert", p("client.pem"), "--key",
                            p("client.key"), "health")
        self.assertEqual(ok.returncode, 0, ok.stderr)
        self.assertIn("SERVING", ok.stdout)
        no_cert = self.ctl_in_ns("--ca", p("ca.pem"), "health")
        self.assertEqual(no_cert.returncode, 1)
        self.assertIn("cannot reach portsyncd", no_cert.stderr)
        plaintext = self.ctl_in_ns("health")
        self.assertEqual(plaintext.returncode, 1)
        # Reload over TCP needs the token as well: a valid client certificate is not enough.
        wrong = p("wrong.token")
        with open(wrong, "w") as f:
            f.write("00\n")
        denied = self.ctl_in_ns("--ca", p("ca.pem"), "--cert", p("client.pem"), "--key",
                                p("client.key"), "--token-file", wrong, "reload")
        self.assertEqual(denied.returncode, 1)
        self.assertIn("not authorized", denied.stderr)
        # gNMI on the same listener, with the same mTLS: a Python gNMI client in the namespace.
        gnmi = subprocess.run(
            ["ip", "netns", "exec", h.ns.sw, "/usr/bin/python3", "-c", GNMI_OVER_TLS,
             f"127.0.0.1:{PORT}", p("ca.pem"), p("client.pem"), p("client.key")],
            capture_output=True, text=True, timeout=30,
            env={**os.environ, "PYTHONPATH": os.path.dirname(os.path.abspath(__file__))})
        self.assertEqual(gnmi.returncode, 0, gnmi.stderr)
        self.assertEqual(gnmi.stdout.split(), ["0.10.0", "0"])  # this test creates no port
        # The unix socket stays available.
        self.assertEqual(subprocess.run([PORTSYNCCTL, "--target", d.socket, "health"],
                                        capture_output=True).returncode, 0)
        self.stop_clean(d)

    def test_insecure_only_on_loopback(self):
        h = self.h
        conf = h.write_config(f'[grpc]\ntcp_address = "127.0.0.1:{PORT}"\ntcp_insecure = true\n')
        d = h.daemon(config=conf)
        d.wait_log("startup: cold start")
        r = self.ctl_in_ns("ports")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.stop_clean(d)
        bad = h.write_config('[grpc]\ntcp_address = "0.0.0.0:50051"\ntcp_insecure = true\n')
        d2 = h.daemon(config=bad)
        self.assertEqual(d2.proc.wait(10), 1)
        self.assertIn(f"{bad}:3: grpc.tcp_insecure: allowed only on a loopback address",
                      d2.output())


if __name__ == "__main__":
    unittest.main()
