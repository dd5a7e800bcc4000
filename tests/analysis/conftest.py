"""Simulated platforms through flowviz's own decoder, deriver and store, for the analysis tests."""

from __future__ import annotations

from flowviz.decoders.builder import SpanBatchBuilder
from flowviz.decoders.otlp_proto import decode_otlp_proto
from flowviz.model.problems import Problems
from flowviz.sim.simulator import Simulator
from flowviz.sources.pipeline import IngestPipeline
from flowviz.store.rolling_store import RollingStore

SECOND_NS = 1_000_000_000


def simulated_store(simulator: Simulator, seconds: int, *, slice_s: int = 10) -> RollingStore:
    """`seconds` of the simulator decoded, derived and stored, `slice_s` at a time (as the live feed does)."""
    problems = Problems()
    store = RollingStore(problems=problems)
    pipeline = IngestPipeline(store, problems=problems)
    builder = SpanBatchBuilder(problems)
    until_ns = simulator.start_ns
    for _ in range(seconds // slice_s):
        until_ns += slice_s * SECOND_NS
        messages = simulator.generate(until_ns)
        decode_otlp_proto(messages, builder, problems, [f"message {i}" for i in range(len(messages))])
        pipeline.feed(builder.build())
    pipeline.finish()
    return store
