"""Derivation cases other projects' service-graph tests catch, through the whole file path (decode, derive, store).

Modelled on the kinds of case Zipkin's DependencyLinker tests, the OpenTelemetry Collector's
servicegraph connector tests and Jaeger's dependency processors check: shared span ids in every
format, repeats, mixed trace-id widths, INTERNAL spans, endpoints without a service name.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest

from flowviz.model.problems import Problems
from flowviz.sources.pipeline import IngestPipeline, load_captures
from flowviz.store.rolling_store import RollingStore

EVERYTHING = (-(2**62), 2**62)
T0_US = 1_700_000_000_000_000
TRACE64 = "00000000000000000123456789abcdef"[16:]  # 16 digits
TRACE128 = "fedcba9876543210" + TRACE64


def _graph(*paths: Path) -> tuple[dict[tuple[str, str], dict], Problems]:
    problems = Problems()
    store = RollingStore(problems=problems)
    load_captures(paths, IngestPipeline(store, problems=problems))
    frame = store.query(*EVERYTHING)
    names = frame.node_names
    edges = {
        (names[frame.edge_source[e]], names[frame.edge_target[e]]): {
            "requests": int(frame.edge_requests[e]),
            "errors": int(frame.edge_errors[e]),
        }
        for e in np.flatnonzero(frame.edge_requests > 0).tolist()
    }
    return edges, problems


def _requests(edges: dict) -> dict[tuple[str, str], int]:
    return {pair: edge["requests"] for pair, edge in edges.items()}


def _write(path: Path, doc: object) -> Path:
    path.write_bytes(orjson.dumps(doc))
    return path


# -- Zipkin v2 -------------------------------------------------------------------------------------


def _zipkin(span_id, service, kind=None, parent=None, start_us=0, duration_us=100, trace=TRACE64, **extra):
    span = {
        "traceId": trace,
        "id": span_id,
        "name": "get",
        "timestamp": T0_US + start_us,
        "duration": duration_us,
        "localEndpoint": {"serviceName": service},
    }
    if kind:
        span["kind"] = kind
    if parent:
        span["parentId"] = parent
    span.update(extra)
    return span


def _zipkin_pair():
    """A root SERVER in `frontend` calling `backend` with one span id for both halves (B3 single span)."""
    return [
        _zipkin("000000000000000a", "frontend", "SERVER", start_us=0, duration_us=500),
        _zipkin("000000000000000b", "frontend", "CLIENT", "000000000000000a", 10, 300),
        _zipkin("000000000000000b", "backend", "SERVER", "000000000000000a", 20, 200, shared=True),
    ]


def test_repeated_shared_span_counts_once_in_one_file(tmp_path: Path) -> None:
    spans = _zipkin_pair()
    edges, problems = _graph(_write(tmp_path / "z.json", [*spans, spans[2]]))
    assert _requests(edges) == {("user", "frontend"): 1, ("frontend", "backend"): 1}
    assert problems.count("derive: duplicate span (ignored)") == 1


def test_repeated_shared_span_counts_once_split_across_two_files(tmp_path: Path) -> None:
    spans = _zipkin_pair()
    first = _write(tmp_path / "a.json", spans)
    second = _write(tmp_path / "b.json", [spans[2]])
    edges, problems = _graph(first, second)
    assert _requests(edges) == {("user", "frontend"): 1, ("frontend", "backend"): 1}
    assert problems.count("derive: duplicate span (ignored)") == 1


@pytest.mark.parametrize("client_first", [True, False])
def test_shared_halves_in_two_files_are_one_call_in_either_order(tmp_path: Path, client_first: bool) -> None:
    root, client, server = _zipkin_pair()
    first, second = ([root, client], [server]) if client_first else ([root, server], [client])
    edges, problems = _graph(_write(tmp_path / "a.json", first), _write(tmp_path / "b.json", second))
    assert _requests(edges) == {("user", "frontend"): 1, ("frontend", "backend"): 1}
    assert problems.total == 0


def test_whole_shared_trace_reported_twice_counts_once(tmp_path: Path) -> None:
    spans = _zipkin_pair()
    edges, _ = _graph(_write(tmp_path / "z.json", spans + spans))
    assert _requests(edges) == {("user", "frontend"): 1, ("frontend", "backend"): 1}


def test_mixed_64_and_128_bit_trace_ids_link_by_the_low_64_bits(tmp_path: Path) -> None:
    # frontend still writes 64-bit trace ids, backend already 128-bit (a system mid-migration)
    spans = [
        _zipkin("000000000000000a", "frontend", "SERVER", duration_us=500, trace=TRACE64),
        _zipkin("000000000000000b", "frontend", "CLIENT", "000000000000000a", 10, 300, trace=TRACE64),
        _zipkin("000000000000000c", "backend", "SERVER", "000000000000000b", 20, 200, trace=TRACE128),
    ]
    edges, problems = _graph(_write(tmp_path / "z.json", spans))
    assert _requests(edges) == {("user", "frontend"): 1, ("frontend", "backend"): 1}
    assert problems.total == 0


def test_mixed_width_shared_span_is_still_one_call(tmp_path: Path) -> None:
    spans = _zipkin_pair()
    spans[2]["traceId"] = TRACE128
    edges, problems = _graph(_write(tmp_path / "z.json", spans))
    assert _requests(edges) == {("user", "frontend"): 1, ("frontend", "backend"): 1}
    assert problems.total == 0


def test_several_servers_answering_one_client_id_each_count_and_keep_their_children(tmp_path: Path) -> None:
    # one client id answered twice by `backend` (a retry through a proxy); each server calls `db` once
    spans = [
        _zipkin("000000000000000a", "frontend", "CLIENT", start_us=0, duration_us=1000),
        _zipkin("000000000000000a", "backend", "SERVER", start_us=10, duration_us=100),
        _zipkin("000000000000000a", "backend", "SERVER", start_us=500, duration_us=100),
        _zipkin("000000000000000b", "backend", None, "000000000000000a", 20, 10),  # local span of server 1
        _zipkin("000000000000000c", "backend", "CLIENT", "000000000000000b", 21, 5),
        _zipkin("000000000000000d", "db", "SERVER", "000000000000000c", 22, 3),
        _zipkin("000000000000000e", "backend", "CLIENT", "000000000000000a", 510, 5),
        _zipkin("000000000000000f", "db", "SERVER", "000000000000000e", 511, 3),
    ]
    edges, problems = _graph(_write(tmp_path / "z.json", spans))
    # the kind-less local span hangs under its own server half: no frontend -> backend call of its own
    assert _requests(edges) == {("frontend", "backend"): 2, ("backend", "db"): 2}
    assert problems.total == 0


def test_shared_server_whose_client_was_never_reported_is_called_by_its_parent(tmp_path: Path) -> None:
    # Zipkin's DependencyLinker (lost client, shared server): the parent still names the caller
    spans = [
        _zipkin("000000000000000a", "web", "SERVER", duration_us=500),
        _zipkin("000000000000000b", "app", "SERVER", "000000000000000a", 20, 200, shared=True),
    ]
    edges, problems = _graph(_write(tmp_path / "z.json", spans))
    assert _requests(edges) == {("user", "web"): 1, ("web", "app"): 1}
    assert problems.total == 0


def test_envoy_capture_without_service_names_gives_edges(captures_dir: Path) -> None:
    edges, problems = _graph(captures_dir / "zipkin-v2" / "zipkin-lens-envoy.json")
    assert _requests(edges) == {("user", "169.254.65.45"): 1}
    assert problems.total == 0


def test_unnamed_proxy_between_two_services_keeps_both_calls(tmp_path: Path) -> None:
    proxy = {"ipv4": "10.1.2.3", "port": 15001}
    spans = [
        _zipkin("000000000000000a", "frontend", "CLIENT", duration_us=500),
        {**_zipkin("000000000000000b", "-", "SERVER", "000000000000000a", 10, 400), "localEndpoint": proxy},
        {**_zipkin("000000000000000c", "-", "CLIENT", "000000000000000b", 20, 300), "localEndpoint": proxy},
        _zipkin("000000000000000d", "backend", "SERVER", "000000000000000c", 30, 200),
    ]
    edges, problems = _graph(_write(tmp_path / "z.json", spans))
    assert _requests(edges) == {("frontend", "10.1.2.3:15001"): 1, ("10.1.2.3:15001", "backend"): 1}
    assert problems.total == 0


# -- Jaeger JSON -----------------------------------------------------------------------------------


def _jaeger_span(span_id, process, kind=None, parent=None, start_us=0, duration_us=100, trace=TRACE64):
    tags = [{"key": "span.kind", "type": "string", "value": kind}] if kind else []
    references = [{"refType": "CHILD_OF", "traceID": trace, "spanID": parent}] if parent else []
    return {
        "traceID": trace,
        "spanID": span_id,
        "operationName": "get",
        "references": references,
        "startTime": T0_US + start_us,
        "duration": duration_us,
        "tags": tags,
        "processID": process,
    }


def _jaeger(spans: list[dict], services: dict[str, str]) -> dict:
    processes = {pid: {"serviceName": name, "tags": []} for pid, name in services.items()}
    return {"data": [{"traceID": spans[0]["traceID"], "spans": spans, "processes": processes}]}


@pytest.mark.parametrize(("client_kind", "server_kind"), [("client", "server"), ("producer", "consumer")])
def test_jaeger_halves_sharing_one_span_id_are_one_call(tmp_path: Path, client_kind: str, server_kind: str) -> None:
    # what Zipkin-instrumented services reporting to Jaeger write: both halves carry span id b
    spans = [
        _jaeger_span("000000000000000a", "p1", "server", duration_us=500),
        _jaeger_span("000000000000000b", "p1", client_kind, "000000000000000a", 10, 300),
        _jaeger_span("000000000000000b", "p2", server_kind, "000000000000000a", 20, 200),
        _jaeger_span("000000000000000c", "p2", None, "000000000000000b", 30, 50),  # the server's local work
    ]
    edges, problems = _graph(_write(tmp_path / "j.json", _jaeger(spans, {"p1": "frontend", "p2": "backend"})))
    assert _requests(edges) == {("user", "frontend"): 1, ("frontend", "backend"): 1}
    assert problems.total == 0


def test_jaeger_internal_span_whose_parent_is_in_another_service_is_a_call(tmp_path: Path) -> None:
    spans = [
        _jaeger_span("000000000000000a", "p1", "server", duration_us=500),
        _jaeger_span("000000000000000b", "p2", "internal", "000000000000000a", 20, 200),
        _jaeger_span("000000000000000c", "p2", "internal", "000000000000000b", 30, 50),  # same service: no call
    ]
    edges, problems = _graph(_write(tmp_path / "j.json", _jaeger(spans, {"p1": "frontend", "p2": "worker"})))
    assert _requests(edges) == {("user", "frontend"): 1, ("frontend", "worker"): 1}
    assert problems.total == 0


# -- OTLP JSON ---------------------------------------------------------------------------------------

_OTLP_KINDS = {"internal": 1, "server": 2, "client": 3, "producer": 4, "consumer": 5}


def _otlp_span(span_id, kind, parent=None, start_us=0, duration_us=100, trace=TRACE64 * 2):
    span = {
        "traceId": trace,
        "spanId": span_id,
        "name": "get",
        "kind": _OTLP_KINDS[kind],
        "startTimeUnixNano": str((T0_US + start_us) * 1000),
        "endTimeUnixNano": str((T0_US + start_us + duration_us) * 1000),
    }
    if parent:
        span["parentSpanId"] = parent
    return span


def _otlp(by_service: dict[str, list[dict]]) -> dict:
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
                "scopeSpans": [{"scope": {"name": "test"}, "spans": spans}],
            }
            for service, spans in by_service.items()
        ]
    }


@pytest.mark.parametrize(("client_kind", "server_kind"), [("client", "server"), ("producer", "consumer")])
def test_otlp_halves_sharing_one_span_id_are_one_call(tmp_path: Path, client_kind: str, server_kind: str) -> None:
    doc = _otlp(
        {
            "frontend": [
                _otlp_span("000000000000000a", "server", duration_us=500),
                _otlp_span("000000000000000b", client_kind, "000000000000000a", 10, 300),
            ],
            "backend": [_otlp_span("000000000000000b", server_kind, "000000000000000a", 20, 200)],
        }
    )
    edges, problems = _graph(_write(tmp_path / "o.json", doc))
    assert _requests(edges) == {("user", "frontend"): 1, ("frontend", "backend"): 1}
    assert problems.total == 0


def test_otlp_root_halves_sharing_one_span_id_are_one_call(tmp_path: Path) -> None:
    # Zipkin's "single host spans, same id": a root client and its server, nothing above them
    doc = _otlp(
        {
            "cli": [_otlp_span("000000000000000a", "client", duration_us=300)],
            "api": [_otlp_span("000000000000000a", "server", start_us=10, duration_us=200)],
        }
    )
    edges, problems = _graph(_write(tmp_path / "o.json", doc))
    assert _requests(edges) == {("cli", "api"): 1}
    assert problems.total == 0


def test_otlp_internal_span_with_a_parent_elsewhere_is_a_call_but_an_internal_root_is_not(tmp_path: Path) -> None:
    # an SDK that never set the kind writes INTERNAL (the OpenTelemetry default)
    doc = _otlp(
        {
            "scheduler": [_otlp_span("000000000000000a", "internal", duration_us=500)],  # a timer: not a request
            "worker": [_otlp_span("000000000000000b", "internal", "000000000000000a", 20, 200)],
            "store": [_otlp_span("000000000000000c", "server", "000000000000000b", 30, 100)],
        }
    )
    edges, problems = _graph(_write(tmp_path / "o.json", doc))
    assert _requests(edges) == {("scheduler", "worker"): 1, ("worker", "store"): 1}
    assert problems.total == 0
