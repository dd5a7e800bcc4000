"""Zipkin v2 JSON (an array of spans, or an array of such arrays) -> SpanBatchBuilder rows."""

from __future__ import annotations

from flowviz.decoders.attributes import status_from_tags
from flowviz.decoders.builder import SpanBatchBuilder
from flowviz.decoders.json_values import MICROSECOND_NS, is_id_text, to_ns
from flowviz.model.problems import Problems
from flowviz.model.span_batch import SPAN_FLAG_DECLARED_SHARED, SPAN_FLAG_JOINABLE, SpanKind, StatusCode

_KINDS = {
    "CLIENT": SpanKind.CLIENT,
    "SERVER": SpanKind.SERVER,
    "PRODUCER": SpanKind.PRODUCER,
    "CONSUMER": SpanKind.CONSUMER,
}
# start and duration each stay below 2**62 ns, so start_ns + duration_ns always fits an int64
_NO_TAGS: dict[str, object] = {}

# Parsed span: a tuple indexed by these positions (no per-span objects).
_LOC, _TRACE, _ID, _PARENT, _SERVICE, _NAME, _KIND, _START, _END, _TAGS, _REMOTE, _FLAGS = range(12)
_SERVER_SIDE = (SpanKind.SERVER, SpanKind.CONSUMER)
_CLIENT_SIDE = (SpanKind.CLIENT, SpanKind.PRODUCER)


def looks_like_zipkin(doc: object) -> bool:
    """True for a non-empty list of span dicts with "traceId" and "id" (or a list of such lists)."""
    if not isinstance(doc, list) or not doc:
        return False
    first = doc[0]
    if isinstance(first, list):
        if not first:
            return False
        first = first[0]
    return isinstance(first, dict) and "traceId" in first and "id" in first


def add_zipkin(doc: object, builder: SpanBatchBuilder, problems: Problems, where: str) -> int:
    """Append every span of a Zipkin v2 document to `builder`; return how many were added.

    Spans without a timestamp that repeat a timestamped span's (traceId, id, service) are
    Zipkin fragments: their tags are merged into that span (counted, not added). A span whose
    localEndpoint has no serviceName is named by its address (see `endpoint_name`). Shared SERVER
    spans keep the id they share with their client and are flagged `SPAN_FLAG_DECLARED_SHARED`:
    `flowviz.decoders.shared_spans` and the deriver separate them (for every format; the flag lets
    the deriver do so before the client half has arrived). Client spans are flagged
    `SPAN_FLAG_JOINABLE` (a B3 server may join their id).
    """
    if not isinstance(doc, list):
        problems.add("zipkin: document is not a list of spans", where)
        return 0
    records: list[tuple] = []
    fragments: list[tuple] = []
    for index, item in enumerate(doc):
        if type(item) is list:
            prefix = f"{where}:trace {index} span "
            for span_index, span in enumerate(item):
                _parse_span(span, prefix + str(span_index), records, fragments, problems)
        else:
            _parse_span(item, f"{where}:span {index}", records, fragments, problems)
    merged_tags = _merge_fragments(records, fragments, problems) if fragments else {}
    for row, record in enumerate(records):
        _emit(record, merged_tags.get(row) or record[_TAGS], builder)
    return len(records)


def endpoint_name(endpoint: object) -> str:
    """A Zipkin endpoint's service name, else its address as Zipkin shows one (`ipv4:port`, `[ipv6]:port`), else "".

    Envoy and other proxies report spans whose localEndpoint carries only an address: the
    service is still there, it is just not named.
    """
    if type(endpoint) is not dict:
        return ""
    get = endpoint.get
    service = get("serviceName")
    if type(service) is str and service:
        return service
    ipv4, ipv6, port = get("ipv4"), get("ipv6"), get("port")
    if type(ipv4) is str and ipv4:
        address = ipv4
    elif type(ipv6) is str and ipv6:
        address = f"[{ipv6}]" if type(port) is int and port > 0 else ipv6
    else:
        return ""
    return f"{address}:{port}" if type(port) is int and port > 0 else address


def _id_problem(value: object, field: str) -> str:
    """The reason to count if `value` cannot be an id, else the empty string."""
    if not value:
        return f"zipkin: span without {field}"
    if not is_id_text(value):
        return f"zipkin: {field} is not a hex id"
    return ""


