"""The vectorised OTLP protobuf decoder: the columns and problems of the upb reference, for odd and bad input."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy as np
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from flowviz.bench.encode import otlp_proto_request
from flowviz.bench.synthetic import synthetic_traces
from flowviz.decoders.builder import SpanBatchBuilder
from flowviz.decoders.otlp_proto import buffer, decode, decode_otlp_proto, scanner
from flowviz.model.problems import Problems
from flowviz.model.span_batch import SpanBatch
from tests.decoders.otlp_proto_reference import add_otlp_proto

STRING_COLUMNS = ("service", "name", "peer", "destination")


# --- wire-format helpers -------------------------------------------------------------------


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def tag(field: int, wire_type: int) -> bytes:
    return varint(field << 3 | wire_type)


def length_field(field: int, payload: bytes) -> bytes:
    return tag(field, 2) + varint(len(payload)) + payload


def overlong(value: int, size: int) -> bytes:
    """A varint of exactly `size` bytes (valid but not minimal)."""
    groups = [(value >> (7 * i)) & 0x7F for i in range(size)]
    return bytes(g | 0x80 for g in groups[:-1]) + bytes([groups[-1]])


def request(*resource_spans: bytes) -> bytes:
    return b"".join(length_field(1, r) for r in resource_spans)


def resource_spans(service: str | None, *spans: bytes, extra: bytes = b"") -> bytes:
    attributes = length_field(1, key_value("service.name", string=service)) if service is not None else b""
    return length_field(1, attributes) + length_field(2, b"".join(length_field(2, s) for s in spans)) + extra


def key_value(key: str, *, string: str | None = None, raw_value: bytes | None = None) -> bytes:
    value = raw_value if raw_value is not None else length_field(1, string.encode()) if string is not None else b""
    return length_field(1, key.encode()) + length_field(2, value)


def span(name: str = "op", span_id: bytes = b"\x01" * 8, *, extra: bytes = b"") -> bytes:
    return (
        length_field(1, b"\x0a" * 16)
        + length_field(2, span_id)
        + length_field(5, name.encode())
        + tag(6, 0)
        + varint(2)
        + tag(7, 1)
        + (10).to_bytes(8, "little")
        + tag(8, 1)
        + (25).to_bytes(8, "little")
        + extra
    )


# --- running both decoders -----------------------------------------------------------------


@dataclass
class Decoded:
    """What a builder holds before `build()`, blocks joined (global rows, strings by value)."""

    rows: list[
        tuple
    ]  # (trace_hi, trace_lo, span_id, parent_id, service, name, kind, status, start, end, id_ok, time_ok)
    attributes: list[tuple[int, int, object]]
    links: list[tuple[int, int, int, int]]
    marks: list[tuple[int, str, int]]


def enum(value: int, highest: int) -> int:
    """What build() makes of an enum value: outside 0..highest is 0."""
    return value if 0 <= value <= highest else 0


def decoded(builder: SpanBatchBuilder) -> Decoded:
    builder._seal_rows()  # the reference's tuple rows as the builder's own block
    out = Decoded([], [], [], [])
    for block in builder._blocks:
        offset = len(out.rows)
        strings = list(block.strings)
        columns = (
            block.trace_hi.tolist(),
            block.trace_lo.tolist(),
            block.span_id.tolist(),
            block.parent_id.tolist(),
            [strings[i] for i in block.service.tolist()],
            [strings[i] for i in block.name.tolist()],
            [enum(k, 5) for k in block.kind.tolist()],
            [enum(k, 2) for k in block.status.tolist()],
            block.start_ns.tolist(),
            block.end_ns.tolist(),
            block.id_ok.tolist(),
            block.time_ok.tolist(),
        )
        out.rows.extend(zip(*columns, strict=True))
        assert len(block.attr_rows) == len(block.attr_codes) == len(block.attr_values)
        out.attributes.extend(
            zip((block.attr_rows + offset).tolist(), block.attr_codes.tolist(), block.attr_values, strict=True)
        )
        link_columns = (block.link_row + offset, block.link_trace_hi, block.link_trace_lo, block.link_span_id)
        out.links.extend(zip(*(c.tolist() for c in link_columns), strict=True))
        out.marks.extend((first + offset, text, index) for first, text, index in block.marks)
    return out


def reference(messages: list[bytes]) -> tuple[SpanBatchBuilder, Problems, int]:
    problems = Problems()
    builder = SpanBatchBuilder(problems)
    added = sum(add_otlp_proto(message, builder, problems, f"m{index}") for index, message in enumerate(messages))
    return builder, problems, added


def vectorised(messages: list[bytes]) -> tuple[SpanBatchBuilder, Problems, int]:
    problems = Problems()
    builder = SpanBatchBuilder(problems)
    added = decode_otlp_proto(messages, builder, problems, [f"m{i}" for i in range(len(messages))])
    assert not builder.rows  # columns only
    return builder, problems, added


def same_value(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


def assert_same_batches(a: SpanBatch, b: SpanBatch) -> None:
    assert len(a) == len(b)
    for column in ("trace_hi", "trace_lo", "span_id", "parent_id", "kind", "status", "start_ns", "end_ns"):
        np.testing.assert_array_equal(getattr(a, column), getattr(b, column), err_msg=column)
    for column in ("peer_kind", "http_status", "flags", "link_row", "link_trace_hi", "link_trace_lo", "link_span_id"):
        np.testing.assert_array_equal(getattr(a, column), getattr(b, column), err_msg=column)
    for column in ("trace_hi", "trace_lo", "span_id", "parent_id", "start_ns", "end_ns", "link_row", "link_span_id"):
        assert getattr(a, column).dtype == getattr(b, column).dtype, column
    for column in STRING_COLUMNS:
        assert a.string_column(column) == b.string_column(column), column


def assert_same(messages: list[bytes]) -> tuple[Decoded, Problems]:
    """The vectorised decoder's blocks hold what the reference's rows do, and build the same batch.

    Returns what was decoded (before build) and the problems (after build).
    """
    expected, expected_problems, expected_added = reference(messages)
    actual, actual_problems, added = vectorised(messages)
    assert added == expected_added == len(actual)
    assert actual_problems.as_dict() == expected_problems.as_dict()
    got, want = decoded(actual), decoded(expected)
    assert got.rows == want.rows
    assert [a[:2] for a in got.attributes] == [a[:2] for a in want.attributes]
    assert all(same_value(a[2], b[2]) for a, b in zip(got.attributes, want.attributes, strict=True))
    assert got.links == want.links
    assert got.marks == want.marks
    assert_same_batches(actual.build(), expected.build())
    assert actual_problems.as_dict() == expected_problems.as_dict()  # including rows build() dropped
    return got, actual_problems


@pytest.fixture(params=["vector", "python", "chunks", "collisions"])
def paths(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run each test through the lock-step scan, the plain-Python tail, many small chunks, and string
    interning whose content hashes all collide."""
    if request.param == "python":
        monkeypatch.setattr(scanner, "_SCALAR_BELOW", 1 << 30)
    elif request.param == "vector":
        monkeypatch.setattr(scanner, "_SCALAR_BELOW", 0)
    elif request.param == "chunks":
        monkeypatch.setattr(decode, "_CHUNK_BYTES", 700)
    else:
        monkeypatch.setattr(buffer, "_MIX", np.uint64(0))
    return request.param


