"""OTLP/JSON decoder: ExportTraceServiceRequest documents (hex or base64 ids, int or named enums) -> builder rows."""

from __future__ import annotations

from flowviz.decoders.attributes import ATTRIBUTE_CODES, NAMESPACE_KEYS
from flowviz.decoders.builder import SpanBatchBuilder
from flowviz.model.ids import base64_id_to_hex
from flowviz.model.problems import Problems

_KIND_NAMES = {
    "SPAN_KIND_UNSPECIFIED": 0,
    "SPAN_KIND_INTERNAL": 1,
    "SPAN_KIND_SERVER": 2,
    "SPAN_KIND_CLIENT": 3,
    "SPAN_KIND_PRODUCER": 4,
    "SPAN_KIND_CONSUMER": 5,
}
_STATUS_NAMES = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}
_VALUE_KEYS = ("stringValue", "intValue", "doubleValue", "boolValue")
_TIME_TYPES = frozenset((str, int, float))  # what the builder converts; anything else is an invalid time
# resource attributes that name a database for the whole process (contrib checks resource first)
_RESOURCE_KEYS = frozenset(("db.name", "db.namespace", "db.system", "db.system.name", "peer.service"))


def looks_like_otlp_json(doc: object) -> bool:
    """True for an OTLP/JSON request, protobuf-JSON, or Tempo's `{"batches": [...]}`."""
    if not isinstance(doc, dict):
        return False
    for key in ("resourceSpans", "batches"):
        value = doc.get(key)
        if isinstance(value, list):
            return not value or isinstance(value[0], dict)
    return False


def attribute_value(value: object) -> object:
    """The scalar inside an OTLP AnyValue (`{"stringValue": ...}`), or None."""
    if isinstance(value, dict):
        for key in _VALUE_KEYS:
            if key in value:
                return value[key]
    return None


def _pick_attributes(attributes: object, wanted: frozenset[str]) -> dict[str, object] | None:
    """The wanted keys of an OTLP attribute list as a dict (None when none is present)."""
    picked = None
    if type(attributes) is list:
        for pair in attributes:
            key = pair.get("key") if type(pair) is dict else None
            if key in wanted:
                if picked is None:
                    picked = {}
                picked[key] = attribute_value(pair.get("value"))
    return picked


def _service_of(resource: object) -> str:
    attributes = resource.get("attributes") if type(resource) is dict else None
    if type(attributes) is list:  # anything else is a malformed resource: no service, its spans counted
        for pair in attributes:
            if type(pair) is dict and pair.get("key") == "service.name":
                value = attribute_value(pair.get("value"))
                return value if isinstance(value, str) else ""
    return ""


def add_otlp_json(doc: object, builder: SpanBatchBuilder, problems: Problems, where: str) -> int:
    """Append every span of an OTLP/JSON document to `builder`; returns the number of spans added."""
    if not isinstance(doc, dict):
        problems.add("otlp-json: document is not an object", where)
        return 0
    resource_spans = doc.get("resourceSpans")
    if resource_spans is None:
        resource_spans = doc.get("batches")
    if type(resource_spans) is not list:
        problems.add("otlp-json: resourceSpans is not a list", where)
        return 0
    added = 0
    for index, entry in enumerate(resource_spans):
        if type(entry) is not dict:
            problems.add("otlp-json: resourceSpans entry is not an object", f"{where} resourceSpans[{index}]")
            continue
        resource = entry.get("resource")
        service = _service_of(resource)
        scopes = entry.get("scopeSpans")
        if scopes is None:
            scopes = entry.get("instrumentationLibrarySpans")
        if type(scopes) is not list:
            problems.add("otlp-json: scopeSpans is not a list", f"{where} resourceSpans[{index}]")
            continue
        span_lists = [s.get("spans") for s in scopes if type(s) is dict]
        if not service:
            skipped = sum(len(spans) for spans in span_lists if type(spans) is list)
            problems.add("otlp-json: resource without service.name", f"{where} resourceSpans[{index}]", count=skipped)
            continue
        resource_attrs = _pick_attributes(resource.get("attributes"), _RESOURCE_KEYS) or {}
        builder.note_namespace(service, _pick_attributes(resource.get("attributes"), NAMESPACE_KEYS) or {})
        for spans in span_lists:
            if type(spans) is list:
                added += _add_spans(
                    spans, service, resource_attrs, builder, problems, f"{where} resourceSpans[{index}]"
                )
    return added


