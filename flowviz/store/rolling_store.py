"""The rolling store: one writer ingests edge observations into tiered sparse cells; readers query snapshots."""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from flowviz.derive.consumer_lag import LagFrame
from flowviz.model.observations import EdgeObservations
from flowviz.model.problems import Problems
from flowviz.model.timeline_marks import LagMark
from flowviz.store.cells import (
    Cells,
    Chunk,
    aggregate_rows,
    build_chunk,
    filter_groups,
    merge_chunks,
    rebucket,
    split_by_grid,
    wants_summary,
)
from flowviz.store.graph_frame import GraphFrame, Timeline
from flowviz.store.interning import REFUSED_REASONS, BatchKeys, Interner, TablesSnapshot
from flowviz.store.lag_history import LagHistory
from flowviz.store.latency_bins import bin_of
from flowviz.store.snapshot import StoreSnapshot, TierSnapshot

SECOND_NS = 1_000_000_000
MINUTE_NS = 60 * SECOND_NS
HOUR_NS = 60 * MINUTE_NS
DEFAULT_TIERS: tuple[tuple[int, int | None], ...] = (
    (SECOND_NS, HOUR_NS),
    (10 * SECOND_NS, 6 * HOUR_NS),
    (MINUTE_NS, None),
)
"""(resolution_ns, span_ns): 1 s buckets for the newest hour, 10 s for the 6 h before, 1 min beyond."""
DEFAULT_MEMORY_BUDGET_BYTES = 832 * 1024 * 1024
BUCKETS_PER_CHUNK = 60
"""A tier's chunks cover grid cells of (about) this many of its buckets."""

DROP_TOO_OLD = "store: older than retained data"
DROP_MEMORY_BUDGET = "store: memory budget, oldest data dropped"
DROP_BAD_COUNT = "store: call count ≤ 0"
_NEVER = -(1 << 63)


@dataclass(frozen=True, slots=True)
class _Tier:
    resolution_ns: int
    span_ns: int | None
    grid_ns: int  # chunks never straddle a multiple of grid_ns; a multiple of the next tier's resolution


def _align_down(value_ns: int, step_ns: int) -> int:
    return value_ns // step_ns * step_ns


def _make_tiers(tiers: Sequence[tuple[int, int | None]]) -> tuple[_Tier, ...]:
    if not tiers:
        raise ValueError("at least one tier is needed")
    out = []
    for index, (resolution_ns, span_ns) in enumerate(tiers):
        resolution_ns = int(resolution_ns)
        if resolution_ns <= 0:
            raise ValueError("tier resolutions must be positive")
        if span_ns is None and index != len(tiers) - 1:
            raise ValueError("only the last tier may have an unbounded span")
        if span_ns is not None and span_ns <= 0:
            raise ValueError("tier spans must be positive")
        following = int(tiers[index + 1][0]) if index + 1 < len(tiers) else resolution_ns
        if following % resolution_ns:
            raise ValueError("each tier's resolution must be a multiple of the previous one's")
        grid_ns = math.lcm(BUCKETS_PER_CHUNK * resolution_ns, following)
        out.append(_Tier(resolution_ns, None if span_ns is None else int(span_ns), grid_ns))
    return tuple(out)