def _parse_span(span: object, location: str, records: list, fragments: list, problems: Problems) -> None:
    if type(span) is not dict:
        problems.add("zipkin: span is not an object", location)
        return
    get = span.get
    trace_id = get("traceId")
    span_id = get("id")
    parent_id = get("parentId") or None
    reason = _id_problem(trace_id, "traceId") or _id_problem(span_id, "id")
    if not reason and parent_id is not None and _id_problem(parent_id, "parentId"):
        reason = "zipkin: parentId is not a hex id"
    if reason:
        problems.add(reason, location)
        return
    service = endpoint_name(get("localEndpoint"))
    if not service:
        problems.add("zipkin: span without localEndpoint serviceName or address", location)
        return
    trace_id, span_id = trace_id.lower(), span_id.lower()
    tags = get("tags")
    if tags is None:
        tags = _NO_TAGS
    elif type(tags) is not dict:
        problems.add("zipkin: tags is not an object", location)
        tags = _NO_TAGS
    timestamp = get("timestamp")
    if timestamp is None:
        fragments.append((location, trace_id, span_id, service, tags))
        return
    start_ns = to_ns(timestamp, MICROSECOND_NS)
    if start_ns is None:
        problems.add("zipkin: timestamp is not a number in range", location)
        return
    duration = get("duration")
    duration_ns = 0 if duration is None else to_ns(duration, MICROSECOND_NS)
    if duration_ns is None:
        problems.add("zipkin: duration is not a number in range", location)
        return
    remote = get("remoteEndpoint")
    remote_service = remote.get("serviceName") if type(remote) is dict else None
    if type(remote_service) is not str:
        remote_service = ""
    kind_text = get("kind")
    if kind_text is None:
        # Zipkin's DependencyLinker: a span without kind but with both endpoints named is a client
        kind = SpanKind.CLIENT if remote_service else SpanKind.UNSPECIFIED
    else:
        kind = _KINDS.get(kind_text.upper(), SpanKind.UNSPECIFIED) if type(kind_text) is str else SpanKind.UNSPECIFIED
    name = get("name")
    if kind in _CLIENT_SIDE:  # B3: its server may join its id
        flags = SPAN_FLAG_JOINABLE
    else:
        flags = SPAN_FLAG_DECLARED_SHARED if get("shared") is True and kind in _SERVER_SIDE else 0
    records.append(
        (
            location,
            trace_id,
            span_id,
            parent_id.lower() if parent_id else None,
            service,
            name if type(name) is str else "",
            kind,
            start_ns,
            start_ns + duration_ns,
            tags,
            remote_service,
            flags,
        )
    )


def _merge_fragments(records: list[tuple], fragments: list[tuple], problems: Problems) -> dict[int, dict]:
    """Fold timestamp-less fragments into the timestamped span with the same (trace, id, service).

    Returns row -> merged tags (the timestamped span's own tags win). Fragments without such a
    span are skipped and counted as spans without a timestamp.
    """
    rows = {(r[_TRACE], r[_ID], r[_SERVICE]): row for row, r in enumerate(records)}
    merged: dict[int, dict] = {}
    for location, trace_id, span_id, service, tags in fragments:
        row = rows.get((trace_id, span_id, service))
        if row is None:
            problems.add("zipkin: span without timestamp", location)
            continue
        problems.add("zipkin: timestamp-less fragment merged into its same-id span", location)
        if tags:
            merged[row] = {**tags, **merged.get(row, records[row][_TAGS])}
    return merged


def _emit(record: tuple, tags: dict, builder: SpanBatchBuilder) -> None:
    builder.add(
        trace_id=record[_TRACE],
        span_id=record[_ID],
        parent_id=record[_PARENT],
        service=record[_SERVICE],
        name=record[_NAME],
        kind=record[_KIND],
        # ERROR (the error tag's presence), peer (tags, then remoteEndpoint.serviceName), destination
        # and HTTP status come from `attributes` in build(), by the rules of flowviz.decoders.attributes
        status=status_from_tags(tags) if tags else StatusCode.UNSET,
        start_ns=record[_START],
        end_ns=record[_END],
        flags=record[_FLAGS],
        attributes=tags,
        remote_service=record[_REMOTE],
        location=record[_LOC],
    )
