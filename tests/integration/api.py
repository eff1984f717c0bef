"""The portsyncd API from Python: stubs generated from proto/portsyncd/v1/portsyncd.proto with
Debian's grpc_python_plugin, used through Debian's python3-grpcio. This is the API's second,
independent client (portsyncctl is the first)."""

import os
import sys

sys.path.insert(0, os.environ.get("PORTSYNCD_PY_STUBS", ""))

import grpc  # noqa: E402
from portsyncd.v1 import portsyncd_pb2 as pb  # noqa: E402,F401
from portsyncd.v1 import portsyncd_pb2_grpc as pb_grpc  # noqa: E402

UP, DOWN = pb.LINK_STATUS_UP, pb.LINK_STATUS_DOWN
EV = pb.LinkEvent


def connect(socket_path):
    channel = grpc.insecure_channel("unix:" + socket_path)
    grpc.channel_ready_future(channel).result(timeout=10)
    return channel, pb_grpc.PortSyncStub(channel)


def read_until_synced(stream):
    """The events of `stream` up to and including SYNCED (the snapshot)."""
    events = []
    for event in stream:
        events.append(event)
        if event.type == EV.TYPE_SYNCED:
            return events
    raise AssertionError("stream ended before SYNCED")


class Watch:
    """WatchLinkEvents, read as StreamLinkEvents is: iterating yields the events of each batch in
    turn; `batches` counts the messages, cancel() ends the call."""

    def __init__(self, stub, request=None, **kwargs):
        self.call = stub.WatchLinkEvents(request or pb.StreamLinkEventsRequest(), **kwargs)
        self.batches = 0
        self.largest = 0

    def __iter__(self):
        for batch in self.call:
            self.batches += 1
            self.largest = max(self.largest, len(batch.events))
            assert batch.events, "an empty LinkEventBatch"
            yield from batch.events

    def cancel(self):
        self.call.cancel()


def type_name(event):
    return EV.Type.Name(event.type)


# grpc.health.v1 and reflection, called with hand-encoded protobuf (their Python packages are not
# in Debian): HealthCheckRequest{service=1}, HealthCheckResponse{status=1}.
def health_check(channel, service=""):
    raw = service.encode()
    request = b"\n" + bytes([len(raw)]) + raw if raw else b""
    check = channel.unary_unary("/grpc.health.v1.Health/Check",
                                request_serializer=lambda b: b, response_deserializer=lambda b: b)
    reply = check(request, timeout=5)
    return {b"": "UNKNOWN", b"\x08\x01": "SERVING", b"\x08\x02": "NOT_SERVING"}.get(reply, reply)


def reflection_services(channel):
    """Service names from grpc.reflection.v1alpha list_services."""
    info = channel.stream_stream("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                                 request_serializer=lambda b: b,
                                 response_deserializer=lambda b: b)
    replies = list(info(iter([b":\x00"]), timeout=5))  # field 7 (list_services) = ""
    return replies[0]


def _fields(data):
    """(number, wire type, value) of each field of a serialized message: a minimal reader for
    the reflection replies, which have no generated stubs here."""
    i, out = 0, []

    def varint():
        nonlocal i
        shift = value = 0
        while True:
            b = data[i]
            i += 1
            value |= (b & 0x7f) << shift
            shift += 7
            if b < 0x80:
                return value

    while i < len(data):
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            out.append((number, wire, varint()))
        elif wire == 2:
            n = varint()
            out.append((number, wire, data[i:i + n]))
            i += n
        else:
            raise ValueError(f"unexpected wire type {wire}")
    return out


def reflection_files(channel, symbol=None, filename=None):
    """Resolves `symbol` (file_containing_symbol) or `filename` (file_by_filename) through
    reflection, as grpcurl does. Returns the FileDescriptorProtos, or raises LookupError with
    the server's error."""
    from google.protobuf import descriptor_pb2
    value = (symbol or filename).encode()
    number = 4 if symbol else 3
    request = bytes([number << 3 | 2, len(value)]) + value
    info = channel.stream_stream("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                                 request_serializer=lambda b: b,
                                 response_deserializer=lambda b: b)
    reply = list(info(iter([request]), timeout=5))[0]
    files = []
    for number, _, value in _fields(reply):
        if number == 7:  # error_response
            raise LookupError(dict((n, v) for n, _, v in _fields(value)))
        if number == 4:  # file_descriptor_response
            for n, _, raw in _fields(value):
                if n == 1:
                    files.append(descriptor_pb2.FileDescriptorProto.FromString(raw))
    return files


def dump_applied(stub):
    """True once the daemon answers GetPortState: it answers UNAVAILABLE until its first link
    dump is applied (a restarted daemon does not know the kernel before it)."""
    try:
        stub.GetPortState(pb.GetPortStateRequest(), timeout=5)
        return True
    except grpc.RpcError as e:
        if e.code() != grpc.StatusCode.UNAVAILABLE:
            raise
        return False


# --- Helpers for the hardening tests --------------------------------------------------------

def health(stub):
    return stub.GetHealth(pb.GetHealthRequest(), timeout=5)


def subscribers(stub):
    return health(stub).counters.stream_subscribers


def raw_unary(channel, method):
    """A unary call of PortSync.<method> that sends and returns raw bytes: for requests the
    generated stubs refuse to build (e.g. a `string` field holding bytes that are not UTF-8)."""
    return channel.unary_unary(f"/portsyncd.v1.PortSync/{method}",
                               request_serializer=lambda b: b, response_deserializer=lambda b: b)


def raw_stream(channel, method):
    return channel.unary_stream(f"/portsyncd.v1.PortSync/{method}",
                                request_serializer=lambda b: b, response_deserializer=lambda b: b)


def encode_names(names):
    """`repeated string names = 1` encoded by hand from bytes (field 1, wire type 2)."""
    out = b""
    for n in names:
        size, varint = len(n), b""
        while True:
            byte = size & 0x7F
            size >>= 7
            varint += bytes([byte | (0x80 if size else 0)])
            if not size:
                break
        out += b"\x0a" + varint + n
    return out
