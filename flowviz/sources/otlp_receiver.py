"""flowviz as an OTLP endpoint: settings, the two servers around one intake, the live worker and the recorder.

`OtlpReceiver` runs the gRPC and/or HTTP server (loopback unless `allow_remote`, and then only with
TLS); `OtlpSource` is what the worker process of `flowviz listen` (`ProcessFeed`) reads: what arrives,
as span batches, with the receiver's status, through the one ingest loop as Kafka is; `record_otlp`
appends every accepted request to a recording (`flowviz record --grpc/--http`), which `open`/`report`
read like a Kafka recording.
"""

from __future__ import annotations

import ipaddress
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowviz.model.problems import Problems
from flowviz.model.span_batch import SpanBatch
from flowviz.sources.live_recording import LiveRecorder
from flowviz.sources.otlp_defaults import DEFAULT_GRPC as DEFAULT_GRPC
from flowviz.sources.otlp_defaults import DEFAULT_HTTP as DEFAULT_HTTP
from flowviz.sources.otlp_intake import DEFAULT_MAX_BODY_BYTES, OtlpIntake, Received
from flowviz.sources.raw_inputs import RawRing
from flowviz.sources.source import LIVE_EXEMPLAR_TIME_SHARE, Idle, SourceItem
from flowviz.sources.tls_files import TlsFileError, read_tls_file, server_context
from flowviz.store.drill_down import DrillDownStore

if TYPE_CHECKING:
    from flowviz.sources.recording import RecordingWriter


class ReceiverConfigError(ValueError):
    """Receiver settings that cannot work (an address, a public interface without TLS, unreadable keys)."""


@dataclass(frozen=True, slots=True)
class ReceiverSettings:
    """Where to listen for OTLP (None: that protocol is off), and how (TLS files, size limit)."""

    grpc: str | None = DEFAULT_GRPC
    http: str | None = DEFAULT_HTTP
    allow_remote: bool = False  # bind to interfaces other than loopback (needs TLS)
    tls_cert: str | None = None
    tls_key: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES

    def describe(self) -> str:
        parts = [f"gRPC {self.grpc}" if self.grpc else "", f"HTTP {self.http}" if self.http else ""]
        return " and ".join(p for p in parts if p)


def split_address(text: str) -> tuple[str, int]:
    """`HOST:PORT` or `[IPv6]:PORT` -> (host, port); ReceiverConfigError when it is neither."""
    host, sep, port_text = text.strip().rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ReceiverConfigError(f"{text!r}: expected HOST:PORT (e.g. {DEFAULT_GRPC})")
    return host, int(port_text)


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_receiver_settings(settings: ReceiverSettings) -> None:
    """Raise ReceiverConfigError for settings that cannot (or must not) work, before binding anything."""
    addresses = [a for a in (settings.grpc, settings.http) if a]
    if not addresses:
        raise ReceiverConfigError("nothing to listen on: give --grpc HOST:PORT and/or --http HOST:PORT")
    public = [a for a in addresses if not is_loopback(split_address(a)[0])]
    if public and not settings.allow_remote:
        raise ReceiverConfigError(
            f"{', '.join(public)} is not a loopback address: add --allow-remote (with --tls-cert and --tls-key) "
            "to receive from other machines"
        )
    if bool(settings.tls_cert) != bool(settings.tls_key):
        raise ReceiverConfigError("--tls-cert and --tls-key go together")
    if public and not settings.tls_cert:
        raise ReceiverConfigError(f"{', '.join(public)}: listening beyond loopback needs --tls-cert and --tls-key")
    if settings.tls_cert:
        _tls_context(settings)  # a bad pair is refused here, alike for gRPC and HTTP, before anything listens
    if settings.max_body_bytes < 1024:
        raise ReceiverConfigError("the request size limit must be at least 1 kB")


def _tls_context(settings: ReceiverSettings) -> ssl.SSLContext:
    """The server context of --tls-cert/--tls-key (checked as a pair); ReceiverConfigError naming the bad file."""
    try:
        return server_context(settings.tls_cert, settings.tls_key)  # type: ignore[arg-type]
    except TlsFileError as error:
        raise ReceiverConfigError(str(error)) from None


def _tls_files(settings: ReceiverSettings) -> tuple[bytes, bytes]:
    """(key, certificate chain) PEM bytes for grpc, read once the pair loaded into an ssl context."""
    try:
        return read_tls_file(settings.tls_key), read_tls_file(settings.tls_cert)  # type: ignore[arg-type]
    except TlsFileError as error:
        raise ReceiverConfigError(str(error)) from None


