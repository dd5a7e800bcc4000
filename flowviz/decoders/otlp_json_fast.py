"""Fast path for OTLP/JSON bytes: msgspec decodes straight into typed structs, columns are read per field."""

from __future__ import annotations

import msgspec
from msgspec import Struct

from flowviz.decoders.attributes import ATTRIBUTE_CODES, NAMESPACE_KEYS
from flowviz.decoders.builder import SpanBatchBuilder

# Only the fields flowviz reads; msgspec skips everything else (events, scope, trace state...)
# without building Python objects for it.


class _AnyValue(Struct, gc=False):
    stringValue: str | None = None
    intValue: str | int | None = None
    doubleValue: float | None = None
    boolValue: bool | None = None

    def scalar(self) -> object:
        """The one member that is set (attribute rules call this only for values they use)."""
        for member in (self.stringValue, self.intValue, self.doubleValue, self.boolValue):
            if member is not None:
                return member
        return None


class _KeyValue(Struct, gc=False):
    key: str
    value: _AnyValue | None = None


class _Status(Struct, gc=False):
    code: int = 0


class _Link(Struct, gc=False):
    traceId: str = ""
    spanId: str = ""


class _Span(Struct, gc=False):
    traceId: str = ""
    spanId: str = ""
    parentSpanId: str = ""
    name: str = ""
    kind: int = 0
    startTimeUnixNano: int = -1  # OTLP/JSON writes 64-bit integers as strings: strict=False converts them
    endTimeUnixNano: int = -1
    attributes: list[_KeyValue] = []
    status: _Status | None = None
    links: list[_Link] = []


class _ScopeSpans(Struct, gc=False):
    spans: list[_Span] = []


class _Resource(Struct, gc=False):
    attributes: list[_KeyValue] = []


class _ResourceSpans(Struct, gc=False):
    resource: _Resource | None = None
    scopeSpans: list[_ScopeSpans] = []
    instrumentationLibrarySpans: list[_ScopeSpans] = []


class _Request(Struct, gc=False):
    resourceSpans: list[_ResourceSpans] = []
    batches: list[_ResourceSpans] = []


_DECODER = msgspec.json.Decoder(_Request, strict=False)
_RESOURCE_CODES = {
    k: ATTRIBUTE_CODES[k] for k in ("db.name", "db.namespace", "db.system", "db.system.name", "peer.service")
}


def _scalar(value: _AnyValue | None) -> object:
    return None if value is None else value.scalar()


def try_add_otlp_json_bytes(data: bytes, builder: SpanBatchBuilder, where: str) -> int | None:
    """Append the spans of one OTLP/JSON request given as bytes; None when the typed fast path does
    not apply (malformed or unusual documents, base64 ids, resources without service.name): the
    caller then uses the general decoder, which reports problems span by span."""
    try:
        request = _DECODER.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):  # the general path says why
        return None
    resources = request.resourceSpans or request.batches
    prepared = []
    namespaces = []
    for resource_spans in resources:
        attributes = resource_spans.resource.attributes if resource_spans.resource else []
        service = next((_scalar(a.value) for a in attributes if a.key == "service.name"), None)
        if not isinstance(service, str) or not service:
            return None
        resource_triples = [(_RESOURCE_CODES[a.key], _scalar(a.value)) for a in attributes if a.key in _RESOURCE_CODES]
        namespaces.append((service, {a.key: _scalar(a.value) for a in attributes if a.key in NAMESPACE_KEYS}))
        for scope in resource_spans.scopeSpans or resource_spans.instrumentationLibrarySpans:
            prepared.append((service, resource_triples, scope.spans))
    if any(spans and len(spans[0].traceId) == 24 for _, _, spans in prepared):
        return None  # base64 ids (protobuf canonical JSON): the general decoder converts them
    for service, found in namespaces:
        builder.note_namespace(service, found)
    return _add_scopes(prepared, builder, where)


def _add_scopes(prepared: list[tuple[str, list, list[_Span]]], builder: SpanBatchBuilder, where: str) -> int:
    """Every span of a request's scopes as rows, with attribute triples and links: in one pass over all the
    spans (a scope holds few), each scope marked for locating its spans."""
    first_row = row = len(builder.rows)
    spans: list[_Span] = []
    services: list[str] = []
    resource_rows: list[int] = []
    resource_codes: list[int] = []
    resource_values: list[object] = []
    for index, (service, resource_triples, scope_spans) in enumerate(prepared):
        count = len(scope_spans)
        builder.marks.append((row, f"{where} scope {index}", 0))
        spans += scope_spans
        services += [service] * count
        for code, value in resource_triples:  # after the spans' own attributes of the same row, as read
            resource_rows.extend(range(row, row + count))
            resource_codes += [code] * count
            resource_values += [value] * count
        row += count
    codes_get = ATTRIBUTE_CODES.get
    triples = [
        # most values are strings: read them inline, call scalar() only for the others
        (row, code, text if (text := value.stringValue) is not None else value.scalar())
        for row, span in enumerate(spans, first_row)
        for kv in span.attributes
        if (code := codes_get(kv.key)) is not None and (value := kv.value) is not None
    ]
    if triples:
        rows, codes, values = zip(*triples, strict=True)
        builder.attr_rows.extend(rows)
        builder.attr_codes.extend(codes)
        builder.attr_values.extend(values)
    builder.attr_rows.extend(resource_rows)
    builder.attr_codes.extend(resource_codes)
    builder.attr_values.extend(resource_values)
    builder.rows.extend(
        [
            (
                s.traceId,
                s.spanId,
                s.parentSpanId,
                service,
                s.name,
                s.kind,
                s.status.code if s.status else 0,
                s.startTimeUnixNano,
                s.endTimeUnixNano,
                0,
            )
            for s, service in zip(spans, services, strict=True)
        ]
    )
    links = builder.links
    for row, span in enumerate(spans, first_row):
        for link in span.links:
            links["row"].append(row)
            links["trace"].append(link.traceId)
            links["span"].append(link.spanId)
    return len(spans)
