"""The one ingest path: whatever a source yields -> derivers -> a sink (the store in-process, or the window's pipe).

`run_source` is the one loop every source goes through (`for item in source.batches(): pipeline.feed(item)`),
in a window's worker process (`sources/worker.py`) and in-process (`flowviz report`, `load_captures`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TextIO

import numpy as np

from flowviz.decoders.gc_pause import gc_paused
from flowviz.decoders.guard import guarded
from flowviz.derive.consumer_lag import LagFrame, LagTracker
from flowviz.derive.consumption import GroupConsumption, GroupOffsets
from flowviz.derive.deriver import DEFAULT_TTL_NS, EdgeDeriver
from flowviz.derive.events import EventDeriver
from flowviz.model.event_batch import EventBatch
from flowviz.model.graph_kinds import ConnectionType, NodeKind
from flowviz.model.observations import EdgeObservations
from flowviz.model.problems import Problems
from flowviz.model.span_batch import SpanBatch
from flowviz.model.timeline_marks import LagMark, TimelineMarks
from flowviz.sources.allocator import keep_freed_memory
from flowviz.sources.capture_file import DependencyLinks
from flowviz.sources.capture_source import CaptureSource
from flowviz.sources.source import EventCalls, FormatFound, Idle, Source, SourceItem, Unreadable
from flowviz.store.drill_down import DrillDownStore
from flowviz.store.edge_details import EdgeDetails


@dataclass(slots=True)
class IngestTotals:
    """What went in: spans, calls, dependency links, and the time range the spans cover."""

    spans: int = 0
    calls: int = 0
    dependency_links: int = 0
    events: int = 0  # business events (Kafka recordings)
    first_start_ns: int | None = None
    last_start_ns: int | None = None
    formats: dict[str, str] = field(default_factory=dict)
    failed_files: dict[str, str] = field(default_factory=dict)

    @property
    def usable(self) -> bool:
        return self.spans > 0 or self.dependency_links > 0 or self.events > 0


def say_what_was_unreadable(totals: IngestTotals, out: TextIO, *, usable: bool = True) -> bool:
    """Tell `out` (a command's stderr) each file that could not be read and, when nothing usable was read
    (or the caller found nothing usable in it), say so; True when there is something to work with."""
    for error in totals.failed_files.values():
        print(f"flowviz: {error}", file=out)
    if totals.usable and usable:
        return True
    print("flowviz: nothing usable in the given captures", file=out)
    return False


class Sink(Protocol):
    """Where the pipeline writes what it derived: the rolling store in-process, or the pipe to the window."""

    def ingest(self, observations: EdgeObservations) -> None: ...

    def add_lag(self, frame: LagFrame) -> None: ...

    def add_marks(self, marks: list[LagMark]) -> None: ...


class IngestPipeline:
    """Feeds a source's items through the derivers into a sink (and the drill-down store); the only writer."""

    def __init__(
        self,
        sink: Sink,
        *,
        problems: Problems,
        ttl_ns: int = DEFAULT_TTL_NS,
        details: DrillDownStore | None = None,
        payloads: EdgeDetails | None = None,
    ) -> None:
        self.sink = sink
        self.details = details
        # message sizes per producer → topic: the drill-down store's edge details, or these (a report's)
        self.payloads = details.edges if details is not None else payloads
        self.problems = problems
        self.deriver = EdgeDeriver(ttl_ns=ttl_ns, problems=problems)
        self.event_deriver = EventDeriver(problems=problems)  # business events of Kafka recordings
        self.consumption = GroupConsumption()  # ... and the looks at their consumer groups recorded with them
        self.lag = LagTracker()
        self._read_to: dict[tuple[str, int], int] = {}  # (topic, partition) -> after the last event read
        self.totals = IngestTotals()

    def feed(self, item: SourceItem) -> None:
        if isinstance(item, Idle):
            return
        if isinstance(item, FormatFound):
            self.totals.formats[item.where] = item.format_name
            return
        if isinstance(item, Unreadable):
            self.totals.failed_files[item.where] = item.reason
            return
        if isinstance(item, GroupOffsets):
            self._feed_look(item)
            return
        if isinstance(item, LagFrame):  # a live source's look at its consumer groups
            self.sink.add_lag(item)
            return
        if isinstance(item, EventCalls):
            self._write_event_calls(item.observations, item.value_bytes)
            return
        if isinstance(item, TimelineMarks):  # a recording's schema changes, on the timeline as live
            self.sink.add_marks(list(item.marks))
            return
        if isinstance(item, EdgeObservations):  # calls derived while reading (dead letters of a recording)
            if len(item):
                self._note_times(item.time_ns)
                self._write(item)
            return
        if isinstance(item, DependencyLinks):
            self._write(dependency_observations(item))
            self.totals.dependency_links += len(item.links)
            return
        if not len(item):
            return
        totals = self.totals
        if isinstance(item, EventBatch):
            totals.events += len(item)
            observations = self.event_deriver.process(item)
            self.consumption.note_events(item)
            self.lag.note_events(item)
            self._note_positions(item)
            self._write_event_calls(observations, item.value_bytes)
            return
        totals.spans += len(item)
        self._note_times(item.start_ns)
        with gc_paused():  # deriving makes no reference cycles; collections would scan every live container
            where = f"span batch {totals.spans - len(item):,}-{totals.spans:,}"
            observations = guarded(self.problems, None, where, "derive", self._derive, item)  # never the feed
        if observations is not None:
            self._write(observations)

    def _derive(self, batch: SpanBatch) -> EdgeObservations:
        observations = self.deriver.process(batch)
        if self.details is not None:
            self.details.take(batch, observations)
        return observations

    def _write_event_calls(self, observations: EdgeObservations, value_bytes: np.ndarray | None) -> None:
        if not len(observations):
            return
        if self.payloads is not None:
            self.payloads.add_payloads(observations, value_bytes)
        self._note_times(observations.time_ns)
        self._write(observations)

    def _feed_look(self, look: GroupOffsets) -> None:
        """A recorded look at the consumer groups: topic → group calls and a lag frame, on the topics that
        carried events so far (as live)."""
        topics = set(self.event_deriver.per_topic)
        look = GroupOffsets(
            look.polled_ns,
            {key: offset for key, offset in look.committed.items() if key[1] in topics},
            {key: end for key, end in look.ends.items() if key[0] in topics},
            look.error,
            look.members,
        )
        if not look.committed:
            return
        self._write(self.consumption.update(look, read_to=self._read_to))
        frame = self.lag.update(look, read_to=self._read_to)
        if frame is not None:
            self.sink.add_lag(frame)

    def _note_positions(self, batch: EventBatch) -> None:
        keys = batch.topic.astype(np.int64) << 32 | batch.partition.astype(np.int64)
        order = np.lexsort((batch.offset, keys))
        last = np.r_[keys[order][1:] != keys[order][:-1], True]
        for key, offset in zip(keys[order][last].tolist(), batch.offset[order][last].tolist(), strict=True):
            partition = (batch.names[key >> 32], key & 0xFFFFFFFF)
            self._read_to[partition] = max(self._read_to.get(partition, 0), offset + 1)

    def _note_times(self, times_ns) -> None:
        totals = self.totals
        first, last = int(times_ns.min()), int(times_ns.max())
        totals.first_start_ns = first if totals.first_start_ns is None else min(totals.first_start_ns, first)
        totals.last_start_ns = last if totals.last_start_ns is None else max(totals.last_start_ns, last)

    def finish(self) -> None:
        """End of input: halves still waiting for a partner are resolved (virtual nodes, counted); traces close."""
        observations = self.deriver.flush()
        self._write(observations)
        if self.details is not None:
            self.details.take(None, observations)
            self.details.flush()

    def _write(self, observations: EdgeObservations) -> None:
        if len(observations):
            self.totals.calls += int(observations.count.sum())
            self.sink.ingest(observations)


def dependency_observations(item: DependencyLinks) -> EdgeObservations:
    """Jaeger dependency links as weighted observations at time 0 with no latency."""
    names: dict[str, int] = {"": 0}
    source = [names.setdefault(parent, len(names)) for parent, _, _ in item.links]
    target = [names.setdefault(child, len(names)) for _, child, _ in item.links]
    size = len(item.links)
    return EdgeObservations.from_columns(
        names,
        source=source,
        target=target,
        source_kind=NodeKind.SERVICE,
        target_kind=NodeKind.SERVICE,
        connection_type=ConnectionType.DIRECT,
        via=0,
        time_ns=np.zeros(size, np.int64),
        latency_ns=-1,
        failed=False,
        count=[count for _, _, count in item.links],
    )


def run_source(source: Source, pipeline: IngestPipeline, *, between: Callable[[], bool] | None = None) -> IngestTotals:
    """The one ingest loop: every item `source` yields into `pipeline`; at the end of a finite source the pipeline
    is finished (waiting halves resolved, traces closed). `between()`, after each item, may stop the loop early
    (returning False: the source is closed, the pipeline not finished)."""
    between = between if between is not None else _go_on
    keep_freed_memory()
    items = source.batches()
    try:
        for item in items:
            pipeline.feed(item)
            if not between():
                return pipeline.totals
    finally:
        items.close()  # a live source closes its connections, servers and recordings
    pipeline.finish()
    return pipeline.totals


def _go_on() -> bool:
    return True


def load_captures(
    paths: Iterable[str | Path],
    pipeline: IngestPipeline,
    *,
    format_name: str = "auto",
    workers: int = 1,
) -> IngestTotals:
    """Read every capture into the pipeline (bulk load); a file that cannot be read is recorded, not fatal.
    With `workers` > 1 a large capture is decoded by that many processes (derived here, in file order)."""
    captures = CaptureSource(paths, problems=pipeline.problems, format_name=format_name, workers=workers)
    return run_source(captures, pipeline)
