"""Derivation cases other projects' service-graph tests catch, through the whole file path (decode, derive, store).

Modelled on the kinds of case Zipkin's DependencyLinker tests, the OpenTelemetry Collector's
servicegraph connector tests and Jaeger's dependency processors check: shared span ids in every
format, repeats, mixed trace-id widths, INTERNAL spans, endpoints without a service name.
"""

from __future__ import annotations

import itertools
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


@pytest.mark.parametrize("one_file", [True, False])
def test_128_bit_traces_differing_only_in_high_bits_are_not_linked(tmp_path: Path, one_file: bool) -> None:
    # two traces with the same low 64 bits and the same span ids (ids copied from one example): calls stay in
    # their own trace; a 64-bit id still links to either (test above), two different high halves do not
    def trace(trace_id: str, web: str, api: str) -> list[dict]:
        return [
            _zipkin("b7ad6b7169203331", web, "SERVER", duration_us=500, trace=trace_id),
            _zipkin("b7ad6b7169203332", web, "CLIENT", "b7ad6b7169203331", 10, 300, trace=trace_id),
            _zipkin("b7ad6b7169203333", api, "SERVER", "b7ad6b7169203332", 20, 200, trace=trace_id),
        ]

    first = trace("0af7651916cd43dd8448eb211c80319c", "j-web", "j-api")
    second = trace("9af7651916cd43dd8448eb211c80319c", "pb-web", "pb-api")
    files = (
        [_write(tmp_path / "z.json", first + second)]
        if one_file
        else [
            _write(tmp_path / "a.json", first),
            _write(tmp_path / "b.json", second),
        ]
    )
    edges, problems = _graph(*files)
    assert _requests(edges) == {
        ("user", "j-web"): 1,
        ("j-web", "j-api"): 1,
        ("user", "pb-web"): 1,
        ("pb-web", "pb-api"): 1,
    }
    assert problems.total == 0


def test_a_shared_id_is_not_shared_with_a_client_of_another_128_bit_trace(tmp_path: Path) -> None:
    # Zipkin shared spans: trace A's client and server halves share id b; trace B (the same low 64 bits, another
    # high half) reuses the ids but its server was called by no instrumented client: it is a root, not a half
    low = "8448eb211c80319c"
    spans = [
        _zipkin("000000000000000a", "web", "SERVER", duration_us=500, trace="0af7651916cd43dd" + low),
        _zipkin("000000000000000b", "web", "CLIENT", "000000000000000a", 10, 300, trace="0af7651916cd43dd" + low),
        _zipkin("000000000000000b", "api", "SERVER", "000000000000000a", 20, 200, trace="0af7651916cd43dd" + low),
        _zipkin("000000000000000b", "batch", "SERVER", duration_us=100, trace="9af7651916cd43dd" + low),
    ]
    edges, problems = _graph(_write(tmp_path / "z.json", spans))
    assert _requests(edges) == {("user", "web"): 1, ("web", "api"): 1, ("user", "batch"): 1}
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


# -- the same cases in every split: one file, one span per file in any order --------------------------------------


