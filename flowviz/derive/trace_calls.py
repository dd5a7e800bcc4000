"""Which calls whole traces make, by the deriver's own rule: a fresh `EdgeDeriver` over their spans, flushed."""

from __future__ import annotations

from flowviz.derive.deriver import EdgeDeriver
from flowviz.model.observations import EdgeObservations
from flowviz.model.problems import Problems
from flowviz.model.span_batch import SpanBatch


def trace_calls(batch: SpanBatch) -> EdgeObservations:
    """Every call the complete traces in `batch` make, as the live deriver derives them (pairs, roots called by
    `user` or their topic, uninstrumented peers, spans without a kind or INTERNAL whose parent is elsewhere).
    Halves left unpaired are the traces' own business, not the stream's problems: they are not counted."""
    deriver = EdgeDeriver(problems=Problems())
    return EdgeObservations.concat([deriver.process(batch), deriver.flush()])


def call_pairs(calls: EdgeObservations) -> frozenset[tuple[str, str]]:
    """The (caller, callee) names of `calls`."""
    names = calls.names
    return frozenset((names[s], names[t]) for s, t in zip(calls.source.tolist(), calls.target.tolist(), strict=True))
