"""The built-in simulator as a `Source`: its history in 10 s slices, then a tick at a time, paced by the clock."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from flowviz.decoders.builder import SpanBatchBuilder
from flowviz.decoders.otlp_proto import decode_otlp_proto
from flowviz.model.problems import Problems
from flowviz.sim.simulator import Simulator
from flowviz.sources.raw_inputs import RawRing
from flowviz.sources.source import SourceItem
from flowviz.store.drill_down import DrillDownStore

SECOND_NS = 1_000_000_000
TICK_S = 0.1  # how often the simulator emits (simulated spans since the last tick)
HISTORY_SLICE_NS = 10 * SECOND_NS


@dataclass(frozen=True, slots=True)
class SimulatorSpec:
    """The built-in simulator, paced in real time (what `flowviz demo` shows).

    Simulated time starts `history_s` before now, so the timeline has a past to scrub from the
    first second; then spans arrive as the wall clock advances.
    """

    seed: int = 0
    rate_per_s: float = 1_500.0
    day_length_s: float = 1_800.0  # a simulated day passes in half an hour of demo
    history_s: float = 60.0


class SimulatorSource:
    """The simulator's OTLP messages decoded as a live source would be (its raw messages kept for the trace view)."""

    def __init__(self, spec: SimulatorSpec, *, problems: Problems) -> None:
        self.spec = spec
        self.problems = problems
        self.raw = RawRing()  # the latest messages, searched again for a trace the window opens

    def batches(self) -> Iterator[SourceItem]:
        builder = SpanBatchBuilder(self.problems)
        for tick, messages in enumerate(self._messages()):
            wheres = [f"simulator tick {tick} message {index}" for index in range(len(messages))]
            decode_otlp_proto(messages, builder, self.problems, wheres)
            self.raw.add(messages)
            yield builder.build()

    def _messages(self) -> Iterator[list[bytes]]:
        """The history in 10 s slices, then every tick, paced by the wall clock."""
        spec = self.spec
        now_ns = time.time_ns() // SECOND_NS * SECOND_NS
        start_ns = now_ns - int(spec.history_s * SECOND_NS)
        simulator = Simulator(
            seed=spec.seed, rate_per_s=spec.rate_per_s, start_ns=start_ns, day_length_s=spec.day_length_s
        )
        for slice_end_ns in range(start_ns + HISTORY_SLICE_NS, now_ns, HISTORY_SLICE_NS):
            yield simulator.generate(slice_end_ns)
        wall_start = time.monotonic()
        while True:
            until_ns = now_ns + int((time.monotonic() - wall_start) * SECOND_NS)
            yield simulator.generate(until_ns)
            time.sleep(TICK_S)

    def status(self) -> dict[str, Any]:
        return {}  # spans per second: the window's counts say it

    def problem_counts(self) -> dict[str, dict[str, object]]:
        return self.problems.as_dict()

    def drill_down(self) -> DrillDownStore:
        details = DrillDownStore(max_time_share=1.0)  # the simulator waits for its reader: every trace may be kept
        details.raw_spans = self.raw.span_details
        return details
