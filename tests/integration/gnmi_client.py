"""An independent gNMI client for the tests: python3-grpcio with stubs generated from our
gnmi/gnmi.proto (build/proto/python), as any collector would build its own. Nothing here knows
the daemon's internals."""

import json
import os
import queue
import sys
import threading

import grpc

sys.path.insert(0, os.environ.get("PORTSYNCD_PY_STUBS", ""))
from gnmi import gnmi_pb2 as g  # noqa: E402
from gnmi import gnmi_pb2_grpc as g_grpc  # noqa: E402
from gnmi_ext import gnmi_ext_pb2 as ext  # noqa: E402


def connect(socket_path, options=()):
    channel = grpc.insecure_channel("unix:" + socket_path, options=list(options))
    grpc.channel_ready_future(channel).result(timeout=10)
    return channel, g_grpc.gNMIStub(channel)


def path(text, origin=""):
    """'/interfaces/interface[name=Ethernet0]/state/mtu' -> gnmi.Path."""
    p = g.Path(origin=origin)
    for part in [s for s in text.strip("/").split("/") if s]:
        name, _, rest = part.partition("[")
        elem = p.elem.add(name=name)
        while rest:
            key, _, rest = rest.partition("=")
            value, _, rest = rest.partition("]")
            elem.key[key] = value
            rest = rest.lstrip("[")
    return p


def path_text(prefix, p):
    out = []
    for part in list(prefix.elem) + list(p.elem):
        keys = "".join(f"[{k}={v}]" for k, v in sorted(part.key.items()))
        out.append(part.name + keys)
    return "/" + "/".join(out)


def value(typed):
    """A TypedValue as a Python value, whatever the encoding."""
    kind = typed.WhichOneof("value")
    if kind in ("json_val", "json_ietf_val"):
        return json.loads(getattr(typed, kind))
    return getattr(typed, kind)


def leaves(notification):
    """{full path: (value, duplicates)} of a notification's updates."""
    return {path_text(notification.prefix, u.path): (value(u.val), u.duplicates)
            for u in notification.update}


def subscription_list(paths, mode=g.SubscriptionList.STREAM, encoding=g.PROTO, sub_mode=None,
                      sample_ns=0, heartbeat_ns=0, suppress=False, updates_only=False,
                      prefix=None, origin=""):
    sl = g.SubscriptionList(mode=mode, encoding=encoding, updates_only=updates_only,
                            prefix=prefix or g.Path())
    for p in paths:
        sl.subscription.add(path=path(p, origin), mode=sub_mode or g.TARGET_DEFINED,
                            sample_interval=sample_ns, heartbeat_interval=heartbeat_ns,
                            suppress_redundant=suppress)
    return sl


class Subscription:
    """A Subscribe call: requests are fed from a queue (so Poll can be sent later); responses are
    read by a thread into a queue (started later with read=False: a reader that stalls)."""

    END = object()

    def __init__(self, stub, subscription_list, extensions=(), read=True):
        self.requests = queue.Queue()
        self.requests.put(g.SubscribeRequest(subscribe=subscription_list,
                                             extension=list(extensions)))
        self.call = stub.Subscribe(iter(self.requests.get, None))
        self.responses = queue.Queue()
        self.error = None
        if read:
            self.start_reading()

    def start_reading(self):
        def run():
            try:
                for r in self.call:
                    self.responses.put(r)
            except grpc.RpcError as e:
                self.error = e
            self.responses.put(Subscription.END)
        threading.Thread(target=run, daemon=True).start()

    def poll(self):
        self.requests.put(g.SubscribeRequest(poll=g.Poll()))

    def next(self, timeout=10):
        """The next response; None when the stream ended (see .error, or .code()); raises
        queue.Empty after `timeout`."""
        r = self.responses.get(timeout=timeout)
        if r is Subscription.END:
            self.responses.put(r)  # stays ended
            return None
        return r

    def code(self):
        return self.error.code() if self.error else grpc.StatusCode.OK

    def until_sync(self, timeout=10):
        """Responses up to and including sync_response."""
        out = []
        while True:
            r = self.next(timeout)
            if r is None:
                raise AssertionError("stream ended (%s) before sync_response: %r"
                                     % (self.error, out))
            out.append(r)
            if r.HasField("sync_response"):
                return out

    def close(self):
        self.requests.put(None)
        self.call.cancel()


def history(start_ns, end_ns):
    return ext.Extension(history=ext.History(range=ext.TimeRange(start=start_ns, end=end_ns)))