# --- equivalence on well-formed data -------------------------------------------------------


def synthetic_messages(seed: int, spans: int = 300, per_request: int = 60) -> list[bytes]:
    traces = [s for trace in synthetic_traces(spans=spans, seed=seed) for s in trace]
    return [otlp_proto_request(traces[i : i + per_request]) for i in range(0, len(traces), per_request)]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_synthetic_requests_decode_like_the_reference(seed: int, paths: str) -> None:
    builder, problems = assert_same(synthetic_messages(seed))
    assert len(builder.rows) >= 300
    assert not problems


def enriched(seed: int) -> list[bytes]:
    """Synthetic requests edited with the official classes: links, resource db.*/peer.service, typed values..."""
    rng = random.Random(seed)
    messages = []
    for raw in synthetic_messages(seed, spans=200, per_request=40):
        parsed = ExportTraceServiceRequest.FromString(raw)
        for index, resource in enumerate(parsed.resource_spans):
            attributes = resource.resource.attributes
            if index % 5 == 1:
                del attributes[0]  # no service.name: skipped and counted
            if index % 4 == 2:
                attributes.add(key="db.system", value=AnyValue(string_value="redis"))
                attributes.add(key="peer.service", value=AnyValue(string_value="cache"))
                attributes.add(key="db.name", value=AnyValue(int_value=-3))
            for scope in resource.scope_spans:
                scope.scope.attributes.add(key="scope.attr", value=AnyValue(bool_value=True))
                scope.schema_url = "https://opentelemetry.io/schemas/1.21.0"
                for span_message in scope.spans:
                    edit_span(span_message, rng)
        messages.append(parsed.SerializeToString())
    return messages


