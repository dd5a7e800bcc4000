"""What every source of spans, events or calls is to the ingest: `batches()` and `status()` (the `Source` protocol).

A source yields what it reads, decoded but not derived: span batches, event batches, dependency links,
looks at consumer groups, calls it derived itself (metrics, dead letters, live events), lag frames,
timeline marks, and the small items below (`Idle`, `FormatFound`, `Unreadable`). One loop
(`sources/pipeline.run_source`) feeds them all into an `IngestPipeline`, whatever the source; the pipeline
writes to a sink (the store in-process, or the pipe to the window from a worker process).

A source may decode on many processes and yield in one place (a capture decoded by several workers,
`sources/parallel_capture.py`): `batches()` is where their results meet, in order; deriving stays in
the one loop. A live source yields `Idle` when nothing arrived for a moment, so that the loop can
take the window's commands and send the source's status while the source waits (and before it first
reads, when commands sent with the start are to apply from the first message).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from flowviz.derive.consumer_lag import LagFrame
from flowviz.derive.consumption import GroupOffsets
from flowviz.model.event_batch import EventBatch
from flowviz.model.observations import EdgeObservations
from flowviz.model.problems import Problems
from flowviz.model.span_batch import SpanBatch
from flowviz.model.timeline_marks import TimelineMarks
from flowviz.sources.capture_file import DependencyLinks
from flowviz.store.drill_down import DrillDownStore

if TYPE_CHECKING:  # only named in an annotation: a report's process never loads the Prometheus client
    from flowviz.sources.metric_details import MetricDetails

LIVE_EXEMPLAR_TIME_SHARE = 0.3  # a live source does not wait for its reader: exemplars are sampled, never behind


@dataclass(frozen=True, slots=True)
class Idle:
    """Nothing arrived for a moment (a live source waiting): the loop's turn to look at commands and status."""


@dataclass(frozen=True, slots=True)
class FormatFound:
    """An input (a capture file, a Prometheus) has been read whole, in `format_name`."""

    where: str
    format_name: str


@dataclass(frozen=True, slots=True)
class Unreadable:
    """An input that could not be read at all (missing, no trace format), with the reason: recorded, not fatal."""

    where: str
    reason: str


@dataclass(frozen=True, slots=True)
class EventCalls:
    """producer → topic calls a source derived from its events itself (live Kafka), with each event's value size
    (aligned with the calls, for the edge panel's payload sizes; None when unknown)."""

    observations: EdgeObservations
    value_bytes: np.ndarray | None


SourceItem = (
    SpanBatch
    | EventBatch
    | DependencyLinks
    | GroupOffsets
    | EdgeObservations
    | EventCalls
    | LagFrame
    | TimelineMarks
    | Idle
    | FormatFound
    | Unreadable
)


class SourceFailed(Exception):
    """The source's own final verdict (a Prometheus that is not there): the feed stops with this reason."""


class Source(Protocol):
    """Where spans, events or calls come from, as the one ingest loop sees it.

    `problems` counts what was skipped and where; the pipeline that derives the items counts into the
    same object.
    """

    problems: Problems

    def batches(self) -> Iterator[SourceItem]:
        """What the source reads, in order; ends when a finite source is read (closing it stops a live one)."""
        ...

    def status(self) -> dict[str, Any]:
        """The source's own state for the status line (`kind`, connected / retrying / following, counts,
        problems); {} when the window's span and call counts say all there is (files, the simulator)."""
        ...

    def problem_counts(self) -> dict[str, dict[str, object]]:
        """What was skipped so far (`Problems.as_dict()` shape): the source's and the pipeline's."""
        ...

    def drill_down(self) -> DrillDownStore | MetricDetails:
        """What answers the panels' queries: a drill-down store for the pipeline to fill (its exemplar traces
        sampled when the source does not wait for its reader; raw spans found again in what was read), or
        the source's own answers (metrics keep no spans)."""
        ...


@runtime_checkable
class Recordable(Protocol):
    """A source that can append what it reads to a recording while it runs (Kafka, the OTLP receiver)."""

    def record(self, path: str | None) -> None:
        """Record every message read from now on to `path` (appending); None closes the recording."""
        ...
