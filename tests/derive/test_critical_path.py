"""Critical paths: hand-built traces, the seed example, skew, orphans, several roots, and every public capture."""

from __future__ import annotations

import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowviz.derive.critical_path import (
    CriticalPath,
    credit_peers,
    critical_path,
    exclusive_ns,
    parent_rows,
    trace_critical_path,
)
from flowviz.model.problems import Problems
from flowviz.model.span_batch import SpanBatch, SpanKind
from flowviz.sources.capture_file import CaptureReader

MS = 1_000_000
SEED_TRACE = {
    "traceId": "5eed",
    "startMs": 1_700_000_000_000,
    "spans": [
        {"service": "frontend", "durationMs": 15},
        {"service": "auth", "durationMs": 10},
        {"service": "payment", "durationMs": 50},
        {"service": "database", "durationMs": 30},
    ],
}


def write_seed_capture(path: Path) -> Path:
    """The issue's seed example in the simple form: a chain frontend -> auth -> payment -> database."""
    path.write_bytes(orjson.dumps(SEED_TRACE))
    return path


def read_batch(path: Path) -> SpanBatch:
    """Every span of a capture (what the decoders skip is their tests' business)."""
    return SpanBatch.concat(item for item in CaptureReader(path, problems=Problems()) if isinstance(item, SpanBatch))


def traces(batch: SpanBatch) -> list[SpanBatch]:
    keys = np.unique(np.stack([batch.trace_hi, batch.trace_lo], axis=1), axis=0)
    return [batch.take((batch.trace_hi == hi) & (batch.trace_lo == lo)) for hi, lo in keys]


def by_name(batch: SpanBatch, path: CriticalPath) -> dict[str, int]:
    return {batch.strings[service]: ns for service, ns in path.service_ns.items()}


def spans(*rows: tuple[int, int, int, int, int]) -> CriticalPath:
    """(span id, parent id, start ms, end ms, service) rows."""
    ids, parents, starts, ends, services = zip(*rows, strict=True)
    return critical_path(ids, parents, np.array(starts) * MS, np.array(ends) * MS, services)


def test_seed_example(tmp_path: Path) -> None:
    """Each span starts with its parent; payment outlives auth, so the path follows it: database 30 ms, payment 20."""
    batch = read_batch(write_seed_capture(tmp_path / "seed.json"))
    path = trace_critical_path(batch)
    assert by_name(batch, path) == {"payment": 20 * MS, "database": 30 * MS}
    assert path.duration_ns == 50 * MS
    assert path.critical.all()
    service = dict(zip(batch.string_column("service"), batch.service.tolist(), strict=True))
    assert path.share(service["database"]) == pytest.approx(0.6)
    assert path.share(service["payment"]) == pytest.approx(0.4)
    assert path.share(service["frontend"]) == path.share(service["auth"]) == 0.0


def test_sequential_children() -> None:
    path = spans((1, 0, 0, 100, 0), (2, 1, 10, 40, 1), (3, 1, 50, 90, 2))
    assert path.self_ns.tolist() == [30 * MS, 30 * MS, 40 * MS]
    assert path.service_ns == {0: 30 * MS, 1: 30 * MS, 2: 40 * MS}


def test_concurrent_children() -> None:
    """B ends last; before B started, A was running: A is critical until then, the parent before A."""
    path = spans((1, 0, 0, 100, 0), (2, 1, 10, 90, 1), (3, 1, 50, 95, 2))
    assert path.self_ns.tolist() == [15 * MS, 40 * MS, 45 * MS]


def test_child_ending_earlier_is_not_critical() -> None:
    path = spans((1, 0, 0, 100, 0), (2, 1, 10, 80, 1), (3, 1, 20, 30, 2), (4, 2, 15, 70, 1))
    assert path.critical.tolist() == [True, True, False, True]
    assert path.self_ns.tolist() == [30 * MS, 15 * MS, 0, 55 * MS]


def test_messages_are_clipped_to_their_producer() -> None:
    """A consumer running after its producer ended is nobody's wait: only its part within the producer counts."""
    consumer, producer, server = 5, 4, 2
    path = critical_path(
        [1, 2, 3, 4],
        [0, 1, 2, 3],
        np.array([0, 10, 15, 30]) * MS,
        np.array([40, 20, 90, 80]) * MS,
        [0, 0, 1, 1],
        [server, producer, consumer, 1],
    )
    assert path.duration_ns == 40 * MS
    assert path.service_ns == {0: 35 * MS, 1: 5 * MS}
    assert path.end_ns.tolist() == [40 * MS, 20 * MS, 20 * MS, 20 * MS]
    assert not path.critical[3]  # clipped to nothing