def edit_span(span_message: Span, rng: random.Random) -> None:
    roll = rng.random()
    attributes = span_message.attributes
    if roll < 0.2:
        link = span_message.links.add(trace_id=rng.randbytes(16), span_id=rng.randbytes(8))
        link.attributes.add(key="link.kind", value=AnyValue(string_value="follows"))
        span_message.links.add(trace_id=rng.randbytes(16), span_id=b"")
    elif roll < 0.3:
        span_message.parent_span_id = b""
        span_message.kind = Span.SPAN_KIND_CONSUMER
    elif roll < 0.4:
        attributes.add(key="http.status_code", value=AnyValue(double_value=503.0))
        attributes.add(key="error", value=AnyValue(bool_value=True))
        attributes.add(key="messaging.destination.name", value=AnyValue(string_value="orders"))
    elif roll < 0.5:
        attributes.add(key="peer.service", value=AnyValue(int_value=-(2**63)))
        attributes.add(key="span.kind", value=AnyValue(string_value="client"))
        attributes.add(key="otel.status_code", value=AnyValue(string_value="ERROR"))
        attributes.add(key="net.peer.name", value=AnyValue(bytes_value=b"\x00\xff"))
    elif roll < 0.6:
        values = ArrayValue(values=[AnyValue(string_value="a"), AnyValue(int_value=2)])
        attributes.add(key="db.namespace", value=AnyValue(array_value=values))
        kvlist = KeyValueList(values=[KeyValue(key="k", value=AnyValue(string_value="v"))])
        attributes.add(key="kafka.topic", value=AnyValue(kvlist_value=kvlist))
        attributes.add(key="rabbitmq.queue", value=AnyValue())
    elif roll < 0.7:
        span_message.status.code = Status.STATUS_CODE_ERROR
        span_message.status.message = "boom ✗"
        span_message.name = "ünïcode → " + "x" * rng.randrange(0, 300)
        span_message.events.add(time_unix_nano=5, name="exception").attributes.add(
            key="exception.message", value=AnyValue(string_value="y" * 200)
        )
    elif roll < 0.8:
        span_message.trace_state = "vendor=1"
        span_message.dropped_attributes_count = 300
        span_message.dropped_events_count = 1
        span_message.dropped_links_count = 2
        span_message.flags = 0x301
        span_message.start_time_unix_nano = 2**64 - 1  # does not fit int64: the builder drops the row
    attributes.add(key="server.address", value=AnyValue(string_value="h" * rng.randrange(0, 200)))


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_edited_requests_decode_like_the_reference(seed: int, paths: str) -> None:
    builder, problems = assert_same(enriched(seed))
    assert builder.links
    assert problems.count(decode._NO_SERVICE) > 0


