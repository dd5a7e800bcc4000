"""The OTLP/HTTP trace receiver: `POST /v1/traces`, protobuf or JSON, gzip, answered as the OTLP specification says.

200 with an `ExportTraceServiceResponse` (partial success: rejected spans counted), 400 with a
`google.rpc.Status` for a body that is not OTLP, 413 over the size limit, 415 for another content
type, 503 with `Retry-After` while the consumer is behind; responses in the request's encoding.
"""

from __future__ import annotations

import contextlib
import ssl
import threading
import zlib
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf import json_format
from google.rpc import code_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceResponse,
)

from flowviz.sources.otlp_intake import JSON, PROTOBUF, RETRY_AFTER_S, Answer, OtlpIntake, Verdict

TRACES_PATH = "/v1/traces"
_SOCKET_TIMEOUT_S = 30.0  # a sender that stalls mid-request frees its thread after this
_STATUS_OF = {
    Verdict.INVALID: (HTTPStatus.BAD_REQUEST, code_pb2.INVALID_ARGUMENT),
    Verdict.TOO_LARGE: (HTTPStatus.REQUEST_ENTITY_TOO_LARGE, code_pb2.RESOURCE_EXHAUSTED),
    Verdict.BUSY: (HTTPStatus.SERVICE_UNAVAILABLE, code_pb2.UNAVAILABLE),
}


class _Refused(Exception):
    def __init__(self, verdict: Verdict, message: str) -> None:
        super().__init__(message)
        self.verdict = verdict


class _Handler(BaseHTTPRequestHandler):
    server: OtlpHttpServer
    protocol_version = "HTTP/1.1"  # keep-alive: exporters reuse their connection
    timeout = _SOCKET_TIMEOUT_S

    def setup(self) -> None:
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(_SOCKET_TIMEOUT_S)
            self.request.do_handshake()  # here, in the request's thread, not in the accepting one
        super().setup()

    def log_message(self, format: str, *args: object) -> None:
        pass  # one line per request on stderr is noise; the status line counts requests

    def do_POST(self) -> None:
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        content_type = PROTOBUF if content_type == "application/protobuf" else content_type  # (some clients say so)
        encoding = JSON if content_type == JSON else PROTOBUF
        if self.path.split("?", 1)[0] != TRACES_PATH:
            self._discard_body()
            self._status(
                HTTPStatus.NOT_FOUND, encoding, code_pb2.NOT_FOUND, f"no endpoint {self.path}; use {TRACES_PATH}"
            )
            return
        if content_type not in (PROTOBUF, JSON):
            self._discard_body()
            self._status(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                PROTOBUF,
                code_pb2.INVALID_ARGUMENT,
                f"Content-Type {content_type or '(none)'} is not {PROTOBUF} or {JSON}",
            )
            return
        try:
            body = self._read_body()
        except _Refused as refused:
            self._refuse(self.server.intake.refuse(refused.verdict, str(refused), "http"), encoding)
            return
        answer = self.server.intake.accept(body, encoding, "http")
        if answer.verdict is not Verdict.OK:
            self._refuse(answer, encoding)
            return
        response = ExportTraceServiceResponse()
        if answer.rejected:
            response.partial_success.CopyFrom(
                ExportTracePartialSuccess(rejected_spans=answer.rejected, error_message=answer.message)
            )
        self._send(HTTPStatus.OK, encoding, response)

    def _method_not_allowed(self) -> None:
        self._discard_body()
        self._status(HTTPStatus.METHOD_NOT_ALLOWED, PROTOBUF, code_pb2.UNIMPLEMENTED, f"use POST {TRACES_PATH}")

    do_GET = do_PUT = do_DELETE = do_PATCH = _method_not_allowed

    def _read_body(self) -> bytes:
        limit = self.server.intake.max_body_bytes
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            raw = self._read_chunked(limit)
        else:
            try:
                length = int(self.headers.get("Content-Length", "0"))
            except ValueError:
                self.close_connection = True
                raise _Refused(Verdict.INVALID, "Content-Length is not a number") from None
            if length > limit:
                self.close_connection = True  # the body is not read: the connection cannot be reused
                raise _Refused(Verdict.TOO_LARGE, f"request of {length:,} bytes is over {limit:,}")
            raw = self.rfile.read(length)
            if len(raw) < length:
                self.close_connection = True
                raise _Refused(Verdict.INVALID, "body shorter than its Content-Length")
        content_encoding = self.headers.get("Content-Encoding", "identity").strip().lower()
        if content_encoding in ("", "identity"):
            return raw
        if content_encoding not in ("gzip", "deflate"):
            raise _Refused(Verdict.INVALID, f"Content-Encoding {content_encoding} is not gzip")
        inflater = zlib.decompressobj(zlib.MAX_WBITS | 32 if content_encoding == "gzip" else zlib.MAX_WBITS)
        try:
            body = inflater.decompress(raw, limit + 1)
        except zlib.error as error:
            raise _Refused(Verdict.INVALID, f"body is not valid {content_encoding} ({error})") from None
        if len(body) > limit:
            raise _Refused(Verdict.TOO_LARGE, f"request is over {limit:,} bytes uncompressed")
        if not inflater.eof:
            raise _Refused(Verdict.INVALID, f"body is a cut-off {content_encoding} stream")
        return body

    def _read_chunked(self, limit: int) -> bytes:
        parts, size = [], 0
        while True:
            line = self.rfile.readline(1024)
            try:
                length = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                self.close_connection = True
                raise _Refused(Verdict.INVALID, "malformed chunked body") from None
            if length == 0:
                while self.rfile.readline(1024).strip():
                    pass  # trailers
                return b"".join(parts)
            size += length
            if size > limit:
                self.close_connection = True
                raise _Refused(Verdict.TOO_LARGE, f"request is over {limit:,} bytes")
            parts.append(self.rfile.read(length))
            self.rfile.readline(1024)

    def _discard_body(self) -> None:
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if 0 <= length <= self.server.intake.max_body_bytes:
            self.rfile.read(length)
        else:
            self.close_connection = True

    def _refuse(self, answer: Answer, encoding: str) -> None:
        http_status, code = _STATUS_OF[answer.verdict]
        self._status(http_status, encoding, code, answer.message)

    def _status(self, http_status: HTTPStatus, encoding: str, code: int, message: str) -> None:
        extra = {"Retry-After": str(RETRY_AFTER_S)} if http_status == HTTPStatus.SERVICE_UNAVAILABLE else {}
        self._send(http_status, encoding, status_pb2.Status(code=code, message=message), extra)

    def _send(self, http_status: HTTPStatus, encoding: str, message, extra: dict[str, str] | None = None) -> None:
        if encoding == JSON:
            body = json_format.MessageToJson(message, indent=None).encode()
        else:
            body = message.SerializeToString()
        self.send_response(http_status)
        self.send_header("Content-Type", encoding)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        with contextlib.suppress(OSError):
            self.wfile.write(body)


class OtlpHttpServer(ThreadingHTTPServer):
    """Serves `POST /v1/traces` into `intake` from its own threads; `address` is the bound HOST:PORT."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, host: str, port: int, intake: OtlpIntake, *, tls: ssl.SSLContext | None = None) -> None:
        self.address_family = _family(host)
        super().__init__((host, port), _Handler)
        self.intake = intake
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        host, port = self.server_address[:2]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
        self._thread.name = "flowviz-otlp-http"
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join(2.0)
        self.server_close()


def _family(host: str) -> int:
    import socket

    return socket.AF_INET6 if ":" in host else socket.AF_INET
