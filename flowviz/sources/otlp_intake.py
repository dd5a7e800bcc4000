"""What both OTLP receivers (gRPC, HTTP) share: judge one export request, queue it, say how it went.

`OtlpIntake.accept` decodes one request body (protobuf or OTLP/JSON) in the calling server thread,
so the answer can count the spans it rejected (OTLP partial success); a body that is not OTLP at
all is refused (`INVALID`), and when the consumer (the deriver, or a recording's writer) has fallen
more than `max_pending_bytes` behind, the request is refused as `BUSY` before any work, so the sender
retries later and nothing is lost silently. The consumer calls `take()`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from enum import Enum

import orjson

from flowviz.decoders.builder import SpanBatchBuilder
from flowviz.decoders.otlp_json import add_otlp_json, looks_like_otlp_json
from flowviz.decoders.otlp_json_fast import try_add_otlp_json_bytes
from flowviz.decoders.otlp_proto import decode_otlp_proto
from flowviz.model.problems import Problems
from flowviz.model.span_batch import SpanBatch
from flowviz.sources.recording import RecordedMessage

PROTOBUF, JSON = "application/x-protobuf", "application/json"
DEFAULT_MAX_BODY_BYTES = 16 << 20  # a request larger than this (uncompressed) is refused (413 / RESOURCE_EXHAUSTED)
DEFAULT_MAX_PENDING_BYTES = 64 << 20  # received but not yet consumed: beyond this, senders are asked to retry
RETRY_AFTER_S = 1
_RATE_WINDOW_S = 2.0
# problem reasons that mean a span of the request was not taken (the rest only degrade a span)
_REJECTING = (
    "resource without service.name",
    "malformed span",
    "span with an invalid trace or span id",
    "span with an invalid start or end time",
)
_REFUSED = "otlp receiver: request is not OTLP (refused, not retried)"
_PARSE_ERROR = "otlp-proto: message does not parse (DecodeError)"


class Verdict(Enum):
    """How a request was answered."""

    OK = "ok"  # every span taken, or some rejected (partial success)
    INVALID = "invalid"  # not an OTLP request: 400 / INVALID_ARGUMENT, not retryable
    TOO_LARGE = "too large"  # over the size limit: 413 / RESOURCE_EXHAUSTED
    BUSY = "busy"  # the consumer is behind: 503 + Retry-After / UNAVAILABLE, retryable


@dataclass(frozen=True, slots=True)
class Answer:
    """The answer to one export request."""

    verdict: Verdict
    accepted: int = 0
    rejected: int = 0
    message: str = ""  # the partial-success error message, or why the request was refused


@dataclass(frozen=True, slots=True)
class Received:
    """One accepted request: its spans, and the request itself as a recording message (lossless)."""

    batch: SpanBatch
    message: RecordedMessage


@dataclass(slots=True)
class IntakeStatus:
    """Counters for the status line (plain values: they cross process pipes)."""

    kind: str = "otlp"
    state: str = "starting"  # starting | listening | stopped
    grpc: str = ""  # the bound address, HOST:PORT
    http: str = ""
    requests: int = 0
    spans: int = 0
    rejected_spans: int = 0
    refused_invalid: int = 0
    refused_too_large: int = 0
    refused_busy: int = 0
    bytes: int = 0
    spans_per_s: float = 0.0
    pending_bytes: int = 0
    last_refusal: str = ""
    problems: dict[str, dict[str, object]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class OtlpIntake:
    """Decodes, counts and queues export requests from any number of server threads; one consumer takes them."""

    def __init__(
        self,
        *,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_pending_bytes: int = DEFAULT_MAX_PENDING_BYTES,
        problems: Problems | None = None,
    ) -> None:
        self.max_body_bytes = max_body_bytes
        self.max_pending_bytes = max_pending_bytes
        self.problems = problems if problems is not None else Problems()
        self.status = IntakeStatus()
        self._queue: list[Received] = []
        self._pending_bytes = 0
        self._sequence = 0
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._rate: list[tuple[float, int]] = []
        self._closed = False
        self._in_flight = 0  # requests being decoded right now

    # -- the servers' side ---------------------------------------------------------------------

    def accept(self, body: bytes, content_type: str, transport: str) -> Answer:
        """Judge, decode and queue one request body (already uncompressed); never raises on bad input."""
        size = len(body)
        with self._lock:
            self.status.requests += 1
            if self._closed:
                return self._refuse(Verdict.BUSY, "flowviz is stopping: send this to the next receiver")
            if size > self.max_body_bytes:
                return self._refuse(Verdict.TOO_LARGE, f"request of {size:,} bytes is over {self.max_body_bytes:,}")
            if self._pending_bytes + size > self.max_pending_bytes and self._queue:
                return self._refuse(Verdict.BUSY, "flowviz is behind: retry later")
            self._sequence += 1
            sequence = self._sequence
            self._pending_bytes += size  # reserved now, so concurrent requests cannot overshoot
            self._in_flight += 1
        where = f"{transport} request {sequence}"
        try:
            batch, rejected, request_problems, error = _decode(body, content_type, where)
        except Exception as error:  # a decoder bug must not become a 500 that exporters retry forever
            batch, rejected, request_problems, error = None, 0, Problems(), f"{type(error).__name__}: {error}"
        with self._lock:
            self._in_flight -= 1
            self._arrived.notify_all()
            if batch is None:
                self._pending_bytes -= size
                return self._refuse(Verdict.INVALID, error, where)
            for reason, entry in request_problems.as_dict().items():
                first = entry["first"]
                self.problems.add(reason, first[0] if first else where, count=int(entry["count"]))  # type: ignore[arg-type]
            message = RecordedMessage(
                f"otlp/{transport}",
                0,
                sequence,
                2,
                time.time_ns() // 1_000_000,
                None,
                body,
                [("content-type", content_type.encode())],
            )
            if len(batch) or rejected:  # a request with nothing in it (valid, empty) is answered, not kept
                self._queue.append(Received(batch, message))
            else:
                self._pending_bytes -= size
            self.status.spans += len(batch)
            self.status.rejected_spans += rejected
            self.status.bytes += size
            self._arrived.notify_all()
        text = f"{rejected} of {rejected + len(batch)} spans rejected: {_reasons(request_problems)}" if rejected else ""
        return Answer(Verdict.OK, len(batch), rejected, text)

    def refuse(self, verdict: Verdict, message: str, transport: str) -> Answer:
        """Count a request its server refused before reading it whole (a bad gzip stream, too large to read)."""
        with self._lock:
            self.status.requests += 1
            self._sequence += 1
            return self._refuse(verdict, message, f"{transport} request {self._sequence}")

    def _refuse(self, verdict: Verdict, message: str, where: str = "") -> Answer:
        if verdict is Verdict.INVALID:
            self.problems.add(_REFUSED, f"{where} ({message})")
        if verdict is Verdict.BUSY:
            self.status.refused_busy += 1
        elif verdict is Verdict.TOO_LARGE:
            self.status.refused_too_large += 1
        else:
            self.status.refused_invalid += 1
        self.status.last_refusal = f"{verdict.value}: {message}"
        return Answer(verdict, message=message)

    # -- the consumer's side -------------------------------------------------------------------

    def close(self, timeout_s: float = 5.0) -> None:
        """Refuse new requests (retryable) and wait for those being decoded, so a last `take()` gets them all."""
        deadline = time.monotonic() + timeout_s
        with self._arrived:
            self._closed = True
            while self._in_flight and time.monotonic() < deadline:
                self._arrived.wait(deadline - time.monotonic())

    def take(self, timeout_s: float = 0.1) -> list[Received]:
        """Everything queued so far, waiting at most `timeout_s` for something to arrive."""
        with self._arrived:
            if not self._queue:
                self._arrived.wait(timeout_s)
            taken, self._queue = self._queue, []
            self._pending_bytes -= sum(len(r.message.value or b"") for r in taken)
            return taken

    def problems_dict(self) -> dict[str, dict[str, object]]:
        """`Problems.as_dict()` of what the requests had, read safely while servers add to it."""
        with self._lock:
            return self.problems.as_dict()

    def snapshot(self) -> dict[str, object]:
        """The status as plain values, with the span rate over the last seconds and the problems so far."""
        now = time.monotonic()
        with self._lock:
            self._rate = [(t, s) for t, s in self._rate if now - t <= _RATE_WINDOW_S] + [(now, self.status.spans)]
            first_t, first_spans = self._rate[0]
            if now > first_t:
                self.status.spans_per_s = (self.status.spans - first_spans) / (now - first_t)
            self.status.pending_bytes = self._pending_bytes
            self.status.problems = self.problems.as_dict()
            return self.status.as_dict()


def _decode(body: bytes, content_type: str, where: str) -> tuple[SpanBatch | None, int, Problems, str]:
    """(spans, rejected span count, the request's problems, why it is not OTLP); spans None when it is not."""
    problems = Problems()
    builder = SpanBatchBuilder(problems)
    if content_type == JSON:
        if try_add_otlp_json_bytes(body, builder, where) is None:
            try:
                document = orjson.loads(body)
            except orjson.JSONDecodeError as error:
                return None, 0, problems, f"body is not JSON ({str(error).split(':')[0]})"
            if not looks_like_otlp_json(document):
                return None, 0, problems, "body is not an OTLP/JSON ExportTraceServiceRequest (no resourceSpans)"
            add_otlp_json(document, builder, problems, where)
    else:
        decode_otlp_proto([body], builder, problems, [where])
        if problems.count(_PARSE_ERROR):
            return None, 0, problems, "body is not an OTLP protobuf ExportTraceServiceRequest (does not parse)"
    batch = builder.build()
    rejected = sum(int(entry["count"]) for reason, entry in problems.as_dict().items() if reason.endswith(_REJECTING))
    return batch, rejected, problems, ""


def _reasons(problems: Problems) -> str:
    return "; ".join(
        f"{entry['count']} × {reason}" for reason, entry in problems.as_dict().items() if reason.endswith(_REJECTING)
    )
