"""The exemplar store's memory pool: what it holds, and the budget kept by coarsening, dropping and compacting."""

from __future__ import annotations

import numpy as np

from flowviz.store.exemplars.columns import (
    DICT_ENTRY_BYTES,
    KEY_SHIFT,
    POOL_COLUMNS,
    ROW_COLUMNS,
    SECOND_NS,
    TRACE_COLUMNS,
)
from flowviz.store.exemplars.selection import Selection, rank


class MemoryPool(Selection):
    """Keeps the kept traces within `trace_budget_bytes` and `max_traces`: coarsen the oldest buckets, at last drop
    them; compact the span pool and trace table once half the pool is freed (or their capacity is over budget)."""

    def memory_bytes(self) -> int:
        """Bytes held: numpy columns (with spare capacity), operation cells, tables of strings, keys and ids."""
        with self._lock:
            return (
                self._trace_bytes()
                + self._pending.nbytes
                + self.operations_table.memory_bytes()
                + self._string_bytes
                + DICT_ENTRY_BYTES * (len(self._strings) + len(self._keys))
                + sum(a.nbytes for a in self._closed)
            )

    def _trace_bytes(self) -> int:
        return self._pool.nbytes + self._traces.nbytes + self._rows.nbytes + DICT_ENTRY_BYTES * len(self._slot_of)

    def _live_trace_bytes(self) -> int:
        live_spans = len(self._pool) - self._pool_dead
        per_span = sum(np.dtype(t).itemsize for t in POOL_COLUMNS.values())
        per_row = sum(np.dtype(t).itemsize for t in ROW_COLUMNS.values())
        per_trace = sum(np.dtype(t).itemsize for t in TRACE_COLUMNS.values()) + DICT_ENTRY_BYTES
        return live_spans * per_span + len(self._rows) * per_row + len(self._slot_of) * per_trace

    def _enforce_budget(self) -> None:
        """Coarsen (at last drop) the oldest buckets until the kept traces fit 7/8 of the budget; compact."""
        target = self.trace_budget_bytes * 7 // 8
        if self._live_trace_bytes() > self.trace_budget_bytes or len(self._slot_of) > self.max_traces:
            while len(self._rows) and (
                self._live_trace_bytes() > target or len(self._slot_of) > self.max_traces * 7 // 8
            ):
                self._coarsen_oldest()
        if self._pool_dead > len(self._pool) // 2 or self._trace_bytes() > self.trace_budget_bytes:
            self._compact()

    def _coarsen_oldest(self) -> None:
        """Merge the oldest buckets of the finest level holding more than one coarser bucket's worth (10 minutes,
        6 ten-minutes, 24 hours) into their coarser bucket (up to the newest minute); if no level does, drop the
        oldest bucket. So a budget too small for long history keeps the newest minutes rather than coarse old ones.
        """
        rows = self._rows
        time, levels, buckets = rows["time_ns"], rows["level"], rows["bucket_s"]
        widths = self.bucket_widths_ns
        newest = int(time.max()) // widths[0] * widths[0]  # the newest finest bucket stays
        for level in range(len(widths) - 1):
            starts = np.unique(buckets[levels == level])
            width = widths[level + 1]
            boundary = min((int(starts[0]) * SECOND_NS // width + 1) * width, newest) if starts.size else 0
            if starts.size > width // widths[level] and boundary > int(starts[0]) * SECOND_NS:
                break
        else:  # drop the oldest bucket (of the coarsest level present)
            oldest = int(np.argmin(buckets))
            level = int(levels[oldest])
            end_ns = int(buckets[oldest]) * SECOND_NS + widths[level]
            self._floor_ns = min(end_ns, self._coarse_before_ns[level - 1]) if level else end_ns
            gone = time < self._floor_ns
            rows["flags"][gone] = 0
            self._release_losers(np.unique(rows["trace"][gone]))
            rows.keep(rows["time_ns"] >= self._floor_ns)
            return
        for finer in range(level + 1):
            self._coarse_before_ns[finer] = max(self._coarse_before_ns[finer], boundary)
        moved = np.flatnonzero((rows["time_ns"] < boundary) & (rows["level"] <= level))
        new_level, new_bucket = self._level_bucket(rows["time_ns"][moved])
        rows["level"][moved] = new_level
        rows["bucket_s"][moved] = new_bucket
        group = rows["key"].astype(np.int64) << KEY_SHIFT | rows["bucket_s"]
        affected = np.flatnonzero(np.isin(group, group[moved]))
        slots = rows["trace"][affected]
        rows["flags"][affected] = rank(
            group[affected],
            rows["latency_ns"][affected],
            rows["time_ns"][affected],
            rows["error"][affected],
            self._key_is_service[rows["key"][affected]],
            self._traces["trace_hi"][slots],
            self._traces["trace_lo"][slots],
            self.per_kind,
        )
        self._release_losers(np.unique(slots))

    def _compact(self) -> None:
        """Drop freed spans and traces from the columns (slots are renumbered)."""
        traces = self._traces
        alive = traces["alive"].copy()
        new_slot = np.cumsum(alive) - 1
        starts, sizes = traces["pool_start"][alive], traces["pool_len"][alive].astype(np.int64)
        offsets = np.cumsum(sizes) - sizes
        self._pool.keep(np.repeat(starts - offsets, sizes) + np.arange(int(sizes.sum())))
        self._pool_dead = 0
        traces.keep(alive)
        traces["pool_start"][:] = offsets
        self._rows["trace"][:] = new_slot[self._rows["trace"]]
        self._rows.keep(np.ones(len(self._rows), bool))
        self._slot_of = dict(
            zip(
                zip(traces["trace_hi"].tolist(), traces["trace_lo"].tolist(), strict=True),
                range(len(traces)),
                strict=True,
            )
        )
