"""Jaeger JSON decoder: real captures (API envelope, bare trace, UI-internal model), references, bad input."""

from __future__ import annotations

import functools
from collections import Counter
from pathlib import Path

import numpy as np
import orjson

from flowviz.decoders.builder import SpanBatchBuilder
from flowviz.decoders.jaeger_json import add_jaeger, looks_like_jaeger
from flowviz.model.problems import Problems
from flowviz.model.span_batch import PeerKind, SpanBatch, SpanKind, StatusCode

DEATHSTAR = "jaeger-json/deathstarbench-socialnetwork-jaeger-ui-20traces.json"
GENAI = "jaeger-json/jaeger-ui-genai-agent-trace.json"
TELEMETRYGEN = "jaeger-json/jaeger-telemetrygen-otlp2jaeger-out.json"
OTHER_FORMATS = (
    "zipkin-v2/zipkin-lens-yelp.json",
    "zipkin-v2/zipkin-lens-messaging2.json",
    "otlp-json/jaeger-integration-example-trace.json",
    "otlp-json/opentelemetry-proto-example-trace.json",
    "otlp-protojson/kiali-istio-bookinfo-tempo-trace.json",
    "jaeger-dependencies/jaeger-ui-dependencygraph-small.json",
)
T = "4bf92f3577b34da6a3ce929d0e0e4736"


@functools.cache
def _load(path: Path) -> object:
    return orjson.loads(path.read_bytes())


def _decode(doc: object, where: str = "t.json") -> tuple[SpanBatch, Problems, int]:
    problems = Problems()
    builder = SpanBatchBuilder(problems)
    added = add_jaeger(doc, builder, problems, where)
    return builder.build(), problems, added


def _row(batch: SpanBatch, span_hex: str) -> int:
    rows = np.flatnonzero(batch.span_id == np.uint64(int(span_hex, 16)))
    assert rows.size == 1, span_hex
    return int(rows[0])


def _span(span_id: str, **extra: object) -> dict:
    span = {
        "traceID": T,
        "spanID": span_id,
        "operationName": "op",
        "startTime": 1_000,
        "duration": 5,
        "processID": "p1",
    }
    span.update(extra)
    return span


def _trace(*spans: object) -> dict:
    return {"traceID": T, "spans": list(spans), "processes": {"p1": {"serviceName": "svc"}}}


def test_deathstarbench_ui_model_reads_every_span(captures_dir: Path) -> None:
    batch, problems, added = _decode(_load(captures_dir / DEATHSTAR))
    assert added == len(batch) == 660
    assert not problems
    assert len(set(batch.string_column("service"))) == 12
    assert np.unique(batch.trace_lo).size == 20
    assert int((batch.parent_id == 0).sum()) == 20  # one root per trace, 640 CHILD_OF references
    assert set(batch.kind.tolist()) == {SpanKind.UNSPECIFIED}  # the C++ client wrote no span.kind


def test_deathstarbench_parent_comes_from_reference_id_not_embedded_span(captures_dir: Path) -> None:
    batch, _, _ = _decode(_load(captures_dir / DEATHSTAR))
    row = _row(batch, "137cfc2d87740f56")
    assert batch.parent_id[row] == int("37e2b05295806961", 16)
    assert batch.trace_lo[row] == int("151e8ea44a5cf41c", 16)
    assert batch.trace_hi[row] == 0
    assert batch.string_column("service")[row] == "user-mention-service"
    assert batch.string_column("name")[row] == "compose_user_mentions_memcached_get_client"
    assert batch.start_ns[row] == 1695943858155643 * 1000
    assert batch.duration_ns[row] == 518 * 1000
    nginx = _row(batch, "151e8ea44a5cf41c")
    assert batch.parent_id[nginx] == 0
    assert batch.string_column("peer")[nginx] == "localhost:8080"  # http.host
    assert batch.peer_kind[nginx] == PeerKind.SERVICE  # localhost: an uninstrumented peer of our own, no third party
    assert batch.http_status[nginx] == 200


