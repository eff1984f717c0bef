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
