"""Jaeger JSON (query-API envelope, bare trace, or the Jaeger UI's internal model) -> SpanBatchBuilder rows."""

from __future__ import annotations

from flowviz.decoders.attributes import ATTRIBUTE_CODES, NAMESPACE_KEYS, status_from_tags
from flowviz.decoders.builder import SpanBatchBuilder
from flowviz.decoders.json_values import MICROSECOND_NS, is_id_text, to_ns
from flowviz.model.problems import Problems
from flowviz.model.span_batch import StatusCode

# start and duration each stay below 2**62 ns, so start_ns + duration_ns always fits an int64


def looks_like_jaeger(doc: object) -> bool:
    """True for `{"data": [trace, ...]}` (non-empty) or a bare trace `{"traceID", "spans": [...]}`."""
    if not isinstance(doc, dict):
        return False
    data = doc.get("data")
    if isinstance(data, list):
        return bool(data) and _is_trace(data[0])
    return _is_trace(doc)


def _is_trace(obj: object) -> bool:
    return isinstance(obj, dict) and "traceID" in obj and isinstance(obj.get("spans"), list)


def add_jaeger(doc: object, builder: SpanBatchBuilder, problems: Problems, where: str) -> int:
    """Append every span of a Jaeger JSON document to `builder`; return how many were added."""
    if isinstance(doc, dict) and "data" in doc:
        traces = doc["data"]
        if not isinstance(traces, list):
            problems.add("jaeger: data is not a list of traces", where)
            return 0
    elif isinstance(doc, dict):
        traces = [doc]
    elif isinstance(doc, list):
        traces = doc
    else:
        problems.add("jaeger: document is not an object", where)
        return 0
    added = 0
    for trace_index, trace in enumerate(traces):
        added += _add_trace(trace, builder, problems, f"{where}:trace {trace_index}")
    return added


def _add_trace(trace: object, builder: SpanBatchBuilder, problems: Problems, where: str) -> int:
    if not isinstance(trace, dict):
        problems.add("jaeger: trace is not an object", where)
        return 0
    spans = trace.get("spans")
    if not isinstance(spans, list):
        problems.add("jaeger: trace without a spans list", where)
        return 0
    services = _process_services(trace.get("processes"), problems, where, builder)
    default_trace_id = trace.get("traceID")
    added = 0
    for index, span in enumerate(spans):
        added += _add_span(span, default_trace_id, services, builder, problems, f"{where} span {index}")
    return added


def _process_services(processes: object, problems: Problems, where: str, builder: SpanBatchBuilder) -> dict[str, str]:
    """processID -> serviceName for the trace's well-formed processes (their namespace tags noted in `builder`)."""
    if processes is None:
        return {}
    if not isinstance(processes, dict):
        problems.add("jaeger: processes is not an object", where)
        return {}
    services = {}
    for process_id, process in processes.items():
        service = process.get("serviceName") if isinstance(process, dict) else None
        if isinstance(service, str) and service:
            services[process_id] = service
            tags = process.get("tags")
            if type(tags) is list:
                builder.note_namespace(
                    service,
                    {t.get("key"): t.get("value") for t in tags if type(t) is dict and t.get("key") in NAMESPACE_KEYS},
                )
    return services


def _same_trace(a: str, b: str) -> bool:
    """Trace ids equal ignoring case and zero padding (64-bit ids written as 16 or 32 digits)."""
    return a == b or a.lower().lstrip("0") == b.lower().lstrip("0")


