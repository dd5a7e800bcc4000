"""Zipkin v2 decoder: real zipkin-lens captures, shared-span re-keying, fragments, kinds, peers, bad input."""

from __future__ import annotations

import functools
from collections import Counter
from pathlib import Path

import numpy as np
import orjson
import pytest

from flowviz.decoders.builder import SpanBatchBuilder
from flowviz.decoders.zipkin_json import add_zipkin, endpoint_name, looks_like_zipkin
from flowviz.model.problems import Problems
from flowviz.model.span_batch import (
    SPAN_FLAG_DECLARED_SHARED,
    SPAN_FLAG_JOINABLE,
    SPAN_FLAG_SHARED,
    PeerKind,
    SpanBatch,
    SpanKind,
    StatusCode,
)

SMARTTHINGS = "zipkin-v2/zipkin-lens-smartthings-mobile-web-install.json"
YELP = "zipkin-v2/zipkin-lens-yelp.json"
T = "5aab74dbb904746bb33447baae403ed6"


@functools.cache
def _load(path: Path) -> object:
    return orjson.loads(path.read_bytes())


def _decode(doc: object, where: str = "z.json") -> tuple[SpanBatch, Problems, int]:
    problems = Problems()
    builder = SpanBatchBuilder(problems)
    added = add_zipkin(doc, builder, problems, where)
    return builder.build(), problems, added


def _rows(batch: SpanBatch, span_hex: str) -> np.ndarray:
    return np.flatnonzero(batch.span_id == np.uint64(int(span_hex, 16)))


def _row(batch: SpanBatch, span_hex: str, service: str | None = None) -> int:
    rows = [
        r for r in _rows(batch, span_hex).tolist() if service is None or batch.string_column("service")[r] == service
    ]
    assert len(rows) == 1, (span_hex, service)
    return rows[0]


def _span(span_id: str, service: str = "a", **extra: object) -> dict:
    span = {"traceId": T, "id": span_id, "timestamp": 1_000, "duration": 10, "localEndpoint": {"serviceName": service}}
    span.update(extra)
    return span


@pytest.mark.parametrize(
    ("name", "spans", "services", "problem_count"),
    [
        ("zipkin-lens-ascend.json", 8, 3, 0),
        ("zipkin-lens-envoy.json", 1, 1, 0),  # its only span names no service: named by its address
        ("zipkin-lens-messaging-kafka.json", 28, 2, 0),
        ("zipkin-lens-messaging.json", 4, 2, 0),
        ("zipkin-lens-messaging2.json", 11, 4, 0),
        ("zipkin-lens-simple-db-p6.json", 5, 1, 0),
        ("zipkin-lens-skew.json", 4, 2, 0),
        # 1041 records = 957 spans + 84 timestamp-less fragments of shared server spans (merged)
        ("zipkin-lens-smartthings-mobile-web-install.json", 957, 16, 84),
        ("zipkin-lens-smartthings-oauth-authorization.json", 175, 8, 0),
        ("zipkin-lens-yelp.json", 16, 6, 0),
    ],
)
def test_capture_counts(captures_dir: Path, name: str, spans: int, services: int, problem_count: int) -> None:
    batch, problems, added = _decode(_load(captures_dir / "zipkin-v2" / name))
    assert added == len(batch) == spans
    assert len(set(batch.string_column("service"))) == services
    assert problems.total == problem_count


def test_envoy_span_without_service_name_is_named_by_its_address(captures_dir: Path) -> None:
    batch, problems, _ = _decode(_load(captures_dir / "zipkin-v2/zipkin-lens-envoy.json"), where="envoy.json")
    assert not problems
    assert batch.string_column("service") == ["169.254.65.45"]
    assert batch.kind.tolist() == [SpanKind.SERVER]


@pytest.mark.parametrize(
    ("endpoint", "name"),
    [
        ({"serviceName": "web", "ipv4": "10.0.0.1", "port": 80}, "web"),
        ({"serviceName": "", "ipv4": "10.0.0.1", "port": 8080}, "10.0.0.1:8080"),
        ({"ipv4": "10.0.0.1"}, "10.0.0.1"),
        ({"ipv6": "2001:db8::1", "port": 443}, "[2001:db8::1]:443"),
        ({"ipv6": "2001:db8::1"}, "2001:db8::1"),
        ({"ipv4": "10.0.0.1", "ipv6": "2001:db8::1", "port": 0}, "10.0.0.1"),
        ({"port": 80}, ""),
        ({}, ""),
        ("web", ""),
    ],
)
def test_endpoint_name(endpoint: object, name: str) -> None:
    assert endpoint_name(endpoint) == name