def test_orphans_and_several_roots_leave_gaps_unattributed() -> None:
    path = spans((1, 0, 0, 10, 0), (2, 99, 20, 30, 1), (3, 2, 22, 28, 2))
    assert path.root.tolist() == [True, True, False]
    assert path.service_ns == {0: 10 * MS, 1: 4 * MS, 2: 6 * MS}
    assert (path.duration_ns, path.unattributed_ns) == (30 * MS, 10 * MS)


def test_cycles_and_repeated_ids() -> None:
    cycle = spans((1, 2, 0, 10, 0), (2, 1, 2, 8, 1))
    assert cycle.service_ns == {0: 4 * MS, 1: 6 * MS}
    repeated = spans((1, 0, 0, 10, 0), (2, 1, 2, 8, 1), (2, 1, 0, 10, 2))
    assert repeated.service_ns == {0: 4 * MS, 1: 6 * MS}
    assert not repeated.critical[2]


def test_clock_skew_is_corrected(captures_dir: Path) -> None:
    """Zipkin's skew example: serviceb's server span starts 65 ms before servicea's client span; it is centred."""
    batch = read_batch(captures_dir / "zipkin-v2/zipkin-lens-skew.json")
    path = trace_critical_path(batch)
    root = int(np.flatnonzero(batch.parent_id == 0)[0])
    assert path.duration_ns == batch.end_ns[root] - batch.start_ns[root]
    totals = by_name(batch, path)
    assert totals["serviceb"] == pytest.approx(93.577 * MS, abs=2)
    assert totals["servicea"] == pytest.approx(5.834 * MS, abs=2)


def test_deathstarbench_known_trace(captures_dir: Path) -> None:
    """Kind-less Jaeger trace: the unique-id call runs inside the creator call, which ends later: not critical."""
    batch = read_batch(captures_dir / "jaeger-json/deathstarbench-socialnetwork-jaeger-ui-20traces.json")
    trace = batch.take(batch.trace_lo == 0x008CBDB62F772476)
    path = trace_critical_path(trace)
    names = trace.string_column("name")
    assert path.duration_ns == trace.end_ns.max() - trace.start_ns.min() == 5_054_000
    assert not path.critical[names.index("compose_unique_id_client")]
    assert path.critical[names.index("compose_creator_client")]
    root = int(np.flatnonzero(trace.parent_id == 0)[0])
    assert path.self_ns[root] == 318_000  # before its child starts
    assert max(by_name(trace, path), key=by_name(trace, path).get) == "compose-post-service"


def _reference(parents: list[int], starts: list[int], ends: list[int]) -> list[int]:
    """Self-time by plain recursion (quadratic), on skew-corrected times."""
    count = len(parents)
    children = [[c for c in range(count) if parents[c] == p] for p in range(count)]

    def hull(span: int) -> tuple[int, int]:
        low, high = starts[span], ends[span]
        for child in children[span]:
            child_low, child_high = hull(child)
            low, high = min(low, child_low), max(high, child_high)
        return low, high

    bounds = [hull(s) for s in range(count)]
    own = [0] * count

    def walk(span: int, limit: int, lower: int, pool: list[int]) -> int:
        left = set(pool)
        unattributed = 0
        moment = limit
        while moment > lower:
            running = [c for c in left if bounds[c][0] < moment <= bounds[c][1]]
            if running:
                child = min(running, key=lambda c: (bounds[c][0], -bounds[c][1], c))
                left.discard(child)
                own[child] += walk(child, moment, bounds[child][0], children[child])
                moment = bounds[child][0]
                continue
            earlier = [bounds[c][1] for c in left if bounds[c][1] < moment]
            following = max([*earlier, lower])
            unattributed += moment - following
            moment = following
        return unattributed

    roots = [s for s in range(count) if parents[s] < 0]
    walk(-1, max(bounds[r][1] for r in roots), min(bounds[r][0] for r in roots), roots)
    return own


def _check(span_id, parent_id, start_ns, end_ns, service, kind=None) -> CriticalPath:
    path = critical_path(span_id, parent_id, start_ns, end_ns, service, kind)
    assert sum(path.service_ns.values()) + path.unattributed_ns == path.duration_ns
    assert (path.self_ns >= 0).all()
    assert path.self_ns[~path.critical].sum() == 0
    index = {int(s): i for i, s in enumerate(np.asarray(span_id).tolist())}
    parents = [index.get(int(p), -1) if not path.root[i] else -1 for i, p in enumerate(np.asarray(parent_id).tolist())]
    for row in np.flatnonzero(path.critical).tolist():  # the critical spans hang together
        assert parents[row] < 0 or path.critical[parents[row]]
    if np.unique(np.asarray(span_id)).size == len(parents):  # the reference knows no repeated ids
        assert path.self_ns.tolist() == _reference(parents, path.start_ns.tolist(), path.end_ns.tolist())
    return path