def _add_span(
    span: object,
    default_trace_id: object,
    services: dict[str, str],
    builder: SpanBatchBuilder,
    problems: Problems,
    location: str,
) -> int:
    if not isinstance(span, dict):
        problems.add("jaeger: span is not an object", location)
        return 0
    get = span.get
    trace_id = get("traceID") or default_trace_id
    if not trace_id:
        problems.add("jaeger: span without traceID", location)
        return 0
    if not is_id_text(trace_id):
        problems.add("jaeger: traceID is not a hex id", location)
        return 0
    span_id = get("spanID")
    if not span_id:
        problems.add("jaeger: span without spanID", location)
        return 0
    if not is_id_text(span_id):
        problems.add("jaeger: spanID is not a hex id", location)
        return 0
    service = _service_of(span, services)
    if not service:
        problems.add("jaeger: span without service", location)
        return 0
    start_us = get("startTime")
    if start_us is None:
        problems.add("jaeger: span without startTime", location)
        return 0
    start_ns = to_ns(start_us, MICROSECOND_NS)
    if start_ns is None:
        problems.add("jaeger: startTime is not a number in range", location)
        return 0
    duration_us = get("duration")
    duration_ns = 0 if duration_us is None else to_ns(duration_us, MICROSECOND_NS)
    if duration_ns is None:
        problems.add("jaeger: duration is not a number in range", location)
        return 0
    parent_id, links = _parent_and_links(span, trace_id, problems, location)
    tags = _interesting_tags(get("tags"), problems, location)
    name = get("operationName")
    builder.add(
        trace_id=trace_id,
        span_id=span_id,
        parent_id=parent_id,
        service=service,
        name=name if type(name) is str else "",
        # kind (span.kind), ERROR (error / otel.status_code), peer, destination and HTTP status
        # come from `attributes` in build(), by the rules of flowviz.decoders.attributes
        status=status_from_tags(tags) if tags else StatusCode.UNSET,
        start_ns=start_ns,
        end_ns=start_ns + duration_ns,
        links=links,
        attributes=tags,
        location=location,
    )
    return 1


def _service_of(span: dict, services: dict[str, str]) -> str:
    process_id = span.get("processID")
    if type(process_id) is str:
        service = services.get(process_id)
        if service:
            return service
    process = span.get("process")  # the UI-internal model inlines the process
    if type(process) is dict:
        service = process.get("serviceName")
        if type(service) is str:
            return service
    return ""


def _parent_and_links(
    span: dict, trace_id: str, problems: Problems, location: str
) -> tuple[str | None, list[tuple[str, str]]]:
    """Parent: first same-trace CHILD_OF, else first same-trace FOLLOWS_FROM, else parentSpanID.

    References to another trace become links. Embedded parent spans (UI model) are not read.
    """
    child_of = follows_from = None
    links: list[tuple[str, str]] = []
    references = span.get("references")
    if references:
        if type(references) is not list:
            problems.add("jaeger: references is not a list", location)
            references = ()
        for reference in references:
            ref_span = reference.get("spanID") if type(reference) is dict else None
            ref_trace = (reference.get("traceID") or None) if ref_span else None
            if not ref_span or not is_id_text(ref_span) or (ref_trace is not None and not is_id_text(ref_trace)):
                problems.add("jaeger: malformed reference", location)
                continue
            if ref_trace is None or _same_trace(ref_trace, trace_id):
                if reference.get("refType") == "FOLLOWS_FROM":
                    follows_from = follows_from or ref_span
                else:
                    child_of = child_of or ref_span
            else:
                links.append((ref_trace, ref_span))
    parent_id = child_of or follows_from
    if parent_id is None:
        parent_id = span.get("parentSpanID") or None  # deprecated field of old query services
        if parent_id is not None and not is_id_text(parent_id):
            problems.add("jaeger: parentSpanID is not a hex id", location)
            parent_id = None
    return parent_id, links


def _interesting_tags(tags: object, problems: Problems, location: str) -> dict[str, object]:
    """The tags any attribute rule reads (keys of ATTRIBUTE_CODES), from Jaeger `[{key, type, value}]`."""
    found: dict[str, object] = {}
    if not tags:
        return found
    if type(tags) is not list:
        problems.add("jaeger: tags is not a list", location)
        return found
    for tag in tags:
        key = tag.get("key") if type(tag) is dict else None
        if type(key) is not str:
            problems.add("jaeger: malformed tag", location)
        elif key in ATTRIBUTE_CODES:
            found[key] = tag.get("value")
    return found