def _add_spans(
    spans: list,
    service: str,
    resource_attrs: dict[str, object],
    builder: SpanBatchBuilder,
    problems: Problems,
    where: str,
) -> int:
    """The hot loop: one pass over the spans of one scope, one row tuple and a few triples each."""
    rows_append = builder.rows.append
    attr_rows, attr_codes, attr_values = builder.attr_rows, builder.attr_codes, builder.attr_values
    codes_get = ATTRIBUTE_CODES.get
    resource_triples = [(ATTRIBUTE_CODES[k], v) for k, v in resource_attrs.items()]
    first_row = row = len(builder.rows)
    builder.marks.append((row, where, 0))
    base64_ids = None
    for position, span in enumerate(spans):
        try:
            get = span.get
            trace_id = get("traceId", "")
            span_id = get("spanId", "")
            parent_id = get("parentSpanId") or ""
            if base64_ids is None:
                base64_ids = type(trace_id) is str and len(trace_id) == 24 and trace_id.endswith("==")
            if base64_ids:
                trace_id, span_id = base64_id_to_hex(trace_id), base64_id_to_hex(span_id)
                parent_id = base64_id_to_hex(parent_id) if parent_id else ""
            kind = get("kind", 0)
            if type(kind) is not int:
                kind = _KIND_NAMES.get(kind, 0)
            status = get("status")
            code = status.get("code", 0) if status else 0
            if type(code) is not int:
                code = _STATUS_NAMES.get(code, 0)
            attributes = get("attributes")
            if attributes:
                for pair in attributes:
                    try:
                        attr_code = codes_get(pair["key"])
                        if attr_code is not None:
                            any_value = pair["value"]
                            if any_value:
                                attr_values.append(next(iter(any_value.values())))  # the AnyValue's one member
                                attr_rows.append(row)
                                attr_codes.append(attr_code)
                    except (AttributeError, TypeError, KeyError):
                        problems.add("otlp-json: malformed attribute (skipped)", f"{where} span {position}")
            links = get("links")
            if links:
                _add_links(links, builder, row, base64_ids)
            name = get("name", "")
            start_ns, end_ns = get("startTimeUnixNano", ""), get("endTimeUnixNano", "")
            if type(start_ns) not in _TIME_TYPES or type(end_ns) not in _TIME_TYPES:
                start_ns = end_ns = "!"  # counted by the builder as an invalid time, with its location
        except (AttributeError, TypeError, KeyError, ValueError):
            _undo_row(builder, row)
            problems.add("otlp-json: malformed span", f"{where} span {position}")
            builder.marks.append((row, where, position + 1))
            continue
        for attr_code, value in resource_triples:
            attr_rows.append(row)
            attr_codes.append(attr_code)
            attr_values.append(value)
        rows_append((trace_id, span_id, parent_id, service, name, kind, code, start_ns, end_ns, 0))
        row += 1
    return row - first_row


def _undo_row(builder: SpanBatchBuilder, row: int) -> None:
    """Forget the attribute triples and links already recorded for a span that turned out malformed."""
    while builder.attr_rows and builder.attr_rows[-1] == row:
        builder.attr_rows.pop()
        builder.attr_codes.pop()
        builder.attr_values.pop()
    links = builder.links
    while links["row"] and links["row"][-1] == row:
        for column in links.values():
            column.pop()


def _add_links(links: list, builder: SpanBatchBuilder, row: int, base64_ids: bool) -> None:
    target = builder.links
    for link in links:
        if link:
            trace_id, span_id = link.get("traceId", ""), link.get("spanId", "")
            if base64_ids:
                trace_id, span_id = base64_id_to_hex(trace_id), base64_id_to_hex(span_id)
            target["row"].append(row)
            target["trace"].append(trace_id)
            target["span"].append(span_id)