CAPTURES = [
    "jaeger-json/deathstarbench-socialnetwork-jaeger-ui-20traces.json",
    "jaeger-json/jaeger-ui-genai-agent-trace.json",
    "otlp-json/jaeger-integration-example-trace.json",
    "otlp-protojson/kiali-istio-bookinfo-tempo-trace.json",
    "zipkin-v2/zipkin-lens-messaging-kafka.json",
    "zipkin-v2/zipkin-lens-skew.json",
    "zipkin-v2/zipkin-lens-smartthings-oauth-authorization.json",
    "zipkin-v2/zipkin-lens-smartthings-mobile-web-install.json",
    "zipkin-v2/zipkin-lens-yelp.json",
]


@pytest.mark.parametrize("name", CAPTURES)
def test_public_captures_match_the_reference(captures_dir: Path, name: str) -> None:
    for trace in traces(read_batch(captures_dir / name)):
        path = _check(trace.span_id, trace.parent_id, trace.start_ns, trace.end_ns, trace.service, trace.kind)
        assert path.critical.any()


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 12), st.integers(0, 100), st.integers(0, 60), st.integers(0, 2), st.integers(0, 5)),
        min_size=1,
        max_size=14,
    )
)
def test_random_trees_match_the_reference(rows: list[tuple[int, int, int, int, int]]) -> None:
    """Random parents (including missing ones and cycles), overlapping and skewed times, any kinds."""
    parent_id, start, duration, service, kind = (list(column) for column in zip(*rows, strict=True))
    start_ns = np.array(start, np.int64)
    _check(np.arange(1, len(rows) + 1), parent_id, start_ns, start_ns + np.array(duration), service, kind)


def test_waiting_on_an_uninstrumented_peer_is_the_peers_time() -> None:
    """frontend SERVER [0, 100) -> CLIENT [10, 90) -> payment SERVER [12, 88) -> CLIENT to the database [20, 80)
    (no span of the database's own): the database gets 60 ms of the path, payment 16, frontend 24."""
    strings = ("", "frontend", "payment", "payments-db", "unknown")
    trace = SimpleNamespace(
        span_id=np.array([1, 2, 3, 4], np.uint64),
        parent_id=np.array([0, 1, 2, 3], np.uint64),
        start_ns=np.array([0, 10, 12, 20]) * MS,
        end_ns=np.array([100, 90, 88, 80]) * MS,
        service=np.array([1, 1, 2, 2]),
        kind=np.array([SpanKind.SERVER, SpanKind.CLIENT, SpanKind.SERVER, SpanKind.CLIENT], np.int8),
        peer=np.array([0, 2, 0, 3]),
        strings=strings,
    )
    path = trace_critical_path(trace)
    named = {strings[s]: ns for s, ns in path.service_ns.items()}
    assert named == {"frontend": 24 * MS, "payment": 16 * MS, "payments-db": 60 * MS}
    parents = parent_rows(trace.span_id, trace.parent_id)
    credited = credit_peers(parents, trace.service, trace.kind, trace.peer, unknown=4)
    assert credited.tolist() == [1, 1, 2, 3]  # the client span to payment is answered by payment's server span
    # own time: frontend 10 + 10 (server) + 2 + 2 (client around payment's server span), payment 8 + 8, database 60
    assert exclusive_ns(parents, trace.start_ns, trace.end_ns).tolist() == [20 * MS, 4 * MS, 16 * MS, 60 * MS]
    # a client span naming no peer is the "unknown" node's time
    trace.peer = np.array([0, 2, 0, 0])
    assert {strings[s] for s in trace_critical_path(trace).service_ns} == {"frontend", "payment", "unknown"}


def test_exclusive_time_of_spans_too_long_to_lift_is_computed_without_overflow() -> None:
    # a duration of 2**62 ns (a corrupt end time) and three parents: lifting each parent's children above the
    # previous ones needs 2 * (2**62 + 1) > int64, so each parent's children are summed instead — no overflow
    # warning, no wrapped result
    huge = 1 << 62
    parents = np.array([-1, 0, 0, -1, 3, -1, 5])
    start_ns = np.array([0, 10, 1000, 0, 5, 0, 1])
    end_ns = np.array([huge, 20, 1030, 100, 50, 10, 4])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        own = exclusive_ns(parents, start_ns, end_ns)
    assert own.tolist() == [huge - 40, 10, 30, 55, 45, 7, 3]
