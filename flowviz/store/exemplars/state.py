"""The exemplar store's settings and tables, which the sections of the store (keys, selection, memory pool,
trace assembly, queries) share."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from itertools import pairwise

import numpy as np

from flowviz.derive.span_table import ColumnTable
from flowviz.model.problems import Problems
from flowviz.store.exemplars.columns import (
    BUCKET_WIDTHS_NS,
    DEFAULT_QUIET_NS,
    DEFAULT_TRACE_BUDGET_BYTES,
    NEVER,
    PENDING_COLUMNS,
    POOL_COLUMNS,
    ROW_COLUMNS,
    SECOND_NS,
    TRACE_COLUMNS,
    UNKNOWN_PEER,
    USER_NODE,
)
from flowviz.store.operation_stats import DEFAULT_OPERATION_BUDGET_BYTES, OTHER, OperationStats


class ExemplarState:
    """The settings and the tables of an `ExemplarStore` (see its docstring for what they bound).

    Tables: interned strings and keys; pending spans (traces not yet closed); the span pool, the trace table
    (one row per kept trace: where its spans are in the pool) and the index rows (one per kept trace and
    service or edge it passes through, with the flags saying why it is kept); recently closed trace ids.
    """

    def __init__(
        self,
        *,
        per_kind: int = 5,
        quiet_ns: int = DEFAULT_QUIET_NS,
        trace_budget_bytes: int = DEFAULT_TRACE_BUDGET_BYTES,
        operation_budget_bytes: int = DEFAULT_OPERATION_BUDGET_BYTES,
        max_traces: int = 200_000,
        max_spans_per_trace: int = 10_000,
        max_pending_spans: int = 300_000,
        max_strings: int = 200_000,
        max_keys: int = 100_000,
        bucket_widths_ns: Sequence[int] = BUCKET_WIDTHS_NS,
        problems: Problems | None = None,
    ) -> None:
        widths = tuple(int(w) for w in bucket_widths_ns)
        if not widths or widths[0] % SECOND_NS or any(b % a for a, b in pairwise(widths)):
            raise ValueError("bucket widths must be whole seconds, each a multiple of the one before")
        self.bucket_widths_ns = widths
        self.per_kind = int(per_kind)
        self.quiet_ns = int(quiet_ns)
        self.trace_budget_bytes = int(trace_budget_bytes)
        self.max_traces = int(max_traces)
        self.max_spans_per_trace = int(max_spans_per_trace)
        self.max_pending_spans = int(max_pending_spans)
        self.max_strings = int(max_strings)
        self.max_keys = int(max_keys)
        self.problems = problems
        self.dropped: dict[str, int] = {}
        self.operations_table = OperationStats(memory_budget_bytes=operation_budget_bytes)
        self._lock = threading.RLock()
        self._strings: list[str] = ["", OTHER, USER_NODE, UNKNOWN_PEER]
        self._string_of = {s: i for i, s in enumerate(self._strings)}
        self._string_bytes = 0
        self._keys: list[tuple[int, int]] = []  # (service, -1) or (source, target) string ids
        self._key_of: dict[tuple[int, int], int] = {}
        self._key_is_service = np.zeros(0, bool)
        self._pending = ColumnTable(PENDING_COLUMNS)
        self._pool = ColumnTable(POOL_COLUMNS)
        self._pool_dead = 0
        self._traces = ColumnTable(TRACE_COLUMNS)
        self._slot_of: dict[tuple[int, int], int] = {}
        self._rows = ColumnTable(ROW_COLUMNS)
        self._closed = (np.zeros(0, np.uint64), np.zeros(0, np.uint64), np.zeros(0, np.int64))  # recently closed
        self._watermark_ns = NEVER
        self._next_close_ns = NEVER
        self._coarse_before_ns = [NEVER] * (len(self.bucket_widths_ns) - 1)
        self._floor_ns = NEVER

    def _count(self, reason: str, count: int) -> None:
        if count > 0:
            self.dropped[reason] = self.dropped.get(reason, 0) + count
            if self.problems is not None:
                self.problems.add(reason, count=count)