UNKNOWN_FIELDS = (
    tag(100, 0) + varint(2**63),
    tag(101, 1) + bytes(8),
    tag(102, 5) + bytes(4),
    length_field(103, b"\xff\xfe not UTF-8, not parsed"),
    tag(104, 3) + tag(1, 0) + varint(1) + tag(105, 3) + tag(105, 4) + length_field(2, b"x") + tag(104, 4),
    tag(106, 3) + tag(0, 1) + bytes(8) + tag(0, 3) + tag(0, 4) + length_field(5, b"\xff") + tag(106, 4),
    tag(5, 0) + varint(7),  # known field (name) with the wrong wire type: an unknown field
    tag(7, 0) + varint(7),  # start time as a varint: unknown, the real start stays
    tag(9, 5) + bytes(4),  # attributes as fixed32: unknown
    tag(2**29 - 1, 0) + varint(1),
)


@pytest.mark.parametrize("unknown", UNKNOWN_FIELDS)
def test_unknown_fields_are_skipped_at_every_level(unknown: bytes, paths: str) -> None:
    spans = [span(extra=unknown), span("b", extra=length_field(9, key_value("peer.service", string="p") + unknown))]
    status = length_field(15, tag(3, 0) + varint(2) + unknown)
    spans.append(span("c", extra=status + length_field(13, length_field(1, b"\x02" * 16) + unknown)))
    resource = length_field(1, length_field(1, key_value("service.name", string="svc") + unknown) + unknown)
    scope_spans = length_field(2, unknown + b"".join(length_field(2, s) for s in spans) + unknown)
    message = request(resource + scope_spans + unknown) + unknown
    builder, _ = assert_same([message, message])
    assert len(builder.rows) == 6


def test_repeated_singular_fields_and_merged_messages(paths: str) -> None:
    twice = (
        length_field(5, b"first")
        + length_field(5, b"second")
        + tag(6, 0)
        + varint(3)
        + length_field(15, tag(3, 0) + varint(2))
        + length_field(15, length_field(2, b"message only"))
        + length_field(9, key_value("peer.service", string="a") + length_field(2, tag(3, 0) + varint(5)))
        + length_field(9, length_field(1, b"db.name") + length_field(1, b"db.system") + length_field(2, b""))
        + length_field(9, key_value("http.host", raw_value=length_field(5, length_field(1, tag(3, 0) + varint(1)))))
        + length_field(9, key_value("http.host", raw_value=b"") + length_field(2, length_field(5, tag(1, 0))))
    )
    merged_resource = length_field(1, length_field(1, key_value("service.name", string="one")))
    merged_resource += length_field(1, length_field(1, key_value("db.system", string="pg")))
    merged_resource += length_field(2, length_field(2, span(extra=twice)))
    assert_same([request(merged_resource), request(resource_spans("svc", span(extra=twice)))])


def test_odd_but_valid_encodings(paths: str) -> None:
    long_name = "n" * 20000  # three-byte length
    odd = (
        tag(5, 2)
        + overlong(3, 5)
        + b"abc"  # five-byte length
        + overlong(6 << 3, 3)
        + overlong(4, 10)  # kind with an overlong tag and a ten-byte varint
        + tag(6, 0)
        + varint(2**32 + 3)  # enum above 32 bits: truncated like upb
        + length_field(9, key_value("http.status_code", raw_value=tag(3, 0) + overlong(404, 10)))
        + length_field(9, overlong(10, 2) + varint(5) + b"error" + tag(2, 2) + overlong(2, 4) + tag(2, 0) + varint(0))
    )
    messages = [
        request(resource_spans("svc", span(extra=odd), span(long_name))),
        request(resource_spans("svc", *[span(str(i), bytes([i % 256]) * 8) for i in range(300)])),
        request(resource_spans("", span()), resource_spans(None, span(), span()), resource_spans("x")),
        b"",
        request(),
        request(b""),
        request(resource_spans("kind", span(extra=tag(6, 0) + varint(-1)), span(extra=tag(6, 0) + varint(9)))),
    ]
    assert_same(messages)


