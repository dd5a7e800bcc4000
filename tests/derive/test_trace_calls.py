"""One rule for which calls a trace makes: the deriver's. The trace view's path and the exemplar store's edges
take it from `derive/trace_calls.py`, and agree with the streaming deriver on every real capture."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from flowviz.chart.waterfall import waterfall
from flowviz.decoders.builder import SpanBatchBuilder
from flowviz.derive.deriver import EdgeDeriver
from flowviz.derive.trace_calls import call_pairs, trace_calls
from flowviz.model.observations import EdgeObservations
from flowviz.model.problems import Problems
from flowviz.model.span_batch import SpanBatch, SpanKind
from flowviz.sources.capture_file import CaptureReader
from flowviz.store.exemplars import ExemplarStore

WHOLE = (-(1 << 62), 1 << 62)
VENDORED = Path(__file__).parents[1] / "data" / "captures"
CAPTURES = sorted(  # the span captures (as `captures_dir` lays them out: .gz ones expanded)
    str(p.relative_to(VENDORED)).removesuffix(".gz")
    for folder in ("jaeger-json", "otlp-json", "otlp-protojson", "zipkin-v2")
    for p in (VENDORED / folder).glob("*.json*")
)


def _span_batch(path: Path) -> tuple[list[SpanBatch], SpanBatch]:
    batches = [b for b in CaptureReader(path, problems=Problems()) if isinstance(b, SpanBatch) and len(b)]
    if not batches:
        pytest.skip(f"{path.name}: no spans")
    return batches, SpanBatch.concat(batches)


@pytest.mark.parametrize("name", CAPTURES)
def test_the_trace_view_and_the_exemplars_use_the_derivers_calls(captures_dir: Path, name: str) -> None:
    batches, batch = _span_batch(captures_dir / name)
    deriver = EdgeDeriver()
    streamed = call_pairs(EdgeObservations.concat([deriver.process(b) for b in batches] + [deriver.flush()]))
    store = ExemplarStore()
    store.ingest(batch)
    store.flush()
    per_trace: dict[tuple[int, int], frozenset[tuple[str, str]]] = {}
    kept_calls: set[tuple[str, str]] = set()
    for hi, lo in sorted(set(zip(batch.trace_hi.tolist(), batch.trace_lo.tolist(), strict=True))):
        rows = np.flatnonzero((batch.trace_hi == hi) & (batch.trace_lo == lo))
        per_trace[hi, lo] = call_pairs(trace_calls(batch.take(rows)))
        kept = store.trace((hi, lo))
        if kept is not None:  # (the store keeps a selection)
            assert waterfall(kept).path_on_chart()[1] == per_trace[hi, lo]  # the chart path: the deriver's calls
            kept_calls |= per_trace[hi, lo]
    assert frozenset().union(*per_trace.values()) == streamed  # trace by trace as the stream derives them
    for call in kept_calls:  # the exemplar store files each trace under exactly the calls the deriver gives it
        filed = store.exemplars(call, *WHOLE, kind="recent", limit=10_000)
        assert filed, call
        assert all(call in per_trace[e.trace_hi, e.trace_lo] for e in filed)


def test_an_internal_span_whose_parent_is_in_another_service_is_a_call_for_the_exemplars_too() -> None:
    """What an SDK writes when the kind was never set: the deriver counts it as a call (as Jaeger does)."""
    problems = Problems()
    builder = SpanBatchBuilder(problems)
    ms = 1_000_000
    builder.add(
        trace_id="ab",
        span_id="1",
        parent_id="",
        service="frontend",
        name="GET /",
        kind=SpanKind.SERVER,
        start_ns=0,
        end_ns=100 * ms,
    )
    builder.add(
        trace_id="ab",
        span_id="2",
        parent_id="1",
        service="backend",
        name="work",
        kind=SpanKind.INTERNAL,
        start_ns=10 * ms,
        end_ns=60 * ms,
    )
    batch = builder.build()
    assert ("frontend", "backend") in call_pairs(trace_calls(batch))
    store = ExemplarStore()
    store.ingest(batch)
    store.flush()
    [exemplar] = store.exemplars(("frontend", "backend"), *WHOLE, kind="recent")
    assert exemplar.latency_ns == 50 * ms
