"""What an ingest worker and its window say over the feed's pipe: one frozen dataclass per kind of message.

Worker -> window: `Derived` (edge observations with the running span count and problems), `SourceStatus`
(a live source's own status for the status line), `LagSeen` (the consumer groups at one look), `Marks`
(timeline marks), `Done` (a finite source has been read), `Failed` (the source's own final verdict) and
`Crashed` (an exception nobody expected; a live feed is restarted). Window -> worker: `Record` (append
what is read to a recording, or close it) and `Stop`. The window matches on these types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flowviz.derive.consumer_lag import LagFrame
from flowviz.model.observations import EdgeObservations
from flowviz.model.timeline_marks import LagMark

ProblemCounts = dict[str, dict[str, object]]  # `Problems.as_dict()`: reason -> count and first locations


@dataclass(frozen=True, slots=True)
class Derived:
    """Calls derived since the last message; `spans` and `problems` are the worker's running totals."""

    observations: EdgeObservations
    spans: int
    problems: ProblemCounts


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """A live source's status (`KafkaStatus.as_dict()`, an OTLP intake snapshot, a `PrometheusStatus`)."""

    status: dict[str, Any]


@dataclass(frozen=True, slots=True)
class LagSeen:
    """The consumer groups' lag at one look (live Kafka events, or a recording of them)."""

    frame: LagFrame


@dataclass(frozen=True, slots=True)
class Marks:
    """Kafka happenings for the timeline (a topic's records came with a new schema)."""

    marks: list[LagMark]


@dataclass(frozen=True, slots=True)
class Done:
    """A finite source (captures, a Prometheus range) has been read: its totals and the files it could not read."""

    spans: int
    problems: ProblemCounts
    formats: dict[str, str] = field(default_factory=dict)
    errors: str = ""


@dataclass(frozen=True, slots=True)
class Failed:
    """The source's own final verdict (a Prometheus that is not there): the feed stops with it."""

    reason: str


@dataclass(frozen=True, slots=True)
class Crashed:
    """An exception nobody expected, as `Type: message`: a live feed starts its worker again."""

    reason: str


WorkerMessage = Derived | SourceStatus | LagSeen | Marks | Done | Failed | Crashed


@dataclass(frozen=True, slots=True)
class Record:
    """Append every message read from now on to the recording at `path`; None closes the recording."""

    path: str | None


@dataclass(frozen=True, slots=True)
class Stop:
    """The window is done with the worker."""


WindowCommand = Record | Stop
