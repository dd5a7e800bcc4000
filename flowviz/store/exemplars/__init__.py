"""Exemplar traces per service and per edge (slowest, failing, most recent), with their spans, in bounded memory.

`ExemplarStore` (`store`: its contract and queries) is built in layers, each a section of the store over the
tables of `state`: `keys` (interning), `selection` (which closed traces are kept per service or edge and time
bucket), `memory` (the memory pool and its budget: coarsen, drop, compact), `assembly` (the writer: pending
spans grouped into traces, closed when quiet, late spans joined, candidate rows per trace). `columns` holds the
tables' layouts, `answers` what the queries return.
"""

from __future__ import annotations

from flowviz.store.exemplars.answers import Exemplar, TimeSplit, TraceSpans
from flowviz.store.exemplars.columns import KINDS, LATE_SPANS, TOO_OLD
from flowviz.store.exemplars.store import ExemplarStore

__all__ = ["KINDS", "LATE_SPANS", "TOO_OLD", "Exemplar", "ExemplarStore", "TimeSplit", "TraceSpans"]
