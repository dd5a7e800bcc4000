"""The exemplar store's answers on fixed inputs, pinned: the vendored captures and a simulated run on a small budget.

A guard for restructuring: every public answer (kept traces per kind, latency ranges and bins, spans of each
kept trace, time splits, operations, histograms, drops, memory) is folded into one digest per input. When a
change of behaviour is *meant* (a new selection rule, a decoder that now reads a capture differently), print
the new digests with `FLOWVIZ_PRINT_PINS=1 pytest -s tests/store/test_exemplars_pinned.py` and update `PINNED`
in the same commit, saying why.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

from flowviz.decoders.builder import SpanBatchBuilder
from flowviz.decoders.otlp_proto import decode_otlp_proto
from flowviz.model.problems import Problems
from flowviz.model.span_batch import SpanBatch
from flowviz.sim.simulator import Simulator
from flowviz.sources.capture_file import CaptureReader
from flowviz.store.exemplars import KINDS, ExemplarStore
from flowviz.store.latency_bins import BIN_COUNT

S = 1_000_000_000
CAPTURES = Path(__file__).parents[1] / "data" / "captures"
EVERYTHING = (-(1 << 62), 1 << 62)

PINNED = {
    "captures": ("32da912eb9dc65fd", 28),
    "captures-small-budget": ("72f41a720f3b66a5", 23),
    "simulator-small-budget": ("924ce3c8f1401b08", 385),
}


def _capture_batches() -> list[SpanBatch]:
    batches = []
    for path in sorted(p for p in CAPTURES.rglob("*") if p.is_file() and p.suffix in (".json", ".gz")):
        if "jaeger-dependencies" in path.parts:
            continue
        batches += [b for b in CaptureReader(path, problems=Problems()) if isinstance(b, SpanBatch)]
    return batches


def _simulated_batches(seconds: int, step_s: int = 2) -> list[SpanBatch]:
    """Simulated spans every `step_s`; every 7th span held back 5 steps (late: after its trace closed)."""
    simulator = Simulator(seed=5, rate_per_s=150.0)
    builder = SpanBatchBuilder(Problems())
    batches: list[SpanBatch] = []
    held: list[SpanBatch] = []
    for step in range(1, seconds // step_s + 1):
        messages = simulator.generate(simulator.start_ns + step * step_s * S)
        decode_otlp_proto(messages, builder, Problems(), [""] * len(messages))
        batch = builder.build()
        late = np.arange(len(batch)) % 7 == 3
        held.append(batch.take(np.flatnonzero(late)))
        batches.append(batch.take(np.flatnonzero(~late)))
        if len(held) > 5:
            batches.append(held.pop(0))
    return batches + held


def _answers(store: ExemplarStore, windows: list[tuple[int, int]]) -> tuple[str, int]:
    """Every public answer of the store as text (digested) and the number of kept traces."""
    out: list[str] = [repr(sorted(store.dropped.items())), repr(store.memory_bytes()), repr(store.pending_spans)]
    services = store.services()
    out.append(repr(services))
    keys: list[str | tuple[str, str]] = list(services)
    keys += [(a, b) for a in [*services, "user"] for b in [*services, "unknown"] if a != b]
    seen: set[str] = set()
    for window in windows:
        for key in keys:
            for kind in KINDS:
                listed = store.exemplars(key, *window, kind=kind, limit=10_000)
                seen.update(e.trace_id for e in listed)
                out.append(repr((key, window, kind, listed)))
            out.append(repr(store.traces_in_latency_range(key, *window, 1.0, 50.0)))
            out.append(repr(store.traces_in_latency_bins(key, *window, 10, BIN_COUNT // 2)))
            if isinstance(key, str):
                out.append(repr(store.critical_path_share(key, *window)))
                out.append(repr(store.time_split(key, *window)))
                out.append(repr(store.operation_time_splits(key, *window)))
                out.append(repr(store.operations(key, *window)))
                out.append(repr(store.latency_histogram(key, *window).tolist()))
    for trace_id in sorted(seen):
        spans = store.trace(trace_id)
        columns = ("span_id", "parent_id", "start_ns", "end_ns", "kind", "status", "http_status", "peer_kind")
        out.append(repr((trace_id, spans.truncated, [getattr(spans, c).tolist() for c in columns])))
        texts = ("service", "name", "peer", "destination")
        out.append(repr([spans.string_column(c) for c in texts]))
    return hashlib.sha256("\n".join(out).encode()).hexdigest()[:16], store.kept_traces


def _check(name: str, store: ExemplarStore, windows: list[tuple[int, int]]) -> None:
    digest, kept = _answers(store, windows)
    if os.environ.get("FLOWVIZ_PRINT_PINS"):
        print(f'    "{name}": ("{digest}", {kept}),')
    assert kept > 0
    assert (digest, kept) == PINNED[name]


@pytest.fixture(scope="module")
def capture_batches() -> list[SpanBatch]:
    return _capture_batches()


def test_captures_give_the_pinned_answers(capture_batches) -> None:
    store = ExemplarStore(per_kind=2)
    for batch in capture_batches:
        store.ingest(batch)
    store.flush()
    _check("captures", store, [EVERYTHING])


def test_captures_on_a_small_budget_give_the_pinned_answers(capture_batches) -> None:
    """A budget of a few traces: the oldest buckets are coarsened and dropped, the columns compacted."""
    store = ExemplarStore(per_kind=1, trace_budget_bytes=96 << 10, bucket_widths_ns=(S, 10 * S, 60 * S, 600 * S))
    for batch in capture_batches:
        store.ingest(batch)
    store.flush()
    _check("captures-small-budget", store, [EVERYTHING])


def test_a_simulated_run_on_a_small_budget_gives_the_pinned_answers() -> None:
    """Four simulated minutes, 5 s buckets, late spans, coarsening and drops under the budget, truncated traces
    and keys beyond `max_keys`."""
    batches = _simulated_batches(4 * 60)
    store = ExemplarStore(
        per_kind=2,
        trace_budget_bytes=1 << 20,
        max_pending_spans=4_000,
        bucket_widths_ns=(5 * S, 20 * S, 60 * S, 300 * S),
        quiet_ns=3 * S,
        max_spans_per_trace=12,
        max_keys=80,
    )
    for batch in batches:
        store.ingest(batch)
    store.flush()
    start_ns = int(min(int(b.start_ns.min()) for b in batches if len(b)))
    windows = [EVERYTHING] + [(start_ns + m * 60 * S, start_ns + (m + 1) * 60 * S) for m in range(0, 5, 2)]
    _check("simulator-small-budget", store, windows)