def _splits(spans: list) -> list[tuple[str, list[list]]]:
    """The ways to feed `spans` (label, files of spans): one file; one span per file in every order (up to 4
    spans), else in file order, reversed and in a few shuffled orders; the first half and the second half."""
    variants = [("one file", [spans]), ("two files", [spans[: len(spans) // 2], spans[len(spans) // 2 :]])]
    if len(spans) <= 4:
        orders = list(itertools.permutations(range(len(spans))))
    else:
        rng = np.random.default_rng(7)
        orders = [tuple(range(len(spans))), tuple(reversed(range(len(spans))))]
        orders += [tuple(rng.permutation(len(spans)).tolist()) for _ in range(6)]
    variants += [(f"one span per file, order {order}", [[spans[i]] for i in order]) for order in orders]
    return variants


def _graphs_in_every_split(tmp_path: Path, spans: list, write) -> dict[str, dict[tuple[str, str], dict]]:
    """The edges (requests and errors) each split of `spans` gives, by the split's label."""
    graphs = {}
    for number, (label, files) in enumerate(_splits(spans)):
        folder = tmp_path / f"split{number}"
        folder.mkdir(parents=True)
        paths = [write(folder / f"{index:03d}.json", part) for index, part in enumerate(files) if part]
        graphs[label] = _graph(*paths)[0]
    return graphs


def _assert_every_split_gives(tmp_path: Path, spans: list, write, expected: dict) -> None:
    for label, edges in _graphs_in_every_split(tmp_path, spans, write).items():
        assert {pair: (e["requests"], e["errors"]) for pair, e in edges.items()} == expected, label


def _write_zipkin(path: Path, spans: list) -> Path:
    return _write(path, spans)


def _jaeger_writer(services: dict[str, str]):
    def write(path: Path, spans: list) -> Path:
        used = {span["processID"] for span in spans}
        return _write(path, _jaeger(spans, {pid: name for pid, name in services.items() if pid in used}))

    return write


def _write_otlp(path: Path, spans: list[tuple[str, dict]]) -> Path:
    by_service: dict[str, list[dict]] = {}
    for service, span in spans:
        by_service.setdefault(service, []).append(span)
    return _write(path, _otlp(by_service))


def test_split_repeated_shared_span_counts_once(tmp_path: Path) -> None:
    spans = _zipkin_pair()
    _assert_every_split_gives(
        tmp_path, [*spans, spans[2]], _write_zipkin, {("user", "frontend"): (1, 0), ("frontend", "backend"): (1, 0)}
    )


def test_split_mixed_64_and_128_bit_trace_ids(tmp_path: Path) -> None:
    spans = [
        _zipkin("000000000000000a", "frontend", "SERVER", duration_us=500, trace=TRACE64),
        _zipkin("000000000000000b", "frontend", "CLIENT", "000000000000000a", 10, 300, trace=TRACE64),
        _zipkin("000000000000000c", "backend", "SERVER", "000000000000000b", 20, 200, trace=TRACE128),
        {**_zipkin("000000000000000d", "backend", "SERVER", "000000000000000b", 30, 100), "traceId": TRACE128},
    ]
    # the shared variant too: a 128-bit server half answering a 64-bit client
    shared = _zipkin_pair()
    shared[2]["traceId"] = TRACE128
    _assert_every_split_gives(
        tmp_path / "plain", spans, _write_zipkin, {("user", "frontend"): (1, 0), ("frontend", "backend"): (2, 0)}
    )
    _assert_every_split_gives(
        tmp_path / "shared", shared, _write_zipkin, {("user", "frontend"): (1, 0), ("frontend", "backend"): (1, 0)}
    )


@pytest.mark.parametrize(("client_kind", "server_kind"), [("client", "server"), ("producer", "consumer")])
def test_split_jaeger_halves_sharing_one_span_id(tmp_path: Path, client_kind: str, server_kind: str) -> None:
    spans = [
        _jaeger_span("000000000000000a", "p1", "server", duration_us=500),
        _jaeger_span("000000000000000b", "p1", client_kind, "000000000000000a", 10, 300),
        _jaeger_span("000000000000000b", "p2", server_kind, "000000000000000a", 20, 200),
        _jaeger_span("000000000000000c", "p2", None, "000000000000000b", 30, 50),  # the server's local work
    ]
    _assert_every_split_gives(
        tmp_path,
        spans,
        _jaeger_writer({"p1": "frontend", "p2": "backend"}),
        {("user", "frontend"): (1, 0), ("frontend", "backend"): (1, 0)},
    )


@pytest.mark.parametrize(("client_kind", "server_kind"), [("client", "server"), ("producer", "consumer")])
def test_split_otlp_halves_sharing_one_span_id(tmp_path: Path, client_kind: str, server_kind: str) -> None:
    spans = [
        ("frontend", _otlp_span("000000000000000a", "server", duration_us=500)),
        ("frontend", _otlp_span("000000000000000b", client_kind, "000000000000000a", 10, 300)),
        ("backend", _otlp_span("000000000000000b", server_kind, "000000000000000a", 20, 200)),
        ("backend", _otlp_span("000000000000000c", "internal", "000000000000000b", 30, 50)),
    ]
    _assert_every_split_gives(
        tmp_path, spans, _write_otlp, {("user", "frontend"): (1, 0), ("frontend", "backend"): (1, 0)}
    )


def test_split_internal_span_with_a_parent_in_another_service_is_a_call(tmp_path: Path) -> None:
    spans = [
        ("scheduler", _otlp_span("000000000000000a", "internal", duration_us=500)),
        ("worker", _otlp_span("000000000000000b", "internal", "000000000000000a", 20, 200)),
        ("worker", _otlp_span("000000000000000e", "internal", "000000000000000b", 25, 20)),  # same service: no call
        ("store", _otlp_span("000000000000000c", "server", "000000000000000b", 30, 100)),
    ]
    _assert_every_split_gives(
        tmp_path, spans, _write_otlp, {("scheduler", "worker"): (1, 0), ("worker", "store"): (1, 0)}
    )


def test_split_zipkin_spans_named_by_their_endpoint_address(tmp_path: Path) -> None:
    proxy = {"ipv4": "10.1.2.3", "port": 15001}
    spans = [
        _zipkin("000000000000000a", "frontend", "CLIENT", duration_us=500),
        {**_zipkin("000000000000000b", "-", "SERVER", "000000000000000a", 10, 400), "localEndpoint": proxy},
        {**_zipkin("000000000000000c", "-", "CLIENT", "000000000000000b", 20, 300), "localEndpoint": proxy},
        _zipkin("000000000000000d", "backend", "SERVER", "000000000000000c", 30, 200),
    ]
    _assert_every_split_gives(
        tmp_path,
        spans,
        _write_zipkin,
        {("frontend", "10.1.2.3:15001"): (1, 0), ("10.1.2.3:15001", "backend"): (1, 0)},
    )


# -- Zipkin's DependencyLinkerTest, in every split ---------------------------------------------------------------
# The same traces as zipkin2.internal.DependencyLinkerTest (written anew here, with timestamps: flowviz needs
# them), and the links it expects. flowviz also draws `user -> root service` for a root server span, where
# Zipkin skips a root whose client is unknown.


def _linker(parent, span_id, kind, local, remote=None, error=False, shared=False, start_us=0):
    span = _zipkin(span_id.rjust(16, "0"), local, kind, parent and parent.rjust(16, "0"), start_us, 1000 - start_us)
    if remote:
        span["remoteEndpoint"] = {"serviceName": remote}
    if error:
        span["tags"] = {"error": ""}
    if shared:
        span["shared"] = True
    return span


_LINKER_TRACE = [  # in reverse order, as Zipkin's test has it (reporting is most likely to happen this way)
    _linker("b", "c", "CLIENT", "app", "db", error=True, start_us=30),
    _linker("a", "b", "SERVER", "app", "web", shared=True, start_us=20),
    _linker("a", "b", "CLIENT", "web", "app", start_us=10),
    _linker(None, "a", "SERVER", "web"),
]

LINKER_CASES = {
    "linksSpans": (_LINKER_TRACE, {("web", "app"): (1, 0), ("app", "db"): (1, 1)}),
    "linksSpans_serverMissingParentId": (
        [
            _linker(None, "b", "SERVER", "link", "arn", shared=True, start_us=20),
            _linker("a", "b", "CLIENT", "arn", "link", start_us=10),
            _linker(None, "a", "SERVER", "arn"),
        ],
        {("arn", "link"): (1, 0)},
    ),
    "lateParentIdInSharedSpan": (
        [*_LINKER_TRACE[:2], _linker(None, "b", "CLIENT", "web", "app", start_us=10), _LINKER_TRACE[3]],
        {("web", "app"): (1, 0), ("app", "db"): (1, 1)},
    ),
    "lostChildAndNoParentIdInSharedSpan": (  # the shared server half is never reported
        [_LINKER_TRACE[0], _linker(None, "b", "CLIENT", "web", "app", start_us=10), _LINKER_TRACE[3]],
        {("web", "app"): (1, 0), ("app", "db"): (1, 1)},
    ),
    "producerLinksToServer_sameSpan": (
        [_linker(None, "a", "PRODUCER", "producer"), _linker(None, "a", "SERVER", "server", shared=True, start_us=5)],
        {("producer", "server"): (1, 0)},
    ),
    "singleHostSpansResultInASingleErrorCount_sameId": (
        [
            _linker(None, "a", "CLIENT", "client", error=True),
            _linker(None, "a", "SERVER", "server", error=True, shared=True, start_us=5),
        ],
        {("client", "server"): (1, 1)},
    ),
    "singleHostSpans_multipleChildren": (
        [
            _linker(None, "a", "CLIENT", "client"),
            _linker("a", "b", "SERVER", "server", "client", error=True, start_us=5),
            _linker("a", "c", "SERVER", "server", "client", start_us=6),
        ],
        {("client", "server"): (2, 1)},
    ),
    "noSpanKindTreatedSameAsClient": (
        [
            _linker(None, "a", None, "some-client", "web"),
            _linker("a", "b", None, "web", "app", start_us=5),
            _linker("b", "c", None, "app", "db", start_us=10),
        ],
        {("some-client", "web"): (1, 0), ("web", "app"): (1, 0), ("app", "db"): (1, 0)},
    ),
    "linksRelatedSpansWhenMissingRootSpan": (
        [_linker("a", "b", "SERVER", "service1"), _linker("b", "c", "SERVER", "service2", start_us=5)],
        {("service1", "service2"): (1, 0)},
    ),
    "doesntLinkUnrelatedSpansWhenMissingRootSpan": (
        [_linker("a", "b", "SERVER", "service1"), _linker("a", "c", "SERVER", "service2", start_us=5)],
        {},
    ),
}


@pytest.mark.parametrize("case", LINKER_CASES)
def test_zipkin_dependency_linker_cases_in_every_split(tmp_path: Path, case: str) -> None:
    spans, links = LINKER_CASES[case]
    roots = {
        ("user", span["localEndpoint"]["serviceName"]): (1, 0)
        for span in spans
        if span.get("kind") == "SERVER" and "parentId" not in span and not span.get("shared")
    }
    _assert_every_split_gives(tmp_path, spans, _write_zipkin, {**links, **roots})


# -- the OpenTelemetry Collector's servicegraph connector tests, in every split -----------------------------------


def _with_attributes(span: dict, **attributes: str) -> dict:
    return {**span, "attributes": [{"key": k, "value": {"stringValue": v}} for k, v in attributes.items()]}


SERVICEGRAPH_CASES = {
    # connector_test.go buildSampleTrace: service-a server -> service-a client -> service-b server (failed)
    "sample trace": (
        [
            ("service-a", _otlp_span("000000000000000a", "server", duration_us=500)),
            ("service-a", _otlp_span("000000000000000b", "client", "000000000000000a", 10, 300)),
            (
                "service-b",
                {**_otlp_span("000000000000000c", "server", "000000000000000b", 20, 200), "status": {"code": 2}},
            ),
        ],
        {("user", "service-a"): (1, 0), ("service-a", "service-b"): (1, 1)},
    ),
    # testdata/extra-dimensions-queue-db-trace.yaml: db.* on a server span is a dimension, not a database call
    "queue and db dimensions": (
        [
            ("foo-server", _with_attributes(_otlp_span("000000000000000a", "client"), **{"messaging.system": "kafka"})),
            (
                "bar-requester",
                _with_attributes(
                    _otlp_span("000000000000000b", "server", "000000000000000a"), **{"db.system": "postgresql"}
                ),
            ),
        ],
        {("foo-server", "bar-requester"): (1, 0)},
    ),
    # testdata/virtual-node-label-client-trace.yaml: a root server's client is the virtual `user`
    "virtual client": (
        [("bar-requester", _with_attributes(_otlp_span("000000000000000a", "server"), **{"peer.service.name": "x"}))],
        {("user", "bar-requester"): (1, 0)},
    ),
    # connector_test.go (extra dimensions): client and server of one service make a call to itself
    "same service": (
        [
            ("some-service", _otlp_span("000000000000000a", "client", duration_us=1000)),
            ("some-service", _otlp_span("000000000000000b", "server", "000000000000000a", 0, 2000)),
        ],
        {("some-service", "some-service"): (1, 0)},
    ),
}


@pytest.mark.parametrize("case", SERVICEGRAPH_CASES)
def test_servicegraph_connector_cases_in_every_split(tmp_path: Path, case: str) -> None:
    spans, expected = SERVICEGRAPH_CASES[case]
    _assert_every_split_gives(tmp_path, spans, _write_otlp, expected)


def test_jaeger_span_id_deduper_case_in_every_split(tmp_path: Path) -> None:
    # Jaeger's SpanIDDeduper: a server span reusing its client's id gets its own, parented on the client; the
    # dependency processors then link parent -> child across services (web -> app, app -> db)
    spans = [
        _jaeger_span("000000000000000a", "p1", "server", duration_us=900),
        _jaeger_span("000000000000000b", "p1", "client", "000000000000000a", 10, 500),
        _jaeger_span("000000000000000b", "p2", "server", "000000000000000a", 20, 400),
        _jaeger_span("000000000000000c", "p2", None, "000000000000000b", 30, 100),
        _jaeger_span("000000000000000d", "p3", None, "000000000000000c", 40, 50),
    ]
    _assert_every_split_gives(
        tmp_path,
        spans,
        _jaeger_writer({"p1": "web", "p2": "app", "p3": "db"}),
        {("user", "web"): (1, 0), ("web", "app"): (1, 0), ("app", "db"): (1, 0)},
    )


def test_split_otlp_server_half_before_its_client_half_whose_parent_never_came(tmp_path: Path) -> None:
    # no format mark in OTLP: a server half that comes first cannot know it shares its id; when its client half comes
    # while it still waits for its own (never reported) parent, the client half answers it
    spans = [
        ("backend", _otlp_span("000000000000000b", "server", "000000000000000a", 20, 200)),
        ("frontend", _otlp_span("000000000000000b", "client", "000000000000000a", 10, 300)),
    ]
    _assert_every_split_gives(tmp_path, spans, _write_otlp, {("frontend", "backend"): (1, 0)})