def test_spans_of_an_unnamed_service_keep_their_calls() -> None:
    proxy = {"ipv4": "10.1.2.3", "port": 15001}
    doc = [
        _span("0a", "front", kind="CLIENT"),
        {**_span("0b", kind="SERVER", parentId="0a"), "localEndpoint": proxy},
        {**_span("0c", kind="CLIENT", parentId="0b"), "localEndpoint": proxy},
        _span("0d", "back", kind="SERVER", parentId="0c"),
    ]
    batch, problems, _ = _decode(doc)
    assert not problems
    assert batch.string_column("service") == ["front", "10.1.2.3:15001", "10.1.2.3:15001", "back"]


def test_smartthings_shared_spans_are_rekeyed_under_their_client(captures_dir: Path) -> None:
    batch, problems, _ = _decode(_load(captures_dir / SMARTTHINGS))
    shared = (batch.flags & SPAN_FLAG_SHARED) != 0
    assert int(shared.sum()) == 294
    # all of them declared shared by the file, as every client span is joinable (B3)
    assert ((batch.flags[shared] & SPAN_FLAG_DECLARED_SHARED) != 0).all()
    assert ((batch.flags[batch.kind == SpanKind.CLIENT] & SPAN_FLAG_JOINABLE) != 0).all()
    assert set(batch.kind[shared].tolist()) == {SpanKind.SERVER}
    assert np.unique(batch.span_id).size == len(batch)  # no id is used twice any more
    client_ids = set(batch.span_id[batch.kind == SpanKind.CLIENT].tolist())
    assert set(batch.parent_id[shared].tolist()) <= client_ids
    known = set(batch.span_id.tolist())
    assert all(p == 0 or p in known for p in batch.parent_id.tolist())  # nothing orphaned by re-keying
    assert problems.count("zipkin: timestamp-less fragment merged into its same-id span") == 84


def test_children_of_the_server_half_follow_the_new_id(captures_dir: Path) -> None:
    batch, _, _ = _decode(_load(captures_dir / SMARTTHINGS))
    shared_id = int("a0dc23f22c4fee3f", 16)
    client = _row(batch, "a0dc23f22c4fee3f")
    assert batch.string_column("service")[client] == "strongman"
    assert batch.kind[client] == SpanKind.CLIENT
    assert batch.flags[client] == SPAN_FLAG_JOINABLE
    server = int(np.flatnonzero((batch.parent_id == shared_id) & ((batch.flags & SPAN_FLAG_SHARED) != 0))[0])
    new_id = batch.span_id[server]
    assert new_id not in (0, shared_id)
    assert batch.string_column("service")[server] == "platformapi"
    assert batch.start_ns[server] == 1543549825673008 * 1000
    # the platformapi CLIENT spans that named the shared id as parent now hang under the server half
    assert batch.parent_id[_row(batch, "cdcc8c3c82642de2")] == new_id
    assert batch.parent_id[_row(batch, "ce7bd8ffe2892e48", "platformapi")] == new_id
    # ... and the execution server answering ce7bd8ffe2892e48 is itself re-keyed under that client
    execution = int(np.flatnonzero(batch.parent_id == np.uint64(int("ce7bd8ffe2892e48", 16)))[0])
    assert batch.string_column("service")[execution] == "execution"
    assert batch.flags[execution] == SPAN_FLAG_SHARED | SPAN_FLAG_DECLARED_SHARED


def test_several_servers_answering_one_client_id_get_distinct_ids(captures_dir: Path) -> None:
    batch, _, _ = _decode(_load(captures_dir / SMARTTHINGS))
    servers = np.flatnonzero(batch.parent_id == np.uint64(int("cbab506b53f336fc", 16)))
    assert len(servers) == 5
    assert {batch.string_column("service")[r] for r in servers.tolist()} == {"pusher"}
    assert np.unique(batch.span_id[servers]).size == 5
    # a child is matched to the server on its own endpoint (pusher 10.6.83.20 started at ...258568)
    by_start = {int(batch.start_ns[r]): int(batch.span_id[r]) for r in servers.tolist()}
    assert batch.parent_id[_row(batch, "017bfc73a014d42c")] == by_start[1543549826258568 * 1000]


def test_rekeying_is_deterministic(captures_dir: Path) -> None:
    first, _, _ = _decode(_load(captures_dir / SMARTTHINGS))
    second, _, _ = _decode(_load(captures_dir / SMARTTHINGS))
    assert np.array_equal(first.span_id, second.span_id)
    assert np.array_equal(first.parent_id, second.parent_id)


