"""Zipkin v2 JSON (an array of spans, or an array of such arrays) -> SpanBatchBuilder rows, shared spans re-keyed."""

from __future__ import annotations

from flowviz.decoders.attributes import status_from_tags
from flowviz.decoders.json_values import MICROSECOND_NS, is_id_text, to_ns
from flowviz.model.problems import Problems
from flowviz.model.span_batch import SPAN_FLAG_SHARED, SpanBatchBuilder, SpanKind, StatusCode

_KINDS = {
    "CLIENT": SpanKind.CLIENT,
    "SERVER": SpanKind.SERVER,
    "PRODUCER": SpanKind.PRODUCER,
    "CONSUMER": SpanKind.CONSUMER,
}
# start and duration each stay below 2**62 ns, so start_ns + duration_ns always fits an int64
_MASK64 = (1 << 64) - 1
_GOLDEN64 = 0x9E3779B97F4A7C15
_HEX = frozenset("0123456789abcdefABCDEF")
_NO_TAGS: dict[str, object] = {}

# Parsed span: a tuple indexed by these positions (no per-span objects).
_LOC, _TRACE, _ID, _PARENT, _SERVICE, _NAME, _KIND, _START, _END, _TAGS, _REMOTE, _SHARED, _LOCAL = range(13)


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
    Zipkin fragments: their tags are merged into that span (counted, not added). Shared SERVER
    spans are re-keyed (see `_rekey_shared`).
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
    new_ids, new_parents = _rekey_shared(records)
    for row, record in enumerate(records):
        _emit(record, row, new_ids, new_parents, merged_tags, builder)
    return len(records)


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
    local = get("localEndpoint")
    service = local.get("serviceName") if type(local) is dict else None
    if type(service) is not str or not service:
        problems.add("zipkin: span without localEndpoint.serviceName", location)
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
            get("shared") is True,
            local,
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


def _rekeyed_id(shared_id: str, salt: int) -> str | None:
    """A new 64-bit span id for a shared SERVER span: splitmix64(shared id + (salt+1)·φ·2^64).

    The splitmix64 finaliser is a bijection on 64-bit values, so different (id, salt) inputs
    give well-spread, deterministic outputs; 0 (not a valid span id) becomes 1. None when the
    shared id is not hex (the builder will reject that span anyway).
    """
    if not shared_id or not _HEX.issuperset(shared_id):
        return None
    z = (int(shared_id, 16) + (salt + 1) * _GOLDEN64) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    z ^= z >> 31
    return format(z or 1, "016x")


def _endpoint_key(endpoint: dict) -> tuple:
    return tuple(
        value if type(value) in (str, int) else None
        for value in (endpoint.get("serviceName"), endpoint.get("ipv4"), endpoint.get("ipv6"), endpoint.get("port"))
    )


def _rekey_shared(records: list[tuple]) -> tuple[dict[int, str], dict[int, str]]:
    """Give shared SERVER spans their own id so the deriver sees an ordinary client -> server pair.

    A SERVER span is shared when it says `"shared": true` or its id is a CLIENT span's id in the
    same trace. It gets `_rekeyed_id(id, salt)` with the smallest salt whose id is unused in the
    trace (several servers may answer one client id), and the shared (client) id as parent.
    Spans whose parentId is the shared id and whose localEndpoint matches the server's (exactly,
    else by service name, like Zipkin's SpanNode) are re-parented to the new id.
    Returns (row -> new span id, row -> new parent id).
    """
    client_ids = {(r[_TRACE], r[_ID]) for r in records if r[_KIND] == SpanKind.CLIENT}
    shared_rows = [
        row
        for row, r in enumerate(records)
        if r[_KIND] == SpanKind.SERVER and (r[_SHARED] or (r[_TRACE], r[_ID]) in client_ids)
    ]
    if not shared_rows:
        return {}, {}
    taken = {(r[_TRACE], r[_ID]) for r in records}
    new_ids: dict[int, str] = {}
    new_parents: dict[int, str] = {}
    by_endpoint: dict[tuple, str] = {}
    by_service: dict[tuple, str] = {}
    for row in shared_rows:
        record = records[row]
        trace_id, shared_id = record[_TRACE], record[_ID]
        salt = 0
        new_id = _rekeyed_id(shared_id, salt)
        while new_id is not None and (trace_id, new_id) in taken:
            salt += 1
            new_id = _rekeyed_id(shared_id, salt)
        if new_id is None:
            continue
        taken.add((trace_id, new_id))
        new_ids[row] = new_id
        new_parents[row] = shared_id
        by_endpoint.setdefault((trace_id, shared_id, _endpoint_key(record[_LOCAL])), new_id)
        by_service.setdefault((trace_id, shared_id, record[_SERVICE]), new_id)
    shared_ids = {(trace_id, shared_id) for trace_id, shared_id, _ in by_service}
    for row, record in enumerate(records):
        parent_id = record[_PARENT]
        if parent_id is None or row in new_ids or (record[_TRACE], parent_id) not in shared_ids:
            continue
        key = (record[_TRACE], parent_id)
        new_parent = by_endpoint.get((*key, _endpoint_key(record[_LOCAL]))) or by_service.get((*key, record[_SERVICE]))
        if new_parent is not None:
            new_parents[row] = new_parent
    return new_ids, new_parents


def _emit(
    record: tuple,
    row: int,
    new_ids: dict[int, str],
    new_parents: dict[int, str],
    merged_tags: dict[int, dict],
    builder: SpanBatchBuilder,
) -> None:
    tags = merged_tags.get(row) or record[_TAGS]
    new_id = new_ids.get(row)
    builder.add(
        trace_id=record[_TRACE],
        span_id=new_id or record[_ID],
        parent_id=new_parents.get(row, record[_PARENT]),
        service=record[_SERVICE],
        name=record[_NAME],
        kind=record[_KIND],
        # ERROR (the error tag's presence), peer (tags, then remoteEndpoint.serviceName), destination
        # and HTTP status come from `attributes` in build(), by the rules of flowviz.decoders.attributes
        status=status_from_tags(tags) if tags else StatusCode.UNSET,
        start_ns=record[_START],
        end_ns=record[_END],
        flags=SPAN_FLAG_SHARED if new_id else 0,
        attributes=tags,
        remote_service=record[_REMOTE],
        location=record[_LOC],
    )
