"""OTLP/JSON decoder: real captures (upper-case hex, base64 + enum names, Tempo batches), mappings, bad input."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import orjson
import pytest
from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from flowviz.bench.encode import otlp_proto_request
from flowviz.bench.synthetic import synthetic_traces
from flowviz.decoders.builder import SpanBatchBuilder
from flowviz.decoders.otlp_json import add_otlp_json, attribute_value, looks_like_otlp_json
from flowviz.decoders.otlp_proto import decode_otlp_proto
from flowviz.model.problems import Problems
from flowviz.model.span_batch import PeerKind, SpanBatch, SpanKind, StatusCode
from flowviz.sources.capture_file import CaptureReader

T = "5b8efff798038103d269b633813fc60c"
MALFORMED = "otlp-json: malformed span"
NO_SERVICE = "otlp-json: resource without service.name"
BAD_ID = "span with an invalid trace or span id"
BAD_TIME = "span with an invalid start or end time"


def _decode(doc: object, where: str = "t.json") -> tuple[SpanBatch, Problems, int]:
    problems = Problems()
    builder = SpanBatchBuilder(problems)
    added = add_otlp_json(doc, builder, problems, where)
    return builder.build(), problems, added


def _load(path: Path) -> object:
    return orjson.loads(path.read_bytes())


def _hex(batch: SpanBatch, column: str) -> list[str]:
    return [format(v, "016x") for v in getattr(batch, column).tolist()]


def _b64hex(value: str) -> str:
    return base64.b64decode(value).hex()


def _span(span_id: str, **extra: object) -> dict:
    span: dict[str, object] = {
        "traceId": T,
        "spanId": span_id,
        "name": f"op-{span_id[-2:]}",
        "startTimeUnixNano": "1700000000000000000",
        "endTimeUnixNano": "1700000000250000000",
    }
    span.update(extra)
    return span


def _request(*resources: tuple[str | None, list[dict]], scope_key: str = "scopeSpans") -> dict:
    entries = []
    for service, spans in resources:
        attributes = [] if service is None else [{"key": "service.name", "value": {"stringValue": service}}]
        entries.append({"resource": {"attributes": attributes}, scope_key: [{"scope": {"name": "x"}, "spans": spans}]})
    return {"resourceSpans": entries}


def test_opentelemetry_proto_example_upper_case_hex(captures_dir: Path) -> None:
    batch, problems, added = _decode(_load(captures_dir / "otlp-json/opentelemetry-proto-example-trace.json"))
    assert added == len(batch) == 1
    assert not problems
    assert (batch.trace_hi.tolist(), batch.trace_lo.tolist()) == ([0x5B8EFFF798038103], [0xD269B633813FC60C])
    assert _hex(batch, "span_id") == ["eee19b7ec3c1b174"]
    assert _hex(batch, "parent_id") == ["eee19b7ec3c1b173"]
    assert batch.string_column("service") == ["my.service"]
    assert batch.string_column("name") == ["I'm a server span"]
    assert batch.kind.tolist() == [SpanKind.SERVER]
    assert batch.start_ns.tolist() == [1544712660000000000]
    assert batch.duration_ns.tolist() == [1_000_000_000]


def test_kiali_tempo_batches_base64_ids_and_enum_names(captures_dir: Path) -> None:
    doc = _load(captures_dir / "otlp-protojson/kiali-istio-bookinfo-tempo-trace.json")
    batch, problems, added = _decode(doc)
    assert added == len(batch) == 8
    assert not problems
    spans = [s for rs in doc["batches"] for scope in rs["scopeSpans"] for s in scope["spans"]]
    assert _hex(batch, "span_id") == [_b64hex(s["spanId"]) for s in spans]
    assert _hex(batch, "parent_id") == [_b64hex(s.get("parentSpanId", "")) or "0" * 16 for s in spans]
    trace = _b64hex("O6VWCcPN5JZJzXfR+dzZNg==")
    assert set(zip(_hex(batch, "trace_hi"), _hex(batch, "trace_lo"), strict=True)) == {(trace[:16], trace[16:])}
    expected_kinds = {"SPAN_KIND_CLIENT": SpanKind.CLIENT, "SPAN_KIND_SERVER": SpanKind.SERVER}
    assert batch.kind.tolist() == [expected_kinds[s["kind"]] for s in spans]
    assert batch.string_column("service") == [
        "istio-ingressgateway.istio-system",
        "productpage.bookinfo",
        "productpage.bookinfo",
        "productpage.bookinfo",
        "details.bookinfo",
        "reviews.bookinfo",
        "reviews.bookinfo",
        "ratings.bookinfo",
    ]
    assert batch.http_status.tolist() == [200] * 8
    # every server span's parent is a client span of the trace
    by_id = dict(zip(batch.span_id.tolist(), batch.kind.tolist(), strict=True))
    servers = np.flatnonzero(batch.kind == SpanKind.SERVER)
    assert [by_id[batch.parent_id[r].item()] for r in servers] == [SpanKind.CLIENT] * 4


def test_jaeger_integration_example(captures_dir: Path) -> None:
    batch, problems, added = _decode(_load(captures_dir / "otlp-json/jaeger-integration-example-trace.json"))
    assert added == len(batch) == 5
    assert not problems
    assert batch.string_column("service") == [
        "example-service-2",
        "example-service-3",
        "example-service-1",
        "example-service-1",
        "example-service-1",
    ]
    assert batch.span_id.tolist() == [4, 5, 3, 6, 7]
    assert batch.trace_lo.tolist() == [0x11] * 5
    assert batch.trace_hi.tolist() == [0] * 5
    assert batch.kind.tolist() == [0, 0, 0, SpanKind.SERVER, SpanKind.CLIENT]
    assert batch.status.tolist() == [StatusCode.UNSET] * 5
    assert batch.duration_ns.tolist() == [100_000] * 5


def test_kinds_status_peer_destination_and_links() -> None:
    link_b64 = base64.b64encode(bytes.fromhex("00000000000000aa")).decode()
    doc = _request(
        (
            "shop",
            [
                _span("0000000000000001", kind=2, status={"code": 2, "message": "boom"}),
                _span("0000000000000002", kind="SPAN_KIND_CLIENT", status={"code": "STATUS_CODE_ERROR"}),
                _span(
                    "0000000000000003",
                    kind=3,
                    attributes=[
                        {"key": "server.address", "value": {"stringValue": "pg.internal"}},
                        {"key": "db.system", "value": {"stringValue": "postgresql"}},
                        {"key": "db.name", "value": {"stringValue": "orders"}},
                    ],
                ),
                _span(
                    "0000000000000004",
                    kind=3,
                    attributes=[
                        {"key": "peer.service", "value": {"stringValue": "billing"}},
                        {"key": "http.response.status_code", "value": {"intValue": "503"}},
                    ],
                ),
                _span(
                    "0000000000000005",
                    kind="SPAN_KIND_PRODUCER",
                    attributes=[
                        {"key": "messaging.system", "value": {"stringValue": "kafka"}},
                        {"key": "messaging.destination.name", "value": {"stringValue": "orders-topic"}},
                    ],
                ),
                _span(
                    "0000000000000006",
                    kind=5,
                    links=[{"traceId": T, "spanId": "0000000000000005"}, {"traceId": T, "spanId": "00000000000000aa"}],
                ),
                _span("0000000000000007", kind="SPAN_KIND_NOT_A_KIND", status={"code": "STATUS_CODE_OK"}),
                _span("0000000000000008", kind=1, status={}),
            ],
        )
    )
    batch, problems, added = _decode(doc)
    assert added == len(batch) == 8
    assert not problems
    assert batch.kind.tolist() == [
        SpanKind.SERVER,
        SpanKind.CLIENT,
        SpanKind.CLIENT,
        SpanKind.CLIENT,
        SpanKind.PRODUCER,
        SpanKind.CONSUMER,
        SpanKind.UNSPECIFIED,
        SpanKind.INTERNAL,
    ]
    assert batch.status.tolist() == [2, 2, 0, 0, 0, 0, 1, 0]
    assert batch.string_column("peer")[2:5] == ["orders", "billing", "kafka"]
    assert batch.peer_kind.tolist()[2:4] == [PeerKind.DATABASE, PeerKind.SERVICE]
    assert batch.http_status.tolist()[3] == 503
    assert batch.string_column("destination")[4] == "orders-topic"
    assert batch.link_row.tolist() == [5, 5]
    assert batch.link_span_id.tolist() == [5, 0xAA]
    assert set(batch.link_trace_lo.tolist()) == {0xD269B633813FC60C}
    # the same link in protobuf JSON (base64 ids)
    b64 = {
        "batches": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "w"}}]},
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": base64.b64encode(bytes.fromhex(T)).decode(),
                                "spanId": base64.b64encode(bytes.fromhex("0000000000000009")).decode(),
                                "kind": "SPAN_KIND_CONSUMER",
                                "startTimeUnixNano": "1700000000000000000",
                                "endTimeUnixNano": "1700000000000000001",
                                "links": [{"traceId": base64.b64encode(bytes.fromhex(T)).decode(), "spanId": link_b64}],
                            }
                        ]
                    }
                ],
            }
        ]
    }
    linked, problems, _ = _decode(b64)
    assert not problems
    assert (linked.span_id.tolist(), linked.link_span_id.tolist(), linked.link_row.tolist()) == ([9], [0xAA], [0])


def test_resource_db_attributes_apply_to_its_spans() -> None:
    doc = _request(("cache", [_span("0000000000000001", kind=3), _span("0000000000000002", kind=3)]))
    doc["resourceSpans"][0]["resource"]["attributes"].append({"key": "db.system", "value": {"stringValue": "redis"}})
    batch, _, _ = _decode(doc)
    assert batch.string_column("peer") == ["redis", "redis"]
    assert batch.peer_kind.tolist() == [PeerKind.DATABASE] * 2


def test_protobuf_canonical_json_matches_the_protobuf_decoder() -> None:
    """MessageToDict writes what Tempo and gogo/jsonpb write: base64 ids, enum names, string int64s."""
    spans = [s for trace in synthetic_traces(spans=200, services=6, seed=7) for s in trace]
    message = otlp_proto_request(spans)
    canonical = MessageToDict(ExportTraceServiceRequest.FromString(message))
    first = canonical["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert first["kind"].startswith("SPAN_KIND_")
    assert first["traceId"].endswith("==")
    from_json, json_problems, added = _decode(canonical)
    proto_problems = Problems()
    builder = SpanBatchBuilder(proto_problems)
    decode_otlp_proto([message], builder, proto_problems, ["p.bin"])
    from_proto = builder.build()
    assert added == len(from_json) == len(from_proto) == len(spans)
    assert not json_problems
    assert not proto_problems
    for column in ("trace_hi", "trace_lo", "span_id", "parent_id", "kind", "status", "start_ns", "end_ns"):
        assert getattr(from_json, column).tolist() == getattr(from_proto, column).tolist(), column
    for column in ("service", "name", "peer"):
        assert from_json.string_column(column) == from_proto.string_column(column), column
    assert int((from_json.status == StatusCode.ERROR).sum()) == sum(s.error for s in spans)


def test_instrumentation_library_spans_are_read() -> None:
    doc = _request(("old-sdk", [_span("0000000000000001", kind=2)]), scope_key="instrumentationLibrarySpans")
    batch, problems, added = _decode(doc)
    assert (added, batch.string_column("service"), batch.kind.tolist()) == (1, ["old-sdk"], [SpanKind.SERVER])
    assert not problems


def test_resources_without_service_name_are_counted_by_span() -> None:
    doc = _request(
        ("a", [_span("0000000000000001")]),
        (None, [_span("0000000000000002"), _span("0000000000000003")]),
        ("", [_span("0000000000000004")]),
    )
    doc["resourceSpans"].append({"resource": {"attributes": 5}, "scopeSpans": [{"spans": [_span("0000000000000005")]}]})
    doc["resourceSpans"].append({"scopeSpans": [{"spans": [_span("0000000000000006")]}]})  # no resource at all
    batch, problems, added = _decode(doc, "f.json:3")
    assert (added, batch.span_id.tolist()) == (1, [1])
    assert problems.as_dict() == {
        NO_SERVICE: {
            "count": 5,
            "first": [
                "f.json:3 resourceSpans[1]",
                "f.json:3 resourceSpans[2]",
                "f.json:3 resourceSpans[3]",
                "f.json:3 resourceSpans[4]",
            ],
        }
    }


def test_malformed_spans_are_counted_where_they_are() -> None:
    doc = _request(
        ("a", [_span("0000000000000001")]),
        (
            "b",
            [
                _span("0000000000000002"),
                "not a span",
                _span("0000000000000003", traceId="zz"),
                _span("0000000000000004", status="bad"),
                _span("0000000000000005", startTimeUnixNano="soon"),
                _span("0000000000000006", endTimeUnixNano=[1]),
                _span("0000000000000007", attributes=[{"key": "peer.service"}], links=[{"spanId": "01"}]),
                _span("0000000000000008", kind=["x"]),
                _span("0000000000000009"),
            ],
        ),
    )
    batch, problems, added = _decode(doc, "f.jsonl:2")
    assert batch.span_id.tolist() == [1, 2, 7, 9]  # span 7 loses only its malformed attribute
    assert batch.string_column("service") == ["a", "b", "b", "b"]
    assert added == 7  # rows handed to the builder; ids and times are checked when it builds
    assert batch.link_row.shape == (0,)  # a link without a trace id is no link
    assert problems.as_dict() == {
        MALFORMED: {
            "count": 3,
            "first": [
                "f.jsonl:2 resourceSpans[1] span 1",
                "f.jsonl:2 resourceSpans[1] span 3",
                "f.jsonl:2 resourceSpans[1] span 7",
            ],
        },
        "otlp-json: malformed attribute (skipped)": {"count": 1, "first": ["f.jsonl:2 resourceSpans[1] span 6"]},
        BAD_ID: {"count": 1, "first": ["f.jsonl:2 resourceSpans[1] span 2"]},
        BAD_TIME: {"count": 2, "first": ["f.jsonl:2 resourceSpans[1] span 4", "f.jsonl:2 resourceSpans[1] span 5"]},
    }


def test_malformed_span_locations_through_the_reader(tmp_path: Path) -> None:
    """In a JSON lines capture the location names the file, the line, the resource and the span."""
    good = _request(("a", [_span("0000000000000001"), _span("0000000000000002")]))
    bad = _request(
        ("a", [_span("0000000000000003")]),
        ("b", [_span("0000000000000004"), _span("0000000000000005", spanId="xyz"), 7, _span("0000000000000006")]),
    )
    path = tmp_path / "export.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(d) for d in (good, good, bad, good)) + b"\n")
    problems = Problems()
    reader = CaptureReader(path, problems=problems)
    batch = SpanBatch.concat(list(reader))
    assert reader.format_name == "otlp_json"
    assert sorted(batch.span_id.tolist()) == [1, 1, 1, 2, 2, 2, 3, 4, 6]
    assert problems.as_dict() == {
        BAD_ID: {"count": 1, "first": [f"{path}:3 resourceSpans[1] span 1"]},
        MALFORMED: {"count": 1, "first": [f"{path}:3 resourceSpans[1] span 2"]},
    }


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        ([], "otlp-json: document is not an object"),
        ({"resourceSpans": {"a": 1}}, "otlp-json: resourceSpans is not a list"),
        ({"resourceSpans": [1]}, "otlp-json: resourceSpans entry is not an object"),
        ({"resourceSpans": [{"resource": {}, "scopeSpans": 3}]}, "otlp-json: scopeSpans is not a list"),
    ],
)
def test_malformed_documents_are_counted(doc: object, reason: str) -> None:
    batch, problems, added = _decode(doc, "d.json")
    assert (len(batch), added) == (0, 0)
    assert problems.count(reason) == 1


def test_looks_like_otlp_json() -> None:
    assert looks_like_otlp_json({"resourceSpans": []})
    assert looks_like_otlp_json({"resourceSpans": [{"resource": {}}]})
    assert looks_like_otlp_json({"batches": [{"scopeSpans": []}]})
    assert not looks_like_otlp_json({"resourceSpans": [1]})
    assert not looks_like_otlp_json({"data": [{"traceID": "a"}]})
    assert not looks_like_otlp_json([{"resourceSpans": []}])
    assert not looks_like_otlp_json({"resourceSpans": None})


def test_attribute_value() -> None:
    assert attribute_value({"stringValue": "x"}) == "x"
    assert attribute_value({"intValue": "42"}) == "42"
    assert attribute_value({"boolValue": False}) is False
    assert attribute_value({"doubleValue": 1.5}) == 1.5
    assert attribute_value({"arrayValue": {}}) is None
    assert attribute_value("x") is None