def test_smartthings_errors(captures_dir: Path) -> None:
    batch, _, _ = _decode(_load(captures_dir / SMARTTHINGS))
    failed = np.flatnonzero(batch.status == StatusCode.ERROR)
    assert len(failed) == 2
    assert sorted(batch.string_column("service")[r] for r in failed.tolist()) == ["alice", "execution"]
    assert batch.http_status[failed].tolist() == [404, 404]


def test_yelp_peers_and_shared_roots(captures_dir: Path) -> None:
    batch, _, _ = _decode(_load(captures_dir / YELP))
    mysql = _row(batch, "50b57281525a99d8")
    assert (batch.string_column("peer")[mysql], batch.peer_kind[mysql]) == ("mysql", PeerKind.SERVICE)
    assert batch.kind[mysql] == SpanKind.CLIENT
    # a shared server with no client in the file keeps its id (no other span of the file uses it), still declared
    # shared: the deriver separates it should its client half come in a later batch
    routing = _row(batch, "2e8cfb154b59a41f", "routing")
    assert batch.flags[routing] == SPAN_FLAG_DECLARED_SHARED
    # children whose service differs from the shared server's (yelp-main vs yelp_main/api_proxy)
    # stay under the id they named, as Zipkin's SpanNode does
    assert batch.parent_id[_row(batch, "241cea1aa4cb2884")] == int("668ed78ad94b35a1", 16)


def test_messaging_kinds_peers_destinations_and_errors(captures_dir: Path) -> None:
    batch, _, _ = _decode(_load(captures_dir / "zipkin-v2/zipkin-lens-messaging-kafka.json"))
    assert Counter(batch.kind.tolist()) == {SpanKind.PRODUCER: 9, SpanKind.CONSUMER: 7, SpanKind.UNSPECIFIED: 12}
    send = _row(batch, "2e22a0564764943a")
    assert batch.string_column("destination")[send] == "messages"
    assert (batch.string_column("peer")[send], batch.peer_kind[send]) == ("kafka", PeerKind.SERVICE)
    # an `error` tag counts by its presence, even when empty
    failed = sorted(int(s) for s in batch.span_id[batch.status == StatusCode.ERROR])
    assert failed == sorted(int(h, 16) for h in ("2f77d5b0b8e0de35", "4a64a63e4b58e665", "568b33e6af8a225a"))


def test_kind_absent_with_both_endpoints_named_is_client() -> None:
    doc = [
        _span("01", remoteEndpoint={"serviceName": "db"}),
        _span("02", remoteEndpoint={"ipv4": "10.0.0.1"}),
        _span("03", kind="consumer", remoteEndpoint={"serviceName": "kafka"}),
        _span("04", kind="SIDEWAYS"),
    ]
    batch, problems, _ = _decode(doc)
    assert not problems
    assert batch.kind.tolist() == [SpanKind.CLIENT, SpanKind.UNSPECIFIED, SpanKind.CONSUMER, SpanKind.UNSPECIFIED]
    assert batch.string_column("peer") == ["db", "", "kafka", ""]


def test_implicit_shared_server_is_rekeyed() -> None:
    doc = [
        _span("0a", "front", kind="CLIENT", parentId="01"),
        _span("0a", "back", kind="SERVER", parentId="01"),  # same id as the client, no "shared" flag
        _span("0b", "back", parentId="0a"),
        _span("0c", "front", parentId="0a"),
    ]
    batch, problems, _ = _decode(doc)
    assert not problems
    server = _row(batch, "0a", "front")
    assert batch.parent_id[server] == 1
    rekeyed = int(np.flatnonzero((batch.flags & SPAN_FLAG_SHARED) != 0)[0])
    assert batch.string_column("service")[rekeyed] == "back"
    assert batch.parent_id[rekeyed] == 0x0A
    assert batch.parent_id[_row(batch, "0b")] == batch.span_id[rekeyed]
    assert batch.parent_id[_row(batch, "0c")] == 0x0A  # the client's own child stays


def test_nested_traces_are_kept_apart_and_located() -> None:
    other = "1" * 32
    doc = [
        [_span("0a", "front", kind="CLIENT"), _span("0a", "back", kind="SERVER", shared=True)],
        [
            {**_span("0a", "back", kind="SERVER", shared=True), "traceId": other},
            {**_span("0b", "back"), "traceId": other, "timestamp": "soon"},
        ],
    ]
    batch, problems, added = _decode(doc, where="traces.json")
    assert added == len(batch) == 3
    assert problems.as_dict() == {
        "zipkin: timestamp is not a number in range": {"count": 1, "first": ["traces.json:trace 1 span 1"]}
    }
    # the first trace's server half shares its client's id: separated; the second's client is not there
    shared = np.flatnonzero((batch.flags & SPAN_FLAG_SHARED) != 0)
    assert batch.parent_id[shared].tolist() == [0x0A]
    assert batch.trace_lo[shared].tolist() == [int(T[16:], 16)]
    alone = _row(batch, "0a", "back")
    assert batch.trace_lo[alone] == int(other[16:], 16)