class RollingStore:
    """Interned nodes and edges with per-edge time buckets of calls, failures and latency histograms.

    **Layout.** Calls are aggregated into sparse cells (bucket, edge, latency bin) → calls, with
    calls and failures per (bucket, edge). Tiers (default: 1 s buckets for the newest hour, 10 s
    for the six hours before, 60 s beyond) hold the cells in immutable chunks, each within one
    grid cell of 60 buckets, with per-chunk summaries so long windows stay cheap. Bucket starts
    are multiples of the tier's resolution since the epoch (int64 ns). As the newest data time
    advances, grid cells that fall out of a tier's span are re-bucketed into the next tier, so a
    tier keeps between its span and its span plus one grid cell. Latency bins are log-spaced
    (ratio 1.09 from 1 µs to 1 080 s, see `latency_bins`), so p50/p95/p99 are within 5 %.

    **Memory bound.** `memory_bytes()` counts the numpy arrays held. After every `ingest` the
    cell arrays take at most `memory_budget_bytes` (default 832 MiB). When over it, the store
    (1) drops the oldest last-tier buckets older than the configured spans (long-running history
    goes first), else (2) coarsens the oldest grid cell of a finer tier into the next tier ahead
    of time, else (3) drops the oldest buckets; dropped calls are counted in `problems`. On top
    of the budget come the node and edge tables (under 60 bytes per edge and 2 per node in numpy,
    plus Python's dict and string overhead) and, during an ingest or a query, working arrays
    proportional to the batch, one grid cell and edges × 244 latency bins. At 10 000 edges each
    active every second with ~10 calls in ~8 latency bins, an hour at 1 s takes ~22 bytes per
    edge-second, 758 MiB (`flowviz.bench.store_memory`).

    **Threads.** One writer calls `ingest`. Each ingest builds a new immutable `StoreSnapshot`
    and publishes it by assigning one attribute; `query`, `timeline` and `time_range_ns` read
    that attribute once, so they always see one whole state. Use `snapshot()` to ask several
    questions of the same state (e.g. a timeline and a window query that must agree).
    """

    def __init__(
        self,
        *,
        tiers: Sequence[tuple[int, int | None]] = DEFAULT_TIERS,
        memory_budget_bytes: int = DEFAULT_MEMORY_BUDGET_BYTES,
        max_nodes: int = 50_000,
        max_edges: int = 200_000,
        problems: Problems | None = None,
    ) -> None:
        self._tiers = _make_tiers(tiers)
        self.memory_budget_bytes = int(memory_budget_bytes)
        self.problems = problems if problems is not None else Problems()
        self._interner = Interner(max_nodes=max_nodes, max_edges=max_edges)
        self._grids: list[dict[int, list[Chunk]]] = [{} for _ in self._tiers]
        self._tier_bytes = [0] * len(self._tiers)
        self._pending: list[set[int]] = [set() for _ in self._tiers]  # grid cells to merge/summarise when closed
        self._newest_end_ns: int | None = None
        self._raised_lower_ns = [_NEVER] * len(self._tiers)  # tier lower bounds raised by the memory budget
        self._floor_ns = _NEVER  # data before this is gone
        self.consumer_lag = LagHistory()  # consumer groups' lag and states per look (Kafka events), by time
        self._write_lock = threading.Lock()
        self._namespaces: dict[str, str] = {}  # the next snapshot's (a new dict whenever one changes)
        self._state = StoreSnapshot(
            tables=self._interner.snapshot(),
            tiers=tuple(TierSnapshot(t.resolution_ns, t.grid_ns, np.zeros(0, np.int64), ()) for t in self._tiers),
            data_version=0,
            topology_version=0,
            cells_bytes=0,
            time_range=None,
        )

    # -- readers ------------------------------------------------------------------------------

    def snapshot(self) -> StoreSnapshot:
        """The current immutable state (query it as often as needed)."""
        return self._state

    @property
    def data_version(self) -> int:
        """Increases on every ingest that changed data (cells added, coarsened or dropped)."""
        return self._state.data_version

    @property
    def topology_version(self) -> int:
        """Increases when a node or edge is added (or a node's kind becomes more specific, or a service's namespace
        becomes known or changes)."""
        return self._state.topology_version

    def query(self, start_ns: int, end_ns: int) -> GraphFrame:
        """Totals and percentiles per node and edge of the cells whose bucket starts in [start_ns, end_ns)."""
        return self._state.query(start_ns, end_ns)

    def timeline(self, start_ns: int, end_ns: int, *, step_ns: int) -> Timeline:
        """Calls and failures over all edges per step of [start_ns, end_ns) (buckets counted where they start)."""
        return self._state.timeline(start_ns, end_ns, step_ns=step_ns)

    def time_range_ns(self) -> tuple[int, int] | None:
        """[first bucket start, last bucket start + its resolution) over all retained cells; None when empty."""
        return self._state.time_range

    def service_namespaces(self) -> Mapping[str, str]:
        """Each service's namespace as its resource attributes named it (services without one are absent)."""
        return self._state.namespaces

    def memory_bytes(self) -> int:
        """Bytes of the numpy arrays held by the current state (cells and node/edge tables)."""
        return self._state.memory_bytes

    # -- the writer ---------------------------------------------------------------------------

    def add_lag(self, frame: LagFrame) -> None:
        """The consumer groups at one look (kept by time in `consumer_lag`)."""
        self.consumer_lag.add(frame)

    def add_marks(self, marks: list[LagMark]) -> None:
        """Timeline marks that come without a look (a topic's records changed schema)."""
        self.consumer_lag.add_marks(marks)

    def ingest(self, observations: EdgeObservations) -> None:
        """Add a batch of calls (the one writer; concurrent calls are serialised)."""
        with self._write_lock:
            self._ingest(observations)

    def _ingest(self, obs: EdgeObservations) -> None:
        if len(obs) == 0:
            return
        old_tables = self._interner.snapshot()
        batch = self._interner.batch_keys(obs)
        keep = obs.count > 0
        changed = False
        if not keep.all():
            self.problems.add(DROP_BAD_COUNT, count=int(np.count_nonzero(~keep)))
        if keep.any():
            changed = self._add_rows(obs, batch, keep)
        changed = self._roll() or changed
        changed = self._enforce_budget() or changed
        tables = self._interner.snapshot()
        namespaces_changed = self._note_namespaces(obs.service_namespaces)
        topology_changed = tables is not old_tables or namespaces_changed
        if changed or topology_changed:
            self._publish(tables, data_changed=changed, topology_changed=topology_changed)

    def _note_namespaces(self, pairs: tuple[tuple[str, str], ...]) -> bool:
        """Keep the services' namespaces; True when one is new or changed (groups follow them)."""
        known = self._state.namespaces
        changed = {service: namespace for service, namespace in pairs if known.get(service) != namespace}
        if changed:
            self._namespaces = {**known, **changed}
        return bool(changed)

    def _add_rows(self, obs: EdgeObservations, batch: BatchKeys, keep: np.ndarray) -> bool:
        """Aggregate the kept rows into cells of the tiers their times fall in; count rows too old to keep."""
        columns = (obs.time_ns, batch.row_key, bin_of(obs.latency_ns), obs.count, obs.failed)
        if not keep.all():
            columns = tuple(c[keep] for c in columns)
        time_ns = columns[0]
        first_res = self._tiers[0].resolution_ns
        newest_end = _align_down(int(time_ns.max()), first_res) + first_res
        if self._newest_end_ns is None or newest_end > self._newest_end_ns:
            self._newest_end_ns = newest_end
        lowers = self._lower_bounds()
        if int(time_ns.min()) >= lowers[0]:
            return self._add_tier_rows(0, batch, *columns)
        added = False
        unassigned = np.ones(time_ns.shape[0], bool)
        for index, lower in enumerate(lowers):
            rows = unassigned & (time_ns >= lower)
            if rows.any():
                unassigned &= ~rows
                added = self._add_tier_rows(index, batch, *(c[rows] for c in columns)) or added
        if unassigned.any():
            self.problems.add(DROP_TOO_OLD, count=int(columns[3][unassigned].sum()))
        return added

    def _add_tier_rows(
        self,
        index: int,
        batch: BatchKeys,
        time_ns: np.ndarray,
        row_key: np.ndarray,
        bins: np.ndarray,
        count: np.ndarray,
        failed: np.ndarray,
    ) -> bool:
        """Aggregate rows into one tier's cells, resolve their edges (dropping refused ones) and store them."""
        resolution_ns = self._tiers[index].resolution_ns
        bucket_ns = time_ns // resolution_ns * resolution_ns
        cells = aggregate_rows(bucket_ns, row_key, bins, count, failed, resolution_ns)
        local_keys, group_local = np.unique(cells.group_edge, return_inverse=True)
        key_edge, key_refused = self._interner.resolve(batch, local_keys)
        group_edge = key_edge[group_local]
        if key_refused.any():
            group_refused = key_refused[group_local]
            calls = np.bincount(group_refused, weights=cells.group_requests, minlength=len(REFUSED_REASONS) + 1)
            for code, reason in REFUSED_REASONS.items():
                self.problems.add(reason, count=int(calls[code]))
            kept = group_edge >= 0
            cells, group_edge = filter_groups(cells, kept), group_edge[kept]
        if group_edge.size == 0:
            return False
        self._add_cells(index, replace(cells, group_edge=group_edge))
        return True

    def _add_cells(self, index: int, cells: Cells) -> None:
        tier = self._tiers[index]
        for grid_start, part in split_by_grid(cells, tier.grid_ns):
            self._add_chunk(index, grid_start, build_chunk(part, tier.resolution_ns))

    def _add_chunk(self, index: int, grid_start: int, chunk: Chunk) -> None:
        """Append a chunk to its grid cell, merging it with its neighbour while they are of similar size."""
        chunks = self._grids[index].setdefault(grid_start, [])
        chunks.append(chunk)
        self._tier_bytes[index] += chunk.nbytes
        while len(chunks) >= 2 and 2 * chunks[-1].group_count >= chunks[-2].group_count:
            newer, older = chunks.pop(), chunks.pop()
            merged = merge_chunks([older, newer], self._tiers[index].resolution_ns)
            self._tier_bytes[index] += merged.nbytes - older.nbytes - newer.nbytes
            chunks.append(merged)
        if len(chunks) > 1 or wants_summary(chunks[0]):
            self._pending[index].add(grid_start)

    def _remove_grid_cell(self, index: int, grid_start: int) -> list[Chunk]:
        chunks = self._grids[index].pop(grid_start)
        self._pending[index].discard(grid_start)
        self._tier_bytes[index] -= sum(c.nbytes for c in chunks)
        return chunks

    def _lower_bounds(self, *, by_time_only: bool = False) -> list[int]:
        """Per tier, the earliest time it holds; a row goes to the first tier whose bound it reaches.

        `by_time_only` leaves out what the memory budget did: the bounds the configured spans give.
        """
        lowers = []
        upper = self._newest_end_ns if self._newest_end_ns is not None else _NEVER
        for index, tier in enumerate(self._tiers):
            if tier.span_ns is None or upper == _NEVER:
                by_time = _NEVER
            else:
                by_time = _align_down(upper - tier.span_ns, tier.grid_ns)
            upper = by_time
            lowers.append(by_time if by_time_only else max(by_time, self._raised_lower_ns[index]))
        if not by_time_only:
            lowers[-1] = max(lowers[-1], self._floor_ns)
        return lowers

    def _move_down(self, index: int, grid_start: int) -> None:
        """Re-bucket one grid cell of tier `index` into the next tier."""
        chunks = self._remove_grid_cell(index, grid_start)
        following = self._tiers[index + 1]
        chunk = merge_chunks(chunks, self._tiers[index].resolution_ns)
        self._add_cells(index + 1, rebucket(chunk, following.resolution_ns))

    def _roll(self) -> bool:
        """Move grid cells that fell out of their tier's span down a tier (expire them from the last)."""
        changed = False
        lowers = self._lower_bounds()
        last = len(self._tiers) - 1
        for index, tier in enumerate(self._tiers):
            grid = self._grids[index]
            expired = sorted(g for g in grid if g + tier.grid_ns <= lowers[index])
            for grid_start in expired:
                changed = True
                if index == last:
                    self._remove_grid_cell(index, grid_start)
                else:
                    self._move_down(index, grid_start)
        return changed

    def _compact_closed(self) -> None:
        """Merge the chunks of grid cells no new in-order data can reach into one chunk each, with a summary."""
        lowers = self._lower_bounds()
        for index, tier in enumerate(self._tiers):
            if not self._pending[index]:
                continue
            upper = self._newest_end_ns if index == 0 else lowers[index - 1]
            assert upper is not None
            for grid_start in sorted(self._pending[index]):
                if grid_start + tier.grid_ns <= upper:
                    chunks = self._remove_grid_cell(index, grid_start)
                    merged = merge_chunks(chunks, tier.resolution_ns, with_summary=True)
                    self._grids[index][grid_start] = [merged]
                    self._tier_bytes[index] += merged.nbytes

    def _enforce_budget(self) -> bool:
        """Compact closed grid cells; then until under budget: drop data beyond the configured spans, else coarsen
        the oldest grid cell, else drop the oldest buckets."""
        changed = False
        last = len(self._tiers) - 1
        self._compact_closed()
        while sum(self._tier_bytes) > self.memory_budget_bytes:
            changed = True
            coarsenable = [(min(grid), index) for index, grid in enumerate(self._grids[:last]) if grid]
            oldest_last = min(self._grids[last], default=None)
            spans_start_ns = self._lower_bounds(by_time_only=True)[last - 1] if last else _NEVER
            beyond_spans = oldest_last is not None and spans_start_ns > min(
                c.first_bucket_ns for c in self._grids[last][oldest_last]
            )
            if coarsenable and not beyond_spans:
                grid_start, index = min(coarsenable)
                raised = grid_start + self._tiers[index].grid_ns
                self._raised_lower_ns[index] = max(self._raised_lower_ns[index], raised)
                self._move_down(index, grid_start)
                self._roll()
            else:
                assert oldest_last is not None
                excess = sum(self._tier_bytes) - self.memory_budget_bytes
                self._drop_oldest_buckets(oldest_last, excess, before_ns=spans_start_ns if coarsenable else None)
            self._compact_closed()
        return changed

    def _drop_oldest_buckets(self, grid_start: int, excess_bytes: int, *, before_ns: int | None) -> None:
        """Drop the oldest buckets of a grid cell of the last tier, about enough to free `excess_bytes`.

        At least one bucket goes; with `before_ns`, only buckets starting before it.
        """
        last = len(self._tiers) - 1
        tier = self._tiers[last]
        chunk = merge_chunks(self._remove_grid_cell(last, grid_start), tier.resolution_ns)
        share = chunk.bucket_cell_end / max(chunk.cell_count_total, 1)  # cumulative share of the cells
        drop = min(int(np.searchsorted(share * chunk.nbytes, excess_bytes, side="left")) + 1, len(chunk.bucket_ns))
        if before_ns is not None:
            drop = max(1, min(drop, int(np.searchsorted(chunk.bucket_ns, before_ns, side="left"))))
        self.problems.add(DROP_MEMORY_BUDGET, count=int(chunk.bucket_requests[:drop].sum()))
        self._floor_ns = max(self._floor_ns, int(chunk.bucket_ns[drop - 1]) + tier.resolution_ns)
        if drop < len(chunk.bucket_ns):
            rest = chunk.expand().slice_groups(int(chunk.bucket_group_end[drop - 1]), chunk.group_count)
            self._add_chunk(last, grid_start, build_chunk(rest, tier.resolution_ns))

    def _publish(self, tables: TablesSnapshot, *, data_changed: bool, topology_changed: bool) -> None:
        old = self._state
        tiers = []
        first_ns, end_ns = None, None
        for tier, grid in zip(self._tiers, self._grids, strict=True):
            starts = sorted(grid)
            chunks = tuple(c for g in starts for c in sorted(grid[g], key=lambda c: c.first_bucket_ns))
            chunk_grid = np.array([g for g in starts for _ in grid[g]], np.int64)
            tiers.append(TierSnapshot(tier.resolution_ns, tier.grid_ns, chunk_grid, chunks))
            if chunks:
                low = min(c.first_bucket_ns for c in chunks)
                high = max(c.last_bucket_ns for c in chunks) + tier.resolution_ns
                first_ns = low if first_ns is None else min(first_ns, low)
                end_ns = high if end_ns is None else max(end_ns, high)
        self._state = StoreSnapshot(
            tables=tables,
            tiers=tuple(tiers),
            data_version=old.data_version + int(data_changed),
            topology_version=old.topology_version + int(topology_changed),
            cells_bytes=sum(self._tier_bytes),
            time_range=None if first_ns is None else (first_ns, end_ns),  # type: ignore[arg-type]
            namespaces=self._namespaces,
        )