class OtlpReceiver:
    """The configured servers, started on construction, feeding `self.intake`; `stop()` closes them."""

    def __init__(self, settings: ReceiverSettings, *, problems: Problems | None = None) -> None:
        from flowviz.sources.otlp_grpc import OtlpGrpcServer
        from flowviz.sources.otlp_http import OtlpHttpServer

        check_receiver_settings(settings)
        self.settings = settings
        self.intake = OtlpIntake(max_body_bytes=settings.max_body_bytes, problems=problems)
        self.grpc_server: OtlpGrpcServer | None = None
        self.http_server: OtlpHttpServer | None = None
        tls_context = _tls_context(settings) if settings.tls_cert else None
        tls_files = _tls_files(settings) if settings.tls_cert else None
        try:
            if settings.grpc:
                self.grpc_server = OtlpGrpcServer(*split_address(settings.grpc), self.intake, tls=tls_files)
                self.grpc_server.start()
                self.intake.status.grpc = self.grpc_server.address
            if settings.http:
                host, port = split_address(settings.http)
                try:
                    self.http_server = OtlpHttpServer(host, port, self.intake, tls=tls_context)
                except OSError as error:
                    raise OSError(f"cannot listen on {settings.http}: {error.strerror or error}") from None
                self.http_server.start()
                self.intake.status.http = self.http_server.address
        except BaseException:
            self.stop()
            raise
        self.intake.status.state = "listening"

    def stop(self) -> None:
        """Close both servers; requests still arriving are refused as retryable, those in flight finish first."""
        if self.intake.status.state == "stopped":
            return
        self.intake.close()
        if self.grpc_server is not None:
            self.grpc_server.stop()
        if self.http_server is not None:
            self.http_server.stop()
        self.intake.status.state = "stopped"

    def recording_header(self) -> dict[str, Any]:
        """What a recording of the received requests says about its source (the bound addresses; never secrets)."""
        return {
            "source": "otlp receiver",
            "grpc": self.intake.status.grpc or None,
            "http": self.intake.status.http or None,
            "tls": bool(self.settings.tls_cert),
            "format_name": "auto",
        }

    def __enter__(self) -> OtlpReceiver:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def status_text(status: dict[str, Any]) -> str:
    """One status line from an intake snapshot: where it listens, rates, refusals, and recording if any."""
    recording = status.get("recording") or {}
    prefix = ""
    if recording.get("active"):
        prefix = f"● REC {Path(recording['path']).name} · "
    elif recording.get("error"):
        prefix = f"recording stopped: {recording['error']} · "
    where = " · ".join(
        f"{label} {status[key]}" for label, key in (("gRPC", "grpc"), ("HTTP", "http")) if status.get(key)
    )
    parts = [f"{status['state']} on {where}" if where else str(status["state"])]
    parts.append(f"{status['requests']:,} requests · {status['spans_per_s']:,.0f} spans/s")
    refused = {
        "not OTLP": status["refused_invalid"],
        "too large": status["refused_too_large"],
        "busy, retry asked": status["refused_busy"],
    }
    if status["rejected_spans"]:
        parts.append(f"{status['rejected_spans']:,} spans rejected")
    parts += [f"{count:,} refused ({why})" for why, count in refused.items() if count]
    return prefix + " · ".join(parts)


class OtlpSource:
    """What the receiver accepts, as a `Source` (the worker-process side of `flowviz listen`): span batches as
    requests arrive; `status()` is the intake's snapshot with a `recording` entry; `record(path)` appends every
    accepted request from then on to a recording, `record(None)` closes it. The servers start on construction."""

    def __init__(self, settings: ReceiverSettings, *, problems: Problems) -> None:
        self.problems = problems  # the deriver's, in this thread; the intake keeps its own (server threads, its lock)
        self.receiver = OtlpReceiver(settings)
        self.recorder = LiveRecorder(self.receiver.recording_header())
        self.raw = RawRing()  # the latest request bodies, searched again for a trace the window opens

    def batches(self) -> Iterator[SourceItem]:
        try:
            yield Idle()  # the window's first commands (a recording asked for at once) apply from the first request
            while True:
                received = self.receiver.intake.take(timeout_s=0.1)
                if not received:
                    yield Idle()
                    continue
                messages = [r.message for r in received]
                self.recorder.append(messages)
                self.raw.add([m.value for m in messages])
                yield SpanBatch.concat([r.batch for r in received])
        finally:
            self.recorder.stop()
            self.receiver.stop()

    def record(self, path: str | None) -> None:
        self.recorder.switch(path)

    def status(self) -> dict[str, Any]:
        return {**self.receiver.intake.snapshot(), "recording": self.recorder.status()}

    def problem_counts(self) -> dict[str, dict[str, object]]:
        return dict(sorted({**self.problems.as_dict(), **self.receiver.intake.problems_dict()}.items()))

    def drill_down(self) -> DrillDownStore:
        details = DrillDownStore(max_time_share=LIVE_EXEMPLAR_TIME_SHARE)  # senders do not wait: sample exemplars
        details.raw_spans = self.raw.span_details
        return details


@dataclass(slots=True)
class RecordTotals:
    """What a recording session appended, and why it stopped."""

    requests: int = 0
    spans: int = 0
    bytes: int = 0
    stopped_by: str = ""


def record_otlp(
    receiver: OtlpReceiver,
    writer: RecordingWriter,
    *,
    until_idle_s: float | None = None,
    max_requests: int | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    on_status: Callable[[dict], None] | None = None,
    status_every_s: float = 5.0,
) -> RecordTotals:
    """Append every request `receiver` accepts to `writer` until idle for `until_idle_s`, a count, or `should_stop()`;
    then stop the receiver and append what it accepted meanwhile."""
    totals = RecordTotals()
    last_request_s = time.monotonic()
    next_status_s = last_request_s + 1.0
    while True:
        if should_stop():
            totals.stopped_by = "stopped"
            break
        received = receiver.intake.take(timeout_s=0.1)
        now = time.monotonic()
        if received:
            _append(writer, received, totals)
            last_request_s = now
        if on_status is not None and now >= next_status_s:
            next_status_s = now + status_every_s
            on_status(receiver.intake.snapshot())
        if max_requests is not None and totals.requests >= max_requests:
            totals.stopped_by = f"{max_requests} requests"
            break
        if until_idle_s is not None and now - last_request_s >= until_idle_s:
            totals.stopped_by = f"idle for {until_idle_s:g} s"
            break
    receiver.stop()  # what was accepted before the servers closed is written too: answered OK means recorded
    _append(writer, receiver.intake.take(timeout_s=0), totals)
    return totals


def _append(writer: RecordingWriter, received: list[Received], totals: RecordTotals) -> None:
    if received:
        writer.append([r.message for r in received])
        totals.requests += len(received)
        totals.spans += sum(len(r.batch) for r in received)
        totals.bytes += sum(len(r.message.value or b"") for r in received)