def test_genai_bare_trace_kinds_errors_and_peers(captures_dir: Path) -> None:
    batch, problems, added = _decode(_load(captures_dir / GENAI))
    assert added == len(batch) == 57
    assert not problems
    assert len(set(batch.string_column("service"))) == 10
    assert Counter(batch.kind.tolist()) == {SpanKind.SERVER: 30, SpanKind.CLIENT: 19, SpanKind.INTERNAL: 8}
    failed = np.flatnonzero(batch.status == StatusCode.ERROR)
    assert failed.tolist() == [_row(batch, "0000000000000011")]
    assert batch.http_status[failed[0]] == 500
    database = _row(batch, "000000000000000b")
    assert batch.string_column("peer")[database] == "metrics"  # db.namespace before db.system.name
    assert batch.peer_kind[database] == PeerKind.DATABASE
    assert batch.string_column("service")[database] == "metrics-backend"
    assert batch.parent_id[database] == int("000000000000000a", 16)


def test_api_envelope_with_peer_service(captures_dir: Path) -> None:
    batch, problems, added = _decode(_load(captures_dir / TELEMETRYGEN))
    assert added == len(batch) == 2  # the fixture repeats one span; the decoder keeps both rows
    assert not problems
    assert batch.kind.tolist() == [SpanKind.SERVER] * 2
    assert batch.string_column("peer") == ["telemetrygen-client"] * 2
    assert batch.peer_kind.tolist() == [PeerKind.SERVICE] * 2
    assert batch.parent_id.tolist() == [int("909541b92cf05311", 16)] * 2
    assert batch.trace_hi[0] == int("83a9efd15c1c98a9", 16)


def test_parent_precedence_and_cross_trace_links() -> None:
    other = "00000000000000000000000000000abc"
    producer = {"refType": "FOLLOWS_FROM", "traceID": other, "spanID": "00000000000000aa"}
    doc = {
        "data": [
            _trace(
                _span("01"),
                _span(
                    "02",
                    references=[
                        {"refType": "FOLLOWS_FROM", "traceID": T, "spanID": "03"},
                        producer,
                        {"refType": "CHILD_OF", "traceID": T, "spanID": "01"},
                    ],
                ),
                _span("03", references=[{"refType": "FOLLOWS_FROM", "traceID": T, "spanID": "01"}]),
                _span("04", parentSpanID="03"),
                _span("05", references=[{"refType": "CHILD_OF", "traceID": other, "spanID": "bb"}]),
                # a 64-bit trace id written with zero padding is the same trace, not a link
                _span("06", references=[{"refType": "CHILD_OF", "traceID": "0" * 16 + T[16:], "spanID": "01"}]),
            )
        ],
        "total": 0,
        "limit": 0,
        "offset": 0,
        "errors": None,
    }
    doc["data"][0]["spans"][5]["traceID"] = T[16:]
    batch, problems, added = _decode(doc)
    assert added == 6
    assert not problems
    parents = {int(s): int(p) for s, p in zip(batch.span_id, batch.parent_id, strict=True)}
    assert parents == {1: 0, 2: 1, 3: 1, 4: 3, 5: 0, 6: 1}
    assert batch.link_row.tolist() == [_row(batch, "02"), _row(batch, "05")]
    assert batch.link_trace_lo.tolist() == [0xABC, 0xABC]
    assert batch.link_span_id.tolist() == [0xAA, 0xBB]


def test_status_ok_and_error_tags() -> None:
    doc = _trace(
        _span("01", tags=[{"key": "otel.status_code", "type": "string", "value": "OK"}]),
        _span("02", tags=[{"key": "error", "type": "bool", "value": True}]),
        _span("03", tags=[{"key": "error", "type": "string", "value": "false"}]),
        _span("04", tags=[{"key": "span.kind", "type": "string", "value": "PRODUCER"}]),
        _span("05", tags=[{"key": "messaging.destination.name", "type": "string", "value": "orders"}]),
    )
    batch, problems, _ = _decode(doc)
    assert not problems
    assert batch.status.tolist() == [StatusCode.OK, StatusCode.ERROR, StatusCode.UNSET, 0, 0]
    assert batch.kind.tolist() == [0, 0, 0, SpanKind.PRODUCER, 0]
    assert batch.string_column("destination")[4] == "orders"


def test_inline_process_without_processes_table() -> None:
    span = _span("01", process={"serviceName": "inline"})
    del span["processID"]
    batch, problems, _ = _decode({"traceID": T, "spans": [span]})
    assert not problems
    assert batch.string_column("service") == ["inline"]