def test_fragments_merge_tags_or_count_as_missing_timestamp() -> None:
    fragment = {"traceId": T, "id": "0b", "localEndpoint": {"serviceName": "back"}, "tags": {"error": "late"}}
    orphan = {"traceId": T, "id": "0c", "localEndpoint": {"serviceName": "back"}}
    doc = [_span("0b", "back", tags={"http.status_code": "503"}), fragment, orphan]
    batch, problems, added = _decode(doc)
    assert added == len(batch) == 1
    assert batch.status.tolist() == [StatusCode.ERROR]
    assert batch.http_status.tolist() == [503]
    assert problems.count("zipkin: timestamp-less fragment merged into its same-id span") == 1
    assert problems.count("zipkin: span without timestamp") == 1
    assert doc[0]["tags"] == {"http.status_code": "503"}  # the caller's document is not modified


def test_bad_spans_are_counted_with_location_and_the_rest_is_read() -> None:
    doc = [
        _span("01"),
        "not a span",
        {**_span("03"), "traceId": None},
        _span("04", timestamp="12:00"),
        _span("05", id="f" * 40),
        _span("06", localEndpoint="a"),
        _span("07", id="xyz"),
        _span("08", duration=-3),
        _span("09", parentId=["01"]),
        _span("0a", tags=["error"]),
        _span("0b", timestamp=float("nan")),
        _span("0c", id=12),
        _span("0d", timestamp=10**30),
        _span("0e", kind=7, remoteEndpoint="db", name=None),
    ]
    batch, problems, added = _decode(doc, where="bad.json")
    assert sorted(int(s) for s in batch.span_id) == [0x01, 0x0A, 0x0E]
    assert added == 4  # "xyz" passes the cheap checks; the builder drops it and counts it
    assert problems.as_dict() == {
        "span with an invalid trace or span id": {"count": 1, "first": ["bad.json:span 6"]},
        "zipkin: duration is not a number in range": {"count": 1, "first": ["bad.json:span 7"]},
        "zipkin: id is not a hex id": {"count": 2, "first": ["bad.json:span 4", "bad.json:span 11"]},
        "zipkin: parentId is not a hex id": {"count": 1, "first": ["bad.json:span 8"]},
        "zipkin: span is not an object": {"count": 1, "first": ["bad.json:span 1"]},
        "zipkin: span without localEndpoint serviceName or address": {"count": 1, "first": ["bad.json:span 5"]},
        "zipkin: span without traceId": {"count": 1, "first": ["bad.json:span 2"]},
        "zipkin: tags is not an object": {"count": 1, "first": ["bad.json:span 9"]},
        "zipkin: timestamp is not a number in range": {
            "count": 3,
            "first": ["bad.json:span 3", "bad.json:span 10", "bad.json:span 12"],
        },
    }
    last = _row(batch, "0e")
    assert (batch.kind[last], batch.string_column("peer")[last], batch.string_column("name")[last]) == (0, "", "")


def test_wrong_document_shapes_never_raise() -> None:
    for doc in ({"spans": []}, None, "x", 3):
        batch, problems, added = _decode(doc)
        assert (len(batch), added) == (0, 0)
        assert problems.count("zipkin: document is not a list of spans") == 1
    batch, problems, added = _decode([[], [None], 5])
    assert (len(batch), added) == (0, 0)
    assert problems.count("zipkin: span is not an object") == 2


def test_looks_like_zipkin(captures_dir: Path) -> None:
    for path in sorted((captures_dir / "zipkin-v2").glob("*.json")):
        assert looks_like_zipkin(_load(path)), path.name
    assert looks_like_zipkin([_load(captures_dir / YELP)])  # /api/v2/traces: a list of traces
    for name in (
        "jaeger-json/jaeger-ui-genai-agent-trace.json",
        "jaeger-json/jaeger-telemetrygen-otlp2jaeger-out.json",
        "otlp-json/jaeger-integration-example-trace.json",
        "otlp-protojson/kiali-istio-bookinfo-tempo-trace.json",
        "jaeger-dependencies/jaeger-ui-dependencygraph-small.json",
    ):
        assert not looks_like_zipkin(_load(captures_dir / name)), name
    simple = {"traceId": "t1", "spans": [{"service": "a", "durationMs": 3}]}
    for doc in ([], [[]], {"data": []}, None, [simple], simple, [{"traceId": "01"}]):
        assert not looks_like_zipkin(doc)
