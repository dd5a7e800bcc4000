"""What the drill-down panels query besides the rolling store: exemplar traces and per-edge detail figures."""

from __future__ import annotations

from flowviz.derive.observations import EdgeObservations
from flowviz.model.problems import Problems
from flowviz.model.span_batch import SpanBatch
from flowviz.store.edge_details import EdgeDetails
from flowviz.store.exemplars import ExemplarStore


class DrillDownStore:
    """Exemplar traces (from spans) and edge details (from the deriver's calls), fed together, queried apart.

    It lives where the spans are, in the ingest worker; the window queries it through
    `flowviz.sources.detail_channel` (the same `exemplars` and `edges` methods, answered over a pipe).
    """

    def __init__(
        self,
        *,
        exemplars: ExemplarStore | None = None,
        edges: EdgeDetails | None = None,
        problems: Problems | None = None,
    ) -> None:
        self.exemplars = exemplars if exemplars is not None else ExemplarStore(problems=problems)
        self.edges = edges if edges is not None else EdgeDetails()

    def take(self, batch: SpanBatch | None, observations: EdgeObservations | None) -> None:
        """Spans of a batch and the calls derived from it (either may be None or empty)."""
        if batch is not None and len(batch):
            self.exemplars.ingest(batch)
        if observations is not None and len(observations):
            self.edges.add(observations)

    def flush(self) -> None:
        """End of input: close every trace still open."""
        self.exemplars.flush()

    def memory_bytes(self) -> int:
        return self.exemplars.memory_bytes() + self.edges.memory_bytes()