def test_bad_spans_are_counted_with_location_and_the_rest_is_read() -> None:
    doc = {
        "data": [
            _trace(
                _span("01"),
                "not a span",
                _span("03", traceID=None),
                _span("04", startTime="yesterday"),
                _span("05", spanID="f" * 40),
                _span("06", processID="p9"),
                _span("07", spanID="zz"),
                _span("08", duration=-1),
                _span("09", startTime=None),
                _span("0a", spanID=None),
                _span("0b", tags="error"),
                _span("0c", references={"spanID": "01"}),
                _span("0d", references=["01", {"refType": "CHILD_OF", "spanID": ["01"]}]),
                _span("0e", tags=[None, {"key": 5, "value": 1}, {"key": ["x"], "value": 1}]),
                _span("0f", parentSpanID=17),
            )
        ]
    }
    doc["data"][0]["traceID"] = None
    batch, problems, added = _decode(doc, where="bad.json")
    assert sorted(int(s) for s in batch.span_id) == [0x1, 0xB, 0xC, 0xD, 0xE, 0xF]
    assert added == 7  # "zz" passes the cheap checks; the builder drops it and counts it
    assert problems.as_dict() == {
        "jaeger: duration is not a number in range": {"count": 1, "first": ["bad.json:trace 0 span 7"]},
        "jaeger: malformed reference": {"count": 2, "first": ["bad.json:trace 0 span 12"] * 2},
        "jaeger: malformed tag": {"count": 3, "first": ["bad.json:trace 0 span 13"] * 3},
        "jaeger: parentSpanID is not a hex id": {"count": 1, "first": ["bad.json:trace 0 span 14"]},
        "jaeger: references is not a list": {"count": 1, "first": ["bad.json:trace 0 span 11"]},
        "jaeger: span is not an object": {"count": 1, "first": ["bad.json:trace 0 span 1"]},
        "jaeger: span without service": {"count": 1, "first": ["bad.json:trace 0 span 5"]},
        "jaeger: span without spanID": {"count": 1, "first": ["bad.json:trace 0 span 9"]},
        "jaeger: span without startTime": {"count": 1, "first": ["bad.json:trace 0 span 8"]},
        "jaeger: span without traceID": {"count": 1, "first": ["bad.json:trace 0 span 2"]},
        "jaeger: spanID is not a hex id": {"count": 1, "first": ["bad.json:trace 0 span 4"]},
        "jaeger: startTime is not a number in range": {"count": 1, "first": ["bad.json:trace 0 span 3"]},
        "jaeger: tags is not a list": {"count": 1, "first": ["bad.json:trace 0 span 10"]},
        "span with an invalid trace or span id": {"count": 1, "first": ["bad.json:trace 0 span 6"]},
    }


def test_wrong_shapes_never_raise() -> None:
    for doc, reason in [
        ("text", "jaeger: document is not an object"),
        (None, "jaeger: document is not an object"),
        ({"data": None, "errors": [{"msg": "boom"}]}, "jaeger: data is not a list of traces"),
        ({"data": [7]}, "jaeger: trace is not an object"),
        ({"data": [{"traceID": T, "spans": {}}]}, "jaeger: trace without a spans list"),
        ({"traceID": T, "spans": [_span("01")], "processes": ["svc"]}, "jaeger: processes is not an object"),
    ]:
        batch, problems, added = _decode(doc)
        assert (len(batch), added) == (0, 0)
        assert problems.count(reason) == 1, reason
    # a process entry of the wrong type only loses its own spans
    doc = {
        "traceID": T,
        "spans": [_span("01"), _span("02", processID="p2")],
        "processes": {"p1": {"serviceName": "a"}, "p2": 3},
    }
    batch, problems, _ = _decode(doc)
    assert batch.string_column("service") == ["a"]
    assert problems.count("jaeger: span without service") == 1


def test_looks_like_jaeger(captures_dir: Path) -> None:
    for name in (DEATHSTAR, GENAI, TELEMETRYGEN):
        assert looks_like_jaeger(_load(captures_dir / name)), name
    for name in OTHER_FORMATS:
        assert not looks_like_jaeger(_load(captures_dir / name)), name
    simple = {"traceId": "t1", "spans": [{"service": "a", "durationMs": 3}]}
    for doc in ({"data": []}, {}, [], None, "x", simple, [simple], {"resourceSpans": []}):
        assert not looks_like_jaeger(doc)