def id_span(trace_id: bytes | None, span_id: bytes | None, parent_id: bytes | None, *, extra: bytes = b"") -> bytes:
    """A span with exactly these id fields (None: the field is absent)."""
    fields = [length_field(n, v) for n, v in ((1, trace_id), (2, span_id), (4, parent_id)) if v is not None]
    times = tag(7, 1) + (10).to_bytes(8, "little") + tag(8, 1) + (25).to_bytes(8, "little")
    return b"".join(fields) + length_field(5, b"op") + times + extra


ID_LENGTHS = [0, 1, 3, 7, 8, 9, 12, 15, 16, 17, 32]


def test_ids_of_every_length_are_read_as_the_builder_reads_raw_ids(paths: str) -> None:
    """Up to 16 bytes right-aligned (a long span id keeps its low 8), longer is invalid, empty or absent is 0."""
    rng = random.Random(3)
    spans = []
    for length in ID_LENGTHS:
        some = rng.randbytes(length)
        spans += [
            id_span(some, b"\x01" * 8, b""),
            id_span(b"\xab" * 16, some, None),
            id_span(b"\xab" * 16, b"\x02" * 8, some),
            id_span(bytes(length), b"\x03" * 8, None),  # all-zero trace ids: rejected by build()
            id_span(b"\xab" * 16, bytes(length), b"\x04" * 8),
        ]
        link = length_field(1, some) + length_field(2, rng.randbytes(length))
        spans.append(id_span(b"\xcd" * 16, b"\x05" * 8, None, extra=length_field(13, link)))
    spans += [id_span(None, b"\x06" * 8, None), id_span(b"\xab" * 16, None, None), id_span(None, None, None)]
    decoded_spans, problems = assert_same([request(resource_spans("svc", *spans))])
    assert len(decoded_spans.rows) == len(spans)
    assert problems.count("span with an invalid trace or span id") > len(ID_LENGTHS)


@pytest.mark.parametrize(
    ("start", "end"), [(2**63 - 1, 2**63 - 1), (2**63, 2**63 + 5), (5, 2**64 - 1), (0, 0), (30, 20), (None, 7)]
)
def test_times_beyond_int64_and_odd_enums(start: int | None, end: int, paths: str) -> None:
    times = (
        (tag(7, 1) + start.to_bytes(8, "little") if start is not None else b"") + tag(8, 1) + end.to_bytes(8, "little")
    )
    odd = [tag(6, 0) + varint(k) + length_field(15, tag(3, 0) + varint(k)) for k in (258, 2**31 - 1, -1, 3, 6, 1 << 40)]
    spans = [length_field(1, b"\x0a" * 16) + length_field(2, bytes([i + 1]) * 8) + times + e for i, e in enumerate(odd)]
    assert_same([request(resource_spans("svc", *spans)), request(resource_spans("svc", span()))])


def test_memoryviews_and_empty_input() -> None:
    messages = synthetic_messages(7, spans=50)
    problems = Problems()
    builder = SpanBatchBuilder(problems)
    assert decode_otlp_proto([], builder, problems, []) == 0
    assert decode_otlp_proto([memoryview(m) for m in messages], builder, problems, ["x"] * len(messages)) > 0
    assert decoded(builder).rows == decoded(reference(messages)[0]).rows


# --- malformed messages --------------------------------------------------------------------


def small_message() -> bytes:
    links = length_field(13, length_field(1, b"\x03" * 16) + length_field(2, b"\x04" * 8))
    attributes = length_field(9, key_value("peer.service", string="db")) + length_field(
        9, key_value("http.status_code", raw_value=tag(3, 0) + varint(200))
    )
    spans = [span(extra=links + attributes), span("é", b"\x05" * 8, extra=length_field(15, tag(3, 0) + varint(1)))]
    return request(resource_spans("svc", *spans), resource_spans("other", span("z")))


