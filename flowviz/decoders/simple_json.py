"""The simple trace form {"traceId", "spans": [{"service", "durationMs", ...}]} -> SpanBatchBuilder rows."""

from __future__ import annotations

import hashlib

from flowviz.decoders.builder import SpanBatchBuilder
from flowviz.decoders.json_values import MAX_ID_DIGITS, MILLISECOND_NS, is_id_text, to_ns
from flowviz.model.problems import Problems
from flowviz.model.span_batch import SpanKind, StatusCode

_KINDS = {
    "client": SpanKind.CLIENT,
    "server": SpanKind.SERVER,
    "producer": SpanKind.PRODUCER,
    "consumer": SpanKind.CONSUMER,
    "internal": SpanKind.INTERNAL,
}
_HEX = frozenset("0123456789abcdefABCDEF")
# start and duration each stay below 2**62 ns, so start_ns + duration_ns always fits an int64


def looks_like_simple(doc: object) -> bool:
    """True for `{"traceId", "spans": [{"service", ...}, ...]}` or a non-empty list of those."""
    if isinstance(doc, list):
        if not doc:
            return False
        doc = doc[0]
    if not isinstance(doc, dict) or "traceId" not in doc:
        return False
    spans = doc.get("spans")
    return isinstance(spans, list) and bool(spans) and isinstance(spans[0], dict) and "service" in spans[0]


def add_simple(doc: object, builder: SpanBatchBuilder, problems: Problems, where: str) -> int:
    """Append every span of a simple-form trace (or list of traces) to `builder`; return the count.

    Spans are in call order: a span without "parentId" is the child of the span before it (the
    first is a root), and a span without "spanId" gets id position+1. A span without "startMs"
    starts with its parent (the first with the trace's "startMs", else 0). A trace without a
    usable traceId, spans list or startMs is skipped whole and counted once.
    """
    if isinstance(doc, dict):
        return _add_trace(doc, builder, problems, where, f"{where}:span ")
    if not isinstance(doc, list):
        problems.add("simple: document is not an object or list", where)
        return 0
    added = 0
    for index, trace in enumerate(doc):
        trace_where = f"{where}:trace {index}"
        added += _add_trace(trace, builder, problems, trace_where, f"{trace_where} span ")
    return added


def _trace_id_hex(trace_id: object) -> str:
    """The trace id as hex: kept if it already is a non-zero hex id, else a stable 128-bit blake2b hash.

    Ints are read as their decimal text ("42" and 42 name the same trace); any other text is
    hashed so different names never merge.
    """
    text = trace_id if isinstance(trace_id, str) else str(trace_id)
    if len(text) <= MAX_ID_DIGITS and text.strip("0") and _HEX.issuperset(text):
        return text
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def _add_trace(trace: object, builder: SpanBatchBuilder, problems: Problems, where: str, span_prefix: str) -> int:
    if not isinstance(trace, dict):
        problems.add("simple: trace is not an object", where)
        return 0
    raw_trace_id = trace.get("traceId")
    if raw_trace_id is None or raw_trace_id == "" or isinstance(raw_trace_id, bool | dict | list):
        problems.add("simple: trace without traceId", where)
        return 0
    spans = trace.get("spans")
    if not isinstance(spans, list):
        problems.add("simple: trace without a spans list", where)
        return 0
    trace_start_ms = trace.get("startMs")
    trace_start_ns = 0 if trace_start_ms is None else to_ns(trace_start_ms, MILLISECOND_NS)
    if trace_start_ns is None:
        problems.add("simple: trace startMs is not a number in range", where)
        return 0
    trace_id = _trace_id_hex(raw_trace_id)
    starts: dict[object, int] = {}  # span id -> start_ns, for spans that start at their parent
    previous_id: object = None
    added = 0
    for position, span in enumerate(spans):
        location = f"{span_prefix}{position}"
        own_id = position + 1
        if isinstance(span, dict):
            given_id = span.get("spanId")
            if given_id is not None and _id_ok(given_id):
                own_id = given_id
        added += _add_span(span, trace_id, own_id, previous_id, trace_start_ns, starts, builder, problems, location)
        previous_id = own_id
    return added


def _id_ok(value: object) -> bool:
    if type(value) is int:
        return 0 < value < 1 << 64
    return is_id_text(value)


def _add_span(
    span: object,
    trace_id: str,
    span_id: object,
    previous_id: object,
    trace_start_ns: int,
    starts: dict[object, int],
    builder: SpanBatchBuilder,
    problems: Problems,
    location: str,
) -> int:
    """One span; chained to `previous_id` unless it names its own parent ("parentId")."""
    if not isinstance(span, dict):
        problems.add("simple: span is not an object", location)
        return 0
    get = span.get
    service = get("service")
    if not isinstance(service, str) or not service:
        problems.add("simple: span without service", location)
        return 0
    given_id = get("spanId")
    if given_id is not None and not _id_ok(given_id):
        problems.add("simple: spanId is not an id", location)
        return 0
    parent_id = get("parentId") if "parentId" in span else previous_id
    if parent_id not in (None, "", 0) and not _id_ok(parent_id):
        problems.add("simple: parentId is not an id", location)
        return 0
    start_ms = get("startMs")
    if start_ms is None:
        start_ns = starts.get(parent_id, trace_start_ns) if parent_id else trace_start_ns
    else:
        start_ns = to_ns(start_ms, MILLISECOND_NS)
        if start_ns is None:
            problems.add("simple: startMs is not a number in range", location)
            return 0
    duration_ms = get("durationMs")
    duration_ns = 0 if duration_ms is None else to_ns(duration_ms, MILLISECOND_NS)
    if duration_ns is None:
        problems.add("simple: durationMs is not a number in range", location)
        return 0
    starts[span_id] = start_ns
    kind = get("kind")
    name = get("name") or get("operation")
    peer = get("peer")
    peer = peer if isinstance(peer, str) else ""
    builder.add(
        trace_id=trace_id,
        span_id=span_id,
        parent_id=parent_id,
        service=service,
        name=name if isinstance(name, str) else "",
        kind=_KINDS.get(kind.lower(), SpanKind.UNSPECIFIED) if isinstance(kind, str) else SpanKind.UNSPECIFIED,
        status=StatusCode.ERROR if get("error") else StatusCode.UNSET,
        start_ns=start_ns,
        end_ns=start_ns + duration_ns,
        attributes={"peer.service": peer} if peer else None,
        location=location,
    )
    return 1
