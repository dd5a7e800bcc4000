"""What the drill-down panels query besides the rolling store: exemplar traces and per-edge detail figures."""

from __future__ import annotations

import time
from collections.abc import Callable

from flowviz.decoders.span_details import SpanDetail
from flowviz.model.ids import hex_ids_to_u64_pairs
from flowviz.model.observations import EdgeObservations
from flowviz.model.problems import Problems
from flowviz.model.span_batch import SpanBatch
from flowviz.store.continuations import Continuation, TraceContinuations
from flowviz.store.detail_queries import DetailAnswer, DetailQuery, answer_query
from flowviz.store.edge_details import EdgeDetails
from flowviz.store.exemplars import ExemplarStore


class DrillDownStore:
    """Exemplar traces (from spans) and edge details (from the deriver's calls), fed together, queried apart.

    It lives where the spans are, in the ingest worker; the window's panels send it typed requests
    (`flowviz.store.detail_queries`) through `flowviz.sources.detail_channel`, one per refresh, and `ask`
    answers each with one typed answer.

    Keeping exemplars costs about twice what deriving and storing the graph does. With
    `max_time_share` below 1, a batch's spans skip the exemplar store while the time spent on them
    exceeds that share of the time since the first batch (a worker catching up on a busy topic
    keeps the chart current and samples exemplars; at ordinary rates every batch is kept).
    `skipped_spans` counts what was left out; edge details always take every call.
    """

    def __init__(
        self,
        *,
        exemplars: ExemplarStore | None = None,
        edges: EdgeDetails | None = None,
        problems: Problems | None = None,
        max_time_share: float = 1.0,
    ) -> None:
        self.exemplars = exemplars if exemplars is not None else ExemplarStore(problems=problems)
        self.edges = edges if edges is not None else EdgeDetails()
        self.continuations = TraceContinuations()  # span links and consumer spans: where a journey goes on
        self.max_time_share = max_time_share
        self.raw_spans: Callable[[int, int], dict[int, SpanDetail]] | None = None  # set by a source keeping raw input
        self.skipped_spans = 0
        self._first_s: float | None = None
        self._spent_s = 0.0

    def take(self, batch: SpanBatch | None, observations: EdgeObservations | None) -> None:
        """Spans of a batch and the calls derived from it (either may be None or empty)."""
        if batch is not None and len(batch):
            self.continuations.add(batch)  # every batch (cheap): a journey must find its consumers' traces
            now = time.monotonic()
            if self._first_s is None:
                self._first_s = now
            if self.max_time_share < 1.0 and self._spent_s > self.max_time_share * (now - self._first_s):
                self.skipped_spans += len(batch)
            else:
                self.exemplars.ingest(batch)
                self._spent_s += time.monotonic() - now
        if observations is not None and len(observations):
            self.edges.add(observations)

    def status(self) -> dict[str, int]:
        """What the panels say about the store itself: traces kept, spans left out while busy, bytes held."""
        return {
            "kept_traces": self.exemplars.kept_traces,
            "skipped_spans": self.skipped_spans,
            "memory_bytes": self.memory_bytes(),
        }

    def ask(self, query: DetailQuery) -> DetailAnswer:
        """The answer to one panel's request (the only entry the window uses, in-process or over the pipe)."""
        return answer_query(self, query)

    def span_details(self, trace_id: str) -> dict[int, SpanDetail] | None:
        """Attributes, events and the rest of a trace's spans by span id, read again from the source's raw input
        (None: this source keeps none; spans missing: no longer in it)."""
        if self.raw_spans is None:
            return None
        high, low, ok = hex_ids_to_u64_pairs([trace_id])
        return self.raw_spans(int(high[0]), int(low[0])) if ok[0] else {}

    def continued_traces(self, trace_id: str, span_id: str) -> list[Continuation]:
        """The spans that carry on from a span (a producer's, from a message's `traceparent`): linked to it from
        other traces, or its CONSUMER children."""
        return self.continuations.after(trace_id, span_id)

    def flush(self) -> None:
        """End of input: close every trace still open."""
        self.exemplars.flush()

    def memory_bytes(self) -> int:
        return self.exemplars.memory_bytes() + self.edges.memory_bytes() + self.continuations.memory_bytes()
