"""The OTLP/gRPC trace receiver: `opentelemetry.proto.collector.trace.v1.TraceService/Export`, answered per the spec.

Requests reach the intake as raw bytes (no protobuf objects: the vectorised decoder reads them);
gzip is grpc's own. OK with partial success (rejected spans counted), INVALID_ARGUMENT for a body
that is not OTLP, RESOURCE_EXHAUSTED over the size limit, UNAVAILABLE with a `RetryInfo` while the
consumer is behind (exporters retry it after the delay).
"""

from __future__ import annotations

import os
import socket
from concurrent.futures import ThreadPoolExecutor

# grpc's C core logs its own errors (a port in use, a bad key) to stderr as `E1203 ... add_port.cc:83] ...`
# lines; flowviz says what went wrong itself, once. Read when grpc is first imported; a user's setting stands.
os.environ.setdefault("GRPC_VERBOSITY", "NONE")

import grpc  # after its log level is set
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceResponse,
)

from flowviz.sources.otlp_intake import PROTOBUF, RETRY_AFTER_S, OtlpIntake, Verdict

SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"
_WORKERS = 4
_MAX_CONCURRENT_RPCS = 64  # more at once are refused by grpc with RESOURCE_EXHAUSTED (retryable with back-off)
_CODES = {
    Verdict.INVALID: (grpc.StatusCode.INVALID_ARGUMENT, code_pb2.INVALID_ARGUMENT),
    Verdict.TOO_LARGE: (grpc.StatusCode.RESOURCE_EXHAUSTED, code_pb2.RESOURCE_EXHAUSTED),
    Verdict.BUSY: (grpc.StatusCode.UNAVAILABLE, code_pb2.UNAVAILABLE),
}


class OtlpGrpcServer:
    """A grpc server with the trace service only, writing into `intake`; `address` is the bound HOST:PORT."""

    def __init__(self, host: str, port: int, intake: OtlpIntake, *, tls: tuple[bytes, bytes] | None = None) -> None:
        self.intake = intake
        limit = intake.max_body_bytes + 1024  # grpc refuses larger messages itself (RESOURCE_EXHAUSTED)
        self._server = grpc.server(
            ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="flowviz-otlp-grpc"),
            options=[("grpc.max_receive_message_length", limit), ("grpc.so_reuseport", 0)],
            maximum_concurrent_rpcs=_MAX_CONCURRENT_RPCS,
        )
        handler = grpc.unary_unary_rpc_method_handler(
            self._export, request_deserializer=None, response_serializer=ExportTraceServiceResponse.SerializeToString
        )
        self._server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, {"Export": handler}),))
        target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        try:
            if tls is None:
                bound = self._server.add_insecure_port(target)
            else:
                key, certificate = tls
                bound = self._server.add_secure_port(target, grpc.ssl_server_credentials([(key, certificate)]))
        except RuntimeError:  # grpc raises this when it cannot bind, without the reason (its log had it)
            raise OSError(f"cannot listen on {target}: {_bind_failure(host, port)}") from None
        if not bound:
            raise OSError(f"cannot listen on {target}: {_bind_failure(host, port)}")
        self.address = f"[{host}]:{bound}" if ":" in host else f"{host}:{bound}"

    def _export(self, request: bytes, context: grpc.ServicerContext) -> ExportTraceServiceResponse:
        answer = self.intake.accept(request, PROTOBUF, "grpc")
        if answer.verdict is Verdict.OK:
            response = ExportTraceServiceResponse()
            if answer.rejected:
                response.partial_success.CopyFrom(
                    ExportTracePartialSuccess(rejected_spans=answer.rejected, error_message=answer.message)
                )
            return response
        grpc_code, rpc_code = _CODES[answer.verdict]
        if answer.verdict is Verdict.BUSY:
            retry_info = error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=RETRY_AFTER_S))
            retry = any_pb2.Any()
            retry.Pack(retry_info)
            details = status_pb2.Status(code=rpc_code, message=answer.message, details=[retry])
            # the delay twice: in the status details (the collector's and Go's exporters read it there) and as
            # its own trailer (the Python SDK's exporter reads only `google.rpc.retryinfo-bin`)
            context.set_trailing_metadata(
                (
                    ("grpc-status-details-bin", details.SerializeToString()),
                    ("google.rpc.retryinfo-bin", retry_info.SerializeToString()),
                )
            )
        context.abort(grpc_code, answer.message)
        raise AssertionError("unreachable: abort raises")

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop(grace=0.5).wait(2.0)


def _bind_failure(host: str, port: int) -> str:
    """Why grpc could not bind HOST:PORT, as the system says it when a plain socket tries (in use, no such address)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as error:
        return error.strerror or str(error)
    for family, kind, proto, _, address in infos:
        with socket.socket(family, kind, proto) as probe:
            try:
                probe.bind(address)
            except OSError as error:
                return error.strerror or str(error)
    return "grpc could not bind it (set GRPC_VERBOSITY=debug to see grpc's reason)"
