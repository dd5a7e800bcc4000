"""Exemplar traces: what is kept per service, edge and minute, batch-split independence, latency ranges, memory."""

from __future__ import annotations

import random

import numpy as np
import pytest

from flowviz.decoders.builder import SpanBatchBuilder
from flowviz.decoders.otlp_proto import decode_otlp_proto
from flowviz.model.problems import Problems
from flowviz.model.span_batch import SpanBatch, SpanKind, StatusCode
from flowviz.sim.simulator import Simulator
from flowviz.store.exemplars import LATE_SPANS, ExemplarStore
from flowviz.store.latency_bins import bin_of

S = 1_000_000_000
MS = 1_000_000
T0 = 1_700_000_040 * S  # a whole minute


def call_spans(trace: int, start_ns: int, latency_ns: int, *, error: bool = False, trace_hi: int = 0) -> list[dict]:
    """front SERVER (root) -> front CLIENT -> api SERVER taking `latency_ns`, api failing when `error`."""
    trace_id = f"{trace_hi:016x}{trace:016x}" if trace_hi else f"{trace:016x}"
    common = {"trace_id": trace_id}
    return [
        {**common, "span_id": 1, "parent_id": 0, "service": "front", "name": "GET /", "kind": SpanKind.SERVER,
         "start_ns": start_ns, "end_ns": start_ns + latency_ns + 2 * MS},
        {**common, "span_id": 2, "parent_id": 1, "service": "front", "name": "call api", "kind": SpanKind.CLIENT,
         "start_ns": start_ns + MS // 2, "end_ns": start_ns + latency_ns + 3 * MS // 2},
        {**common, "span_id": 3, "parent_id": 2, "service": "api", "name": "POST /items", "kind": SpanKind.SERVER,
         "start_ns": start_ns + MS, "end_ns": start_ns + MS + latency_ns,
         "status": StatusCode.ERROR if error else StatusCode.UNSET},
    ]  # fmt: skip


def batch_of(spans: list[dict]) -> SpanBatch:
    builder = SpanBatchBuilder(Problems())
    for span in spans:
        builder.add(**span)
    return builder.build()


def ids(exemplars) -> list[int]:
    return [e.trace_lo for e in exemplars]


def minute_of_traces(count: int, seed: int = 0, failing: frozenset[int] = frozenset()) -> dict[int, tuple[int, int]]:
    """trace -> (start, api latency) for `count` traces in the minute from T0, distinct latencies and times."""
    rng = random.Random(seed)
    latencies = rng.sample(range(1, 10 * count), count)
    times = sorted(rng.sample(range(0, 55_000), count))
    return {t + 1: (T0 + times[t] * MS, latencies[t] * MS) for t in range(count)}


def test_keeps_slowest_failing_and_recent_per_service_and_edge() -> None:
    traces = minute_of_traces(30)
    failing = {3, 7, 15, 22}
    store = ExemplarStore(per_kind=3)
    store.ingest(batch_of([s for t, (at, ns) in traces.items() for s in call_spans(t, at, ns, error=t in failing)]))
    store.flush()
    window = (T0, T0 + 60 * S)
    by_latency = sorted(traces, key=lambda t: -traces[t][1])
    by_time = sorted(traces, key=lambda t: -traces[t][0])
    assert ids(store.exemplars("api", *window, kind="slowest", limit=3)) == by_latency[:3]
    assert ids(store.exemplars("api", *window, kind="failing", limit=3)) == [t for t in by_time if t in failing][:3]
    assert ids(store.exemplars("api", *window, kind="recent", limit=3)) == by_time[:3]
    assert ids(store.exemplars(("front", "api"), *window, kind="slowest", limit=3)) == by_latency[:3]
    assert ids(store.exemplars(("user", "front"), *window, kind="recent", limit=3)) == by_time[:3]
    slowest = store.exemplars("api", *window, kind="slowest", limit=1)[0]
    assert slowest.latency_ns == traces[by_latency[0]][1]
    assert "slowest" in slowest.reasons
    assert slowest.trace_id == f"{by_latency[0]:016x}"
    # a trace that is none of these (nor its band's latest) is not kept
    kept = {e.trace_lo for e in store.exemplars("api", *window, kind="recent", limit=100)}
    assert len(kept) < len(traces)
    for trace in traces:
        assert (store.trace(f"{trace:016x}") is not None) == (trace in kept)
    assert store.exemplars("api", T0 + 60 * S, T0 + 120 * S) == []
    assert store.exemplars("nobody", *window) == []
    with pytest.raises(ValueError, match="kind"):
        store.exemplars("api", *window, kind="fastest")


def _stream(traces: dict[int, tuple[int, int]]) -> list[dict]:
    spans = [s for t, (at, ns) in traces.items() for s in call_spans(t, at, ns, error=t % 5 == 0)]
    return sorted(spans, key=lambda s: s["end_ns"])  # as exporters send them: when they end


def _summary(store: ExemplarStore) -> list:
    out = []
    for minute in range(4):
        window = (T0 + minute * 60 * S, T0 + (minute + 1) * 60 * S)
        for kind in ("slowest", "failing", "recent"):
            for key in ("api", "front", ("front", "api")):
                out.append(ids(store.exemplars(key, *window, kind=kind, limit=50)))
    return out


def test_selection_does_not_depend_on_the_batch_split() -> None:
    rng = random.Random(4)
    traces = {t: (T0 + rng.randrange(0, 240_000) * MS, rng.randrange(1, 3_000) * MS) for t in range(1, 400)}
    spans = _stream(traces)
    whole = ExemplarStore(per_kind=4, quiet_ns=5 * S)
    whole.ingest(batch_of(spans))
    whole.flush()
    pieces = ExemplarStore(per_kind=4, quiet_ns=5 * S)
    position = 0
    while position < len(spans):
        size = rng.randrange(1, 60)
        chunk = spans[position : position + size]
        rng.shuffle(chunk)
        pieces.ingest(batch_of(chunk))
        position += size
    pieces.flush()
    assert pieces.dropped == whole.dropped == {}
    assert _summary(pieces) == _summary(whole)
    assert pieces.kept_traces == whole.kept_traces


def test_a_histogram_range_lists_exactly_the_traces_in_it() -> None:
    rng = random.Random(7)
    traces = {t: (T0 + t * 300 * MS, int(rng.lognormvariate(np.log(20e6), 0.8))) for t in range(1, 120)}
    store = ExemplarStore(per_kind=1_000)  # keeps every trace: the listing must be complete
    store.ingest(batch_of([s for t, (at, ns) in traces.items() for s in call_spans(t, at, ns)]))
    store.flush()
    window = (T0, T0 + 60 * S)
    in_window = {t: ns for t, (at, ns) in traces.items() if at + MS < window[1]}
    histogram = store.latency_histogram("api", *window)
    assert histogram.sum() == len(in_window)
    occupied = np.flatnonzero(histogram)
    for first, last in [(occupied[0], occupied[-1]), (occupied[2], occupied[5]), (occupied[4], occupied[4])]:
        listed = store.traces_in_latency_bins("api", *window, first, last)
        expected = {t for t, ns in in_window.items() if first <= bin_of(np.array([ns]))[0] <= last}
        assert set(ids(listed)) == expected
        assert len(listed) == histogram[first : last + 1].sum()
        assert [e.latency_ns for e in listed] == sorted(e.latency_ns for e in listed)
    low, high = 15.0, 30.0
    listed = store.traces_in_latency_range("api", *window, low, high)
    assert set(ids(listed)) == {t for t, ns in in_window.items() if low * MS <= ns < high * MS}


def test_every_latency_band_keeps_an_example() -> None:
    traces = {t: (T0 + t * 100 * MS, int(1.3**t * MS)) for t in range(1, 40)}
    store = ExemplarStore(per_kind=1)
    store.ingest(batch_of([s for t, (at, ns) in traces.items() for s in call_spans(t, at, ns)]))
    store.flush()
    window = (T0, T0 + 60 * S)
    histogram = store.latency_histogram("api", *window)
    for first in np.flatnonzero(histogram)[::8]:
        assert store.traces_in_latency_bins("api", *window, first - first % 8, first - first % 8 + 7)


def test_trace_returns_the_spans_of_a_kept_trace() -> None:
    store = ExemplarStore()
    store.ingest(batch_of(call_spans(0xAB, T0, 5 * MS) + call_spans(0xCD, T0 + S, 7 * MS, trace_hi=0x12)))
    store.flush()
    spans = store.trace("00000000000000ab")
    assert spans is not None
    assert spans.trace_id == "00000000000000ab"
    assert spans.string_column("service") == ["front", "front", "api"]
    assert spans.string_column("name") == ["GET /", "call api", "POST /items"]
    assert spans.start_ns.tolist() == sorted(spans.start_ns.tolist())
    wide = store.trace((0x12, 0xCD))
    assert wide is not None
    assert wide.trace_id == f"{0x12:016x}{0xCD:016x}"
    assert [e.trace_id for e in store.exemplars("api", T0, T0 + 60 * S, kind="recent")] == [
        wide.trace_id,
        "ab".zfill(16),
    ]
    assert store.trace("ef") is None
    assert store.trace("not hex") is None


def test_late_spans_join_a_kept_trace_or_are_dropped() -> None:
    store = ExemplarStore(per_kind=1, quiet_ns=5 * S)
    first = call_spans(1, T0, 50 * MS)
    store.ingest(batch_of(first[1:]))  # the root comes late
    store.ingest(batch_of(call_spans(2, T0 + 20 * S, 5 * MS)))  # closes trace 1 (quiet for 20 s)
    assert store.trace("0000000000000001") is not None
    store.ingest(batch_of(first[:1]))
    store.ingest(batch_of(call_spans(9, T0 + 40 * S, 5 * MS)))  # the late root has been quiet for long enough
    spans = store.trace("0000000000000001")
    assert spans is not None
    assert len(spans) == 3
    # trace 3 is neither the slowest, nor the latest, nor alone in its band: not kept, its late span is dropped
    late = []
    for offset, (trace, ns) in enumerate({3: 40 * MS, 4: 41 * MS, 5: 42 * MS, 6: 900 * MS, 7: 900 * MS}.items()):
        spans = call_spans(trace, T0 + 30 * S + offset * S, ns)
        late += spans[:1] if trace == 3 else []
        store.ingest(batch_of(spans[1:] if trace == 3 else spans))
    store.ingest(batch_of(call_spans(8, T0 + 45 * S, 5 * MS)))
    assert store.trace("0000000000000003") is None
    store.ingest(batch_of(late))
    store.flush()
    assert store.dropped == {LATE_SPANS: 1}


def test_operations_count_every_entry_span() -> None:
    store = ExemplarStore(per_kind=1)
    spans = []
    for trace in range(1, 41):
        spans += call_spans(trace, T0 + trace * S, trace * MS, error=trace % 4 == 0)
    at = T0 + 45 * S  # after the other traces: not closed by their ingest
    kindless = [  # a Jaeger-like trace: no kinds; only spans entering a service are operations
        {"trace_id": "77", "span_id": 1, "parent_id": 0, "service": "web", "name": "/home",
         "start_ns": at, "end_ns": at + 9 * MS},
        {"trace_id": "77", "span_id": 2, "parent_id": 1, "service": "web", "name": "render",
         "start_ns": at + MS, "end_ns": at + 3 * MS},
        {"trace_id": "77", "span_id": 3, "parent_id": 2, "service": "db", "name": "query",
         "start_ns": at + 2 * MS, "end_ns": at + 3 * MS},
    ]  # fmt: skip
    store.ingest(batch_of(spans + kindless))
    window = (T0, T0 + 60 * S)
    operations = store.operations("api", *window)
    assert [(o.name, o.requests, o.errors) for o in operations] == [("POST /items", 40, 10)]
    assert operations[0].p50_ms == pytest.approx(20, rel=0.05)
    assert store.operations("web", *window) == []  # kind-less spans count once their trace closes
    store.flush()
    assert [(o.name, o.requests) for o in store.operations("web", *window)] == [("/home", 1)]
    assert [(o.name, o.requests) for o in store.operations("db", *window)] == [("query", 1)]
    assert store.operations("api", T0, T0 + 10 * S)[0].requests == 9  # 1 s buckets, counted where calls start
    assert store.latency_histogram("front", *window).sum() == 40


def _simulated_batches(seconds: int, rate_per_s: float, step_s: int = 2):
    simulator = Simulator(seed=11, rate_per_s=rate_per_s)
    problems = Problems()
    builder = SpanBatchBuilder(problems)
    for step in range(1, seconds // step_s + 1):
        messages = simulator.generate(simulator.start_ns + step * step_s * S)
        decode_otlp_proto(messages, builder, problems, [""] * len(messages))
        yield simulator.start_ns, builder.build()


def test_memory_stays_bounded_on_a_long_simulator_run() -> None:
    """12 simulated minutes with 5 s buckets (20 s, 1 min, 5 min coarser) and budgets a few minutes fill."""
    trace_budget, operation_budget, pending = 4 << 20, 256 << 10, 20_000
    store = ExemplarStore(
        trace_budget_bytes=trace_budget,
        operation_budget_bytes=operation_budget,
        max_pending_spans=pending,
        bucket_widths_ns=(5 * S, 20 * S, 60 * S, 300 * S),
        quiet_ns=10 * S,
    )
    bound = trace_budget + operation_budget + pending * 100 + (1 << 20)  # + pending columns, string and id tables
    highest = 0
    start_ns = 0
    for simulation_start_ns, batch in _simulated_batches(12 * 60, 200.0):
        store.ingest(batch)
        start_ns = simulation_start_ns
        highest = max(highest, store.memory_bytes())
    assert highest <= bound
    end_ns = start_ns + 12 * 60 * S
    # the newest minutes are there per 5 s, the ones before coarsened (not forgotten), the oldest dropped
    assert store.exemplars("api-gateway", end_ns - 60 * S, end_ns - 50 * S, kind="recent")
    assert store.exemplars("api-gateway", end_ns - 6 * 60 * S, end_ns - 4 * 60 * S, kind="slowest")
    assert not store.exemplars("api-gateway", start_ns, start_ns + 60 * S, kind="recent")
    assert store.operations("api-gateway", end_ns - 60 * S, end_ns)


def test_uninstrumented_peers_are_nodes_with_traces_and_time_where_it_is_spent() -> None:
    """The simulator's databases, caches and third-party APIs have no spans of their own: they still get kept traces,
    operations (their callers' client spans), critical-path time, and their callers' waiting time is theirs."""
    store = ExemplarStore()
    start_ns = 0
    for simulation_start_ns, batch in _simulated_batches(60, 200.0):
        store.ingest(batch)
        start_ns = simulation_start_ns
    store.flush()
    end_ns = start_ns + 60 * S
    assert "payments-db" in store.services()
    kept = store.exemplars("payments-db", start_ns, end_ns, kind="slowest")
    assert kept
    assert all(store.trace(e.trace_id) is not None for e in kept)
    assert store.operations("payments-db", start_ns, end_ns)
    share = store.critical_path_share("payments-db", start_ns, end_ns)
    assert share is not None
    assert share > 0
    payments = store.time_split("payments", start_ns, end_ns)
    database = store.time_split("payments-db", start_ns, end_ns)
    assert payments.waiting_ns > 0  # it waits on its database (and others)
    assert database.self_ns == database.busy_ns  # a peer's calls are all its own time
    assert 0 < payments.self_share < 1
    splits = store.operation_time_splits("payments", start_ns, end_ns)
    assert sum(s.busy_ns for s in splits) == payments.busy_ns