def test_every_truncation_is_counted_and_good_messages_still_decode(paths: str) -> None:
    good = small_message()
    truncated = [good[:cut] for cut in range(len(good))]
    messages = [good, *truncated, good]
    builder, problems = assert_same(messages)
    assert problems.count(decode._PARSE_ERROR) > len(good) // 2
    alone = decoded(reference([good])[0]).rows
    assert builder.rows[: len(alone)] == alone


@pytest.mark.parametrize("seed", [11, 12])
def test_random_byte_flips_are_judged_like_upb(seed: int, paths: str) -> None:
    rng = random.Random(seed)
    bases = [small_message(), *enriched(seed)[:2]]
    messages = []
    for _ in range(400):
        damaged = bytearray(rng.choice(bases))
        for _ in range(rng.randrange(1, 4)):
            position = rng.randrange(len(damaged))
            damaged[position] = rng.choice([rng.randrange(256), damaged[position] ^ (1 << rng.randrange(8))])
        messages.append(bytes(damaged))
    messages.insert(200, bases[0])
    _, problems = assert_same(messages)
    assert 0 < problems.count(decode._PARSE_ERROR) < len(messages)


MALFORMED = {
    "truncated varint": request(resource_spans("s", span(extra=tag(6, 0) + b"\x80"))),
    "eleven-byte varint": request(resource_spans("s", span(extra=tag(6, 0) + b"\xff" * 10 + b"\x01"))),
    "length past the end": request(resource_spans("s", span())) + tag(1, 2) + varint(50),
    "nested length overruns parent": length_field(1, length_field(2, tag(2, 2) + varint(90) + span())),
    "six-byte length": request(resource_spans("s", span(extra=tag(3, 2) + overlong(0, 6)))),
    "six-byte tag": request(resource_spans("s", span(extra=overlong(5 << 3 | 2, 6) + varint(1) + b"a"))),
    "tag above 32 bits": request(resource_spans("s", span(extra=b"\xf8\xff\xff\xff\x1f\x00"))),
    "field zero": request(resource_spans("s", span(extra=tag(0, 0) + varint(1)))),
    "wire type 6": request(resource_spans("s", span(extra=tag(20, 6)))),
    "wire type 7": request(resource_spans("s", span(extra=tag(20, 7)))),
    "stray end group": request(resource_spans("s", span(extra=tag(20, 4)))),
    "group never ends": request(resource_spans("s", span(extra=tag(20, 3) + tag(1, 0) + varint(1)))),
    "group ends wrong": request(resource_spans("s", span(extra=tag(20, 3) + tag(21, 4)))),
    "wire type 7 in a group": request(resource_spans("s", span(extra=tag(20, 3) + tag(0, 7) + tag(20, 4)))),
    "bad UTF-8 in a name": request(resource_spans("s", span("ok", extra=length_field(5, b"\xc3\x28")))),
    "bad UTF-8 in a key": request(resource_spans("s", span(extra=length_field(9, length_field(1, b"k\xff"))))),
    "bad UTF-8 in an unread string": request(resource_spans("s", span(extra=length_field(3, b"\xed\xa0\x80")))),
    "bad UTF-8 in a scope": request(length_field(2, length_field(1, length_field(1, b"\xff")))),
    "fixed64 cut short": request(resource_spans("s", span())[:-3]),
}


def deep_value(depth: int) -> bytes:
    """An AnyValue whose innermost message is `depth` levels below it (AnyValue and ArrayValue alternating)."""
    value = b""
    for level in range(depth, 0, -1):
        value = length_field(5 if level % 2 else 1, value)
    return value


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_messages_are_counted_not_raised(name: str, paths: str) -> None:
    good = small_message()
    _, problems = assert_same([good, MALFORMED[name], good])
    assert problems.count(decode._PARSE_ERROR) == 1


