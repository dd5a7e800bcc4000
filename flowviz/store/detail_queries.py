"""The drill-down panels' questions as typed requests, their typed answers, and `answer_query`, which answers them.

One request per panel refresh, wherever the details are: in this process, or in the ingest worker across
`flowviz.sources.detail_channel` (one pipe round trip). Requests and answers are plain frozen dataclasses
of numbers, strings and numpy arrays, so they pickle as they are. `answer_query` asks anything shaped
like the drill-down store (`DetailSource`: the span store's `DrillDownStore`, a metrics source's
`MetricDetails`); each of them offers it as `ask(query)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from flowviz.decoders.span_details import SpanDetail
from flowviz.store.continuations import Continuation
from flowviz.store.edge_details import SideFigures, StatusFigures
from flowviz.store.exemplars import KINDS, Exemplar, TimeSplit, TraceSpans
from flowviz.store.operation_stats import OperationFigures


@dataclass(frozen=True, slots=True)
class ServiceQuery:
    """One service's spans in a window; `latency_bins` (first, last histogram bin) also lists that range's traces."""

    name: str
    start_ns: int
    end_ns: int
    exemplar_limit: int
    latency_bins: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class EdgeQuery:
    """One edge's calls in a window, by the names of its two ends."""

    source: str
    target: str
    start_ns: int
    end_ns: int
    exemplar_limit: int


@dataclass(frozen=True, slots=True)
class TraceQuery:
    """One kept trace's spans, and what the source's raw input still holds of them (hex trace id)."""

    trace_id: str


@dataclass(frozen=True, slots=True)
class ContinuationsQuery:
    """The spans that carry on from one span (a producer's, from a message's `traceparent`; hex ids)."""

    trace_id: str
    span_id: str


@dataclass(frozen=True, slots=True)
class StatusQuery:
    """The drill-down store itself: traces kept, spans left out while busy, bytes held."""


@dataclass(frozen=True, slots=True)
class ServiceDetails:
    """What the service panel shows of a service's spans in a window."""

    operations: list[OperationFigures]
    histogram: np.ndarray
    critical_path_share: float | None
    exemplars: dict[str, list[Exemplar]]  # by kind
    in_range: list[Exemplar] | None  # the traces of the selected latency range
    skipped_spans: int  # spans left out of the exemplars while the worker was busy
    time_split: TimeSplit | None = None  # own time vs waiting on what it calls, over the kept traces


@dataclass(frozen=True, slots=True)
class EdgeDetailFigures:
    """What the edge panel shows of an edge's calls in a window."""

    sides: dict[str, SideFigures]
    statuses: list[StatusFigures]
    exemplars: dict[str, list[Exemplar]]
    skipped_spans: int  # spans left out of the exemplars while the worker was busy
    payload: SideFigures | None = None  # message sizes in bytes (producer → topic edges of business events)


@dataclass(frozen=True, slots=True)
class TraceDetails:
    """A kept trace (None: no longer kept), its spans' attributes and events by span id (None: none to show,
    `note` says why)."""

    spans: TraceSpans | None
    span_details: dict[int, SpanDetail] | None
    note: str = ""


@dataclass(frozen=True, slots=True)
class DrillDownStatus:
    """Traces kept, spans left out while busy, bytes held; `trace_note` says why a source keeps no spans."""

    kept_traces: int
    skipped_spans: int
    memory_bytes: int
    trace_note: str = ""


@dataclass(frozen=True, slots=True)
class ContinuedTraces:
    """Spans linked to the asked span from other traces, or its CONSUMER children (none from a metrics source)."""

    continuations: tuple[Continuation, ...]


DetailQuery = ServiceQuery | EdgeQuery | TraceQuery | ContinuationsQuery | StatusQuery
DetailAnswer = ServiceDetails | EdgeDetailFigures | TraceDetails | ContinuedTraces | DrillDownStatus


class DetailSource(Protocol):
    """What `answer_query` asks: the drill-down store's parts (`exemplars`, `edges`) and its own status."""

    exemplars: object
    edges: object

    def status(self) -> dict[str, object]: ...

    def span_details(self, trace_id: str) -> dict[int, SpanDetail] | None: ...

    def continued_traces(self, trace_id: str, span_id: str) -> list[Continuation]: ...


def answer_query(details: DetailSource, query: DetailQuery) -> DetailAnswer:
    """The one answer to one panel's request (in the process that holds the details)."""
    if isinstance(query, ServiceQuery):
        return _service(details, query)
    if isinstance(query, EdgeQuery):
        return _edge(details, query)
    if isinstance(query, TraceQuery):
        return _trace(details, query.trace_id)
    if isinstance(query, ContinuationsQuery):
        return ContinuedTraces(tuple(details.continued_traces(query.trace_id, query.span_id)))
    if isinstance(query, StatusQuery):
        return _status(details)
    raise TypeError(f"not a drill-down query: {type(query).__name__}")


def _status(details: DetailSource) -> DrillDownStatus:
    status = details.status()
    return DrillDownStatus(
        kept_traces=int(status.get("kept_traces", 0)),
        skipped_spans=int(status.get("skipped_spans", 0)),
        memory_bytes=int(status.get("memory_bytes", 0)),
        trace_note=str(status.get("trace_note", "")),
    )


def _service(details: DetailSource, query: ServiceQuery) -> ServiceDetails:
    exemplars, name, start_ns, end_ns = details.exemplars, query.name, query.start_ns, query.end_ns
    bins = query.latency_bins
    return ServiceDetails(
        operations=exemplars.operations(name, start_ns, end_ns),
        histogram=exemplars.latency_histogram(name, start_ns, end_ns),
        critical_path_share=exemplars.critical_path_share(name, start_ns, end_ns),
        time_split=exemplars.time_split(name, start_ns, end_ns),
        exemplars={
            kind: exemplars.exemplars(name, start_ns, end_ns, kind=kind, limit=query.exemplar_limit) for kind in KINDS
        },
        in_range=None if bins is None else exemplars.traces_in_latency_bins(name, start_ns, end_ns, *bins),
        skipped_spans=_status(details).skipped_spans,
    )


def _edge(details: DetailSource, query: EdgeQuery) -> EdgeDetailFigures:
    ends, window = (query.source, query.target), (query.start_ns, query.end_ns)
    return EdgeDetailFigures(
        sides=details.edges.sides(*ends, *window),
        statuses=details.edges.statuses(*ends, *window),
        exemplars={
            kind: details.exemplars.exemplars(ends, *window, kind=kind, limit=query.exemplar_limit) for kind in KINDS
        },
        skipped_spans=_status(details).skipped_spans,
        payload=details.edges.payload(*ends, *window),
    )


def _trace(details: DetailSource, trace_id: str) -> TraceDetails:
    """The kept spans, then what the source's raw input still holds of them."""
    spans = details.exemplars.trace(trace_id)
    if spans is None:  # a source that keeps no spans (metrics) says why
        return TraceDetails(None, None, _status(details).trace_note)
    try:
        more = details.span_details(trace_id)
    except Exception as error:  # the basic waterfall is worth showing anyway
        return TraceDetails(spans, None, f"Attributes and events unavailable: {error}")
    if more is None:
        return TraceDetails(spans, None, "Attributes and events: this source keeps no raw spans to read them from.")
    return TraceDetails(spans, more, "Attributes and events: no longer in the raw input kept (the latest 64 MiB).")