@pytest.mark.parametrize("depth", [99, 100, 101, 140])
def test_nesting_limit_is_upbs(depth: int, paths: str) -> None:
    """Messages and groups may nest 100 deep below the request (the span is at depth 3, its attribute value at 5)."""
    value = deep_value(depth - 5)
    groups = b"".join(tag(200 + i, 3) for i in range(depth - 3)) + b"".join(
        tag(200 + i, 4) for i in reversed(range(depth - 3))
    )
    messages = [
        request(resource_spans("s", span(extra=length_field(9, key_value("db.name", raw_value=value))))),
        request(resource_spans("s", span(extra=groups))),
    ]
    _, problems = assert_same(messages)
    assert problems.count(decode._PARSE_ERROR) == (0 if depth <= 100 else 2)


def deep_key_value(lists: int, innermost: bytes) -> bytes:
    """An attribute whose value holds `lists` nested kvlists; the innermost KeyValue is at depth 4 + 3 * lists."""
    pair = innermost
    for _ in range(lists):
        pair = key_value("k", raw_value=length_field(6, length_field(1, pair)))
    return pair


@pytest.mark.parametrize("lists", [31, 32])
@pytest.mark.parametrize("value", [b"", length_field(1, b"v")])
def test_nesting_limit_applies_to_plain_key_values(lists: int, value: bytes, paths: str) -> None:
    pair = deep_key_value(lists, key_value("db.name", raw_value=value))
    _, problems = assert_same([request(resource_spans("s", span(extra=length_field(9, pair))))])
    assert problems.count(decode._PARSE_ERROR) == (lists == 32)


# --- the vectorised helpers against plain Python ---------------------------------------------


@pytest.mark.parametrize("seed", range(4))
def test_utf8_check_finds_every_bad_range(seed: int) -> None:
    """Ranges of every length up to past the vectorised words, non-ASCII bytes at every position."""
    rng = random.Random(seed)
    pieces = [b"a", b"\xc3\xa9", b"\xe2\x82\xac", b"\xff", b"\xc3", b"\x80", b"\xed\xa0\x80"]
    data = b"".join(rng.choice(pieces) if rng.random() < 0.03 else b"x" for _ in range(20000))
    wire = buffer._Wire([data])
    starts = np.array([rng.randrange(len(data)) for _ in range(3000)], np.int64)
    ends = np.minimum(
        starts + np.array([rng.choice([0, 1, 7, 8, 9, 16, 17, 24, 25, 63, 64, 65, 80, 200]) for _ in starts]), len(data)
    )
    expected = []
    for index, (start, end) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
        try:
            data[start:end].decode()
        except UnicodeDecodeError:
            expected.append(index)
    assert sorted(wire.bad_utf8(starts, ends).tolist()) == expected
    assert expected, "the data should hold bad ranges"


@pytest.mark.parametrize("seed", range(4))
def test_equal_ranges_are_grouped_exactly(seed: int, paths: str) -> None:
    """`unique_ranges` groups equal byte strings only (also when every content hash collides)."""
    rng = random.Random(seed)
    words = [b"", b"a", b"ab", b"GET", b"server.address", b"x" * 8, b"x" * 9, b"y" * 30, b"\x00" * 3, b"\x00" * 4]
    data = b"".join(rng.choice(words) for _ in range(4000))
    wire = buffer._Wire([data])
    starts = np.array(sorted(rng.randrange(len(data)) for _ in range(2000)), np.int64)
    ends = np.minimum(starts + np.array([rng.randrange(40) for _ in starts]), len(data))
    first, inverse = wire.unique_ranges(starts, ends)
    texts = [data[s:e] for s, e in zip(starts.tolist(), ends.tolist(), strict=True)]
    distinct = [texts[i] for i in first.tolist()]
    assert len(set(distinct)) == len(distinct) == len(set(texts))
    assert [distinct[g] for g in inverse.tolist()] == texts
