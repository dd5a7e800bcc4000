"""Sparse cells (bucket, edge, latency bin) → calls: aggregation, re-bucketing, and the immutable chunks of them."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields, replace

import numpy as np

from flowviz.store.latency_bins import BIN_COUNT

SUMMARY_MIN_BUCKETS = 8
"""Chunks of at least this many buckets carry a summary (all their buckets as one) for window queries."""
_MAX_KEY = 1 << 62
_BIN_BITS = 8  # aggregation keys hold the latency bin in their low 8 bits
_BIN_MASK = (1 << _BIN_BITS) - 1
assert BIN_COUNT <= 1 << _BIN_BITS
_DENSE_KEY_SPACE = 1 << 22
BLOCK_CELLS = 1 << 19
"""Cells per block when streaming over a chunk's cells."""


@dataclass(frozen=True, slots=True, eq=False)
class Cells:
    """Flat int64 cells: groups (bucket, edge) with calls and failures, each owning a run of (latency bin, calls) cells.

    Groups are ordered by bucket and a group's cells are contiguous. "Aggregated" cells also
    have unique (bucket, edge) groups and unique, sorted bins per group.
    A group's requests always equal the sum of its cells' counts.
    """

    group_bucket_ns: np.ndarray
    group_edge: np.ndarray
    group_requests: np.ndarray
    group_failures: np.ndarray
    group_cells: np.ndarray
    cell_bin: np.ndarray
    cell_count: np.ndarray

    @property
    def group_count(self) -> int:
        return int(self.group_edge.shape[0])

    @staticmethod
    def empty() -> Cells:
        z = np.zeros(0, np.int64)
        return Cells(z, z, z, z, z, z, z)

    @staticmethod
    def concat(parts: Sequence[Cells]) -> Cells:
        if len(parts) == 1:
            return parts[0]
        return Cells(*(np.concatenate([getattr(p, f) for p in parts]).astype(np.int64) for f in _CELL_FIELDS))

    def slice_groups(self, first: int, last: int) -> Cells:
        """Groups [first, last) and their cells."""
        cell_end = np.cumsum(self.group_cells)
        c0 = int(cell_end[first - 1]) if first > 0 else 0
        c1 = int(cell_end[last - 1]) if last > 0 else 0
        return Cells(
            self.group_bucket_ns[first:last],
            self.group_edge[first:last],
            self.group_requests[first:last],
            self.group_failures[first:last],
            self.group_cells[first:last],
            self.cell_bin[c0:c1],
            self.cell_count[c0:c1],
        )

    def with_buckets(self, resolution_ns: int, bucket_ns: int | None = None) -> Cells:
        """The same cells moved to buckets of `resolution_ns` (or all to `bucket_ns`); not re-aggregated."""
        if bucket_ns is not None:
            buckets = np.full(self.group_count, bucket_ns, np.int64)
        else:
            buckets = self.group_bucket_ns // resolution_ns * resolution_ns
        return Cells(
            buckets,
            self.group_edge,
            self.group_requests,
            self.group_failures,
            self.group_cells,
            self.cell_bin,
            self.cell_count,
        )


_CELL_FIELDS = tuple(f.name for f in fields(Cells))


def _run_starts(sorted_keys: np.ndarray) -> np.ndarray:
    """Indices where a new value starts in a sorted array."""
    change = np.empty(sorted_keys.shape[0], bool)
    change[:1] = True
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=change[1:])
    return np.flatnonzero(change)


def _bucket_ranks(bucket_ns: np.ndarray, resolution_ns: int, edge_span: int) -> tuple[np.ndarray, np.ndarray]:
    """(rank of each bucket, bucket start of each rank) with cell keys (rank · edge_span · 256) below 2**62.

    Ranks are bucket offsets from the first when the range is dense enough (no sort needed), else the
    order of the distinct buckets: a few calls spread over centuries never cost a bucket per second."""
    first = int(bucket_ns.min())
    last = int(bucket_ns.max())
    span = (last - first) // resolution_ns + 1
    if span <= max(4 * bucket_ns.size, 1 << 16) and (span * edge_span) << _BIN_BITS < _MAX_KEY:
        rank = (bucket_ns - first) // resolution_ns
        return rank, first + np.arange(span, dtype=np.int64) * resolution_ns
    starts, rank = np.unique(bucket_ns, return_inverse=True)
    return rank.astype(np.int64), starts


def _groups_from_cells(
    cell_key: np.ndarray,
    cell_count: np.ndarray,
    edge_span: int,
    bucket_of_rank: np.ndarray,
    failure_group_key: np.ndarray,
    failure_calls: np.ndarray,
) -> Cells:
    """Aggregated cells from unique sorted cell keys ((bucket rank · edge_span + edge) << 8 | bin)."""
    group_key_of_cell = cell_key >> _BIN_BITS
    group_starts = _run_starts(group_key_of_cell)
    group_key = group_key_of_cell[group_starts]
    group_cells = np.diff(np.append(group_starts, cell_key.shape[0]))
    group_requests = np.add.reduceat(cell_count, group_starts) if group_starts.size else group_starts
    group_failures = np.zeros(group_key.shape[0], np.int64)
    if failure_group_key.size:
        order = np.argsort(failure_group_key, kind="stable")
        keys = failure_group_key[order]
        starts = _run_starts(keys)
        sums = np.add.reduceat(failure_calls[order], starts)
        group_failures[np.searchsorted(group_key, keys[starts])] = sums
    return Cells(
        group_bucket_ns=bucket_of_rank[group_key // edge_span],
        group_edge=group_key % edge_span,
        group_requests=group_requests.astype(np.int64, copy=False),
        group_failures=group_failures,
        group_cells=group_cells.astype(np.int64, copy=False),
        cell_bin=cell_key & _BIN_MASK,
        cell_count=cell_count.astype(np.int64, copy=False),
    )


def aggregate_rows(
    bucket_ns: np.ndarray,
    edge: np.ndarray,
    bin_index: np.ndarray,
    count: np.ndarray,
    failed: np.ndarray,
    resolution_ns: int,
) -> Cells:
    """Aggregate call rows (bucket start, edge id, latency bin, calls, failed) into cells."""
    if bucket_ns.size == 0:
        return Cells.empty()
    edge_span = int(edge.max()) + 1
    rank, bucket_of_rank = _bucket_ranks(bucket_ns, resolution_ns, edge_span)
    group_key = rank * edge_span + edge
    cell_key = group_key << _BIN_BITS
    cell_key |= bin_index
    if int(count.min()) == 1 and int(count.max()) == 1:
        sorted_keys = np.sort(cell_key)
        starts = _run_starts(sorted_keys)
        unique_keys = sorted_keys[starts]
        calls = np.diff(np.append(starts, sorted_keys.shape[0]))
    else:
        order = np.argsort(cell_key)
        sorted_keys = cell_key[order]
        starts = _run_starts(sorted_keys)
        unique_keys = sorted_keys[starts]
        calls = np.add.reduceat(count[order], starts)
    failing = np.flatnonzero(failed)
    return _groups_from_cells(
        unique_keys, calls, edge_span, bucket_of_rank, group_key[failing], count[failing].astype(np.int64)
    )


def _sum_by_key(keys: np.ndarray, calls: np.ndarray, key_space: int) -> tuple[np.ndarray, np.ndarray]:
    """(unique sorted keys, summed calls): a dense bincount when the key space is small, else a sort."""
    if key_space <= max(_DENSE_KEY_SPACE, 2 * keys.shape[0]):
        sums = np.bincount(keys, weights=calls, minlength=key_space)
        unique = np.flatnonzero(sums)
        return unique, sums[unique].astype(np.int64)
    order = np.argsort(keys)
    sorted_keys = keys[order]
    starts = _run_starts(sorted_keys)
    return sorted_keys[starts], np.add.reduceat(calls[order], starts)


def aggregate(cells: Cells, resolution_ns: int) -> Cells:
    """Merge duplicate groups and bins (after a concatenation or a re-bucketing)."""
    if cells.group_count == 0:
        return Cells.empty()
    edge_span = int(cells.group_edge.max()) + 1
    rank, bucket_of_rank = _bucket_ranks(cells.group_bucket_ns, resolution_ns, edge_span)
    group_key = rank * edge_span + cells.group_edge
    cell_key = np.repeat(group_key << _BIN_BITS, cells.group_cells)
    cell_key |= cells.cell_bin
    keys, calls = _sum_by_key(cell_key, cells.cell_count, (bucket_of_rank.shape[0] * edge_span) << _BIN_BITS)
    failing = np.flatnonzero(cells.group_failures)
    return _groups_from_cells(keys, calls, edge_span, bucket_of_rank, group_key[failing], cells.group_failures[failing])


def filter_groups(cells: Cells, keep: np.ndarray) -> Cells:
    """The groups where `keep` is true, with their cells."""
    cell_keep = np.repeat(keep, cells.group_cells)
    return Cells(
        cells.group_bucket_ns[keep],
        cells.group_edge[keep],
        cells.group_requests[keep],
        cells.group_failures[keep],
        cells.group_cells[keep],
        cells.cell_bin[cell_keep],
        cells.cell_count[cell_keep],
    )


def split_by_grid(cells: Cells, grid_ns: int) -> list[tuple[int, Cells]]:
    """(grid cell start, its cells) for each grid cell the (bucket-ordered) cells touch."""
    if cells.group_count == 0:
        return []
    grid = cells.group_bucket_ns // grid_ns
    if grid[0] == grid[-1]:
        return [(int(grid[0]) * grid_ns, cells)]
    starts = _run_starts(grid)
    ends = np.append(starts[1:], grid.shape[0])
    return [(int(grid[s]) * grid_ns, cells.slice_groups(int(s), int(e))) for s, e in zip(starts, ends, strict=True)]


def _smallest_uint(values: np.ndarray) -> np.ndarray:
    top = int(values.max()) if values.size else 0
    if top < 0:
        raise ValueError("negative count in cells")
    for dtype in (np.uint8, np.uint16, np.uint32, np.uint64):
        if top <= np.iinfo(dtype).max:
            return values.astype(dtype)
    raise AssertionError("unreachable")


def _frozen(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


@dataclass(frozen=True, slots=True, eq=False)
class Piece:
    """Groups and cells of a chunk's bucket range, for a query; arrays may be narrow unsigned views."""

    group_edge: np.ndarray
    group_requests: np.ndarray
    group_failures: np.ndarray
    group_cells: np.ndarray
    cell_bin: np.ndarray
    cell_count: np.ndarray
    resolution_ns: int


@dataclass(frozen=True, slots=True, eq=False)
class Chunk:
    """Aggregated cells of one tier's grid cell in compact form, indexed by bucket; never modified.

    Per bucket (sorted): start, end offsets into the groups and cells, and total calls and
    failures (for timelines). Per group (bucket, edge): edge id, calls, failures and cell count,
    each in the smallest unsigned dtype that holds the chunk's values. Per cell: latency bin
    (uint8) and calls.
    """

    resolution_ns: int
    bucket_ns: np.ndarray
    bucket_group_end: np.ndarray
    bucket_cell_end: np.ndarray
    bucket_requests: np.ndarray
    bucket_failures: np.ndarray
    group_edge: np.ndarray
    group_requests: np.ndarray
    group_failures: np.ndarray
    group_cells: np.ndarray
    cell_bin: np.ndarray
    cell_count: np.ndarray
    summary: Chunk | None
    nbytes: int
    summarized: bool = False  # a summary was considered (it is None when it would not pay off)

    @property
    def first_bucket_ns(self) -> int:
        return int(self.bucket_ns[0])

    @property
    def last_bucket_ns(self) -> int:
        return int(self.bucket_ns[-1])

    @property
    def group_count(self) -> int:
        return int(self.group_edge.shape[0])

    @property
    def cell_count_total(self) -> int:
        return int(self.cell_bin.shape[0])

    @property
    def total_requests(self) -> int:
        return int(self.bucket_requests.sum())

    def bucket_range(self, start_ns: int, end_ns: int) -> tuple[int, int]:
        """Indices [k0, k1) of the buckets whose start lies in [start_ns, end_ns)."""
        return (
            int(np.searchsorted(self.bucket_ns, start_ns, side="left")),
            int(np.searchsorted(self.bucket_ns, end_ns, side="left")),
        )

    def piece(self, first: int, last: int) -> Piece:
        """Groups and cells of buckets [first, last); the summary if that is all buckets and there is one."""
        if first == 0 and last == self.bucket_ns.shape[0] and self.summary is not None:
            return replace(self.summary.piece(0, 1), resolution_ns=self.resolution_ns)
        g0 = int(self.bucket_group_end[first - 1]) if first else 0
        g1 = int(self.bucket_group_end[last - 1]) if last else 0
        c0 = int(self.bucket_cell_end[first - 1]) if first else 0
        c1 = int(self.bucket_cell_end[last - 1]) if last else 0
        return Piece(
            self.group_edge[g0:g1],
            self.group_requests[g0:g1],
            self.group_failures[g0:g1],
            self.group_cells[g0:g1],
            self.cell_bin[c0:c1],
            self.cell_count[c0:c1],
            self.resolution_ns,
        )

    def expand(self, first: int = 0, last: int | None = None) -> Cells:
        """The cells of buckets [first, last) (default: all) in flat int64 form."""
        last = self.bucket_ns.shape[0] if last is None else last
        g0 = int(self.bucket_group_end[first - 1]) if first else 0
        g1 = int(self.bucket_group_end[last - 1]) if last else 0
        c0 = int(self.bucket_cell_end[first - 1]) if first else 0
        c1 = int(self.bucket_cell_end[last - 1]) if last else 0
        groups_per_bucket = np.diff(self.bucket_group_end[first:last], prepend=g0)
        return Cells(
            group_bucket_ns=np.repeat(self.bucket_ns[first:last], groups_per_bucket),
            group_edge=self.group_edge[g0:g1].astype(np.int64),
            group_requests=self.group_requests[g0:g1].astype(np.int64),
            group_failures=self.group_failures[g0:g1].astype(np.int64),
            group_cells=self.group_cells[g0:g1].astype(np.int64),
            cell_bin=self.cell_bin[c0:c1].astype(np.int64),
            cell_count=self.cell_count[c0:c1].astype(np.int64),
        )


def rebucket(chunk: Chunk, resolution_ns: int) -> Cells:
    """The chunk's cells aggregated into buckets of `resolution_ns`, one target bucket at a time (small temporaries)."""
    target = chunk.bucket_ns // resolution_ns
    starts = _run_starts(target).tolist()
    parts = []
    first = 0
    for index, end in enumerate([*starts[1:], target.shape[0]]):
        cells_so_far = int(chunk.bucket_cell_end[end - 1]) - (int(chunk.bucket_cell_end[first - 1]) if first else 0)
        if cells_so_far < BLOCK_CELLS and index + 1 < len(starts):
            continue  # grow the block over more target buckets
        flat = chunk.expand(first, end).with_buckets(resolution_ns)
        parts.append(aggregate(flat, resolution_ns))
        first = end
    return Cells.concat(parts)


def compact(cells: Cells, resolution_ns: int, *, summary: Chunk | None = None) -> Chunk:
    """A chunk from aggregated cells (non-empty)."""
    bucket_starts = _run_starts(cells.group_bucket_ns)
    bucket_group_end = np.append(bucket_starts[1:], cells.group_count).astype(np.int64)
    cell_end = np.cumsum(cells.group_cells)
    bucket_cell_end = cell_end[bucket_group_end - 1].astype(np.int64)
    arrays = {
        "bucket_ns": cells.group_bucket_ns[bucket_starts].astype(np.int64),
        "bucket_group_end": bucket_group_end,
        "bucket_cell_end": bucket_cell_end,
        "bucket_requests": np.add.reduceat(cells.group_requests, bucket_starts).astype(np.int64),
        "bucket_failures": np.add.reduceat(cells.group_failures, bucket_starts).astype(np.int64),
        "group_edge": _smallest_uint(cells.group_edge),
        "group_requests": _smallest_uint(cells.group_requests),
        "group_failures": _smallest_uint(cells.group_failures),
        "group_cells": _smallest_uint(cells.group_cells),
        "cell_bin": cells.cell_bin.astype(np.uint8),
        "cell_count": _smallest_uint(cells.cell_count),
    }
    nbytes = sum(a.nbytes for a in arrays.values()) + (summary.nbytes if summary is not None else 0)
    return Chunk(
        resolution_ns=resolution_ns, summary=summary, nbytes=nbytes, **{k: _frozen(v) for k, v in arrays.items()}
    )


def edge_bin_blocks(
    group_edge: np.ndarray,
    group_cells: np.ndarray,
    cell_bin: np.ndarray,
    cell_count: np.ndarray,
    block_cells: int = BLOCK_CELLS,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(edge · BIN_COUNT + bin, calls) of the cells, in blocks of about `block_cells` cells.

    Blocks keep temporaries small: large fresh arrays cost more in page faults than in arithmetic.
    """
    if group_edge.shape[0] == 0:
        return
    cell_end = np.cumsum(group_cells, dtype=np.int64)
    total = int(cell_end[-1])
    cuts = [0, *np.searchsorted(cell_end, np.arange(block_cells, total, block_cells), side="right").tolist()]
    cuts.append(group_edge.shape[0])
    for g0, g1 in itertools.pairwise(cuts):
        if g1 <= g0:
            continue
        c0 = int(cell_end[g0 - 1]) if g0 else 0
        c1 = int(cell_end[g1 - 1])
        keys = np.repeat(group_edge[g0:g1].astype(np.int64) * BIN_COUNT, group_cells[g0:g1])
        keys += cell_bin[c0:c1]
        yield keys, cell_count[c0:c1]


class EdgeBinSums:
    """Sums calls per (edge, bin) over many blocks: a dense float64 table when edges × bins is small, else sorting.

    In sparse mode blocks are buffered and reduced together, so many small blocks cost no more than a few big ones.
    """

    def __init__(self, edge_span: int, dense_limit: int | None = None) -> None:
        self.space = edge_span * BIN_COUNT
        limit = _DENSE_KEY_SPACE if dense_limit is None else dense_limit
        self._dense = np.zeros(self.space, np.float64) if self.space <= limit else None
        self._keys: list[np.ndarray] = []
        self._calls: list[np.ndarray] = []
        self._pending = 0

    @property
    def is_dense(self) -> bool:
        return self._dense is not None

    def add(self, keys: np.ndarray, calls: np.ndarray) -> None:
        if self._dense is not None:  # add.at beats bincount here: keys come in sorted runs
            np.add.at(self._dense, keys, calls.astype(np.float64))
            return
        self._keys.append(keys)
        self._calls.append(calls)
        self._pending += keys.shape[0]
        if self._pending >= 2 * BLOCK_CELLS:
            self._flush()

    def _flush(self) -> None:
        if not self._keys:
            return
        keys = np.concatenate(self._keys) if len(self._keys) > 1 else self._keys[0]
        calls = np.concatenate(self._calls) if len(self._calls) > 1 else self._calls[0]
        self._keys, self._calls, self._pending = [], [], 0
        order = np.argsort(keys)
        keys = keys[order]
        starts = _run_starts(keys)
        self._keys = [keys[starts]]
        self._calls = [np.add.reduceat(calls[order].astype(np.int64), starts) if starts.size else keys]
        self._pending = self._keys[0].shape[0]

    def dense(self) -> np.ndarray:
        """The edges × bins table (float64, exact integers), when dense."""
        assert self._dense is not None
        return self._dense

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """(unique sorted keys, calls as int64)."""
        if self._dense is not None:
            dense = self.dense()
            keys = np.flatnonzero(dense)
            return keys, dense[keys].astype(np.int64)
        self._flush()
        if not self._keys:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return self._keys[0], self._calls[0]


def summarize(parts: Sequence[Chunk], resolution_ns: int) -> Chunk | None:
    """All buckets of `parts` as one bucket (at the first bucket's start), or None when that would not pay off."""
    buckets = sum(p.bucket_ns.shape[0] for p in parts)
    if buckets < SUMMARY_MIN_BUCKETS:
        return None
    sources = [p.summary or p for p in parts]
    edge_span = max(int(s.group_edge.max()) for s in sources) + 1
    sums = EdgeBinSums(edge_span)
    for source in sources:
        for keys, calls in edge_bin_blocks(source.group_edge, source.group_cells, source.cell_bin, source.cell_count):
            sums.add(keys, calls)
    unique_keys, calls = sums.result()
    if unique_keys.shape[0] * 2 > sum(p.cell_count_total for p in parts):
        return None
    failing = [np.flatnonzero(s.group_failures) for s in sources]
    merged = _groups_from_cells(
        (unique_keys // BIN_COUNT) << _BIN_BITS | unique_keys % BIN_COUNT,
        calls,
        edge_span,
        np.array([min(p.first_bucket_ns for p in parts)], np.int64),
        np.concatenate([s.group_edge[f].astype(np.int64) for s, f in zip(sources, failing, strict=True)]),
        np.concatenate([s.group_failures[f].astype(np.int64) for s, f in zip(sources, failing, strict=True)]),
    )
    return compact(merged, resolution_ns)


def build_chunk(cells: Cells, resolution_ns: int, *, with_summary: bool = False) -> Chunk:
    """A chunk (with its summary if asked and worthwhile) from aggregated cells of one grid cell."""
    chunk = compact(cells, resolution_ns)
    if not with_summary:
        return chunk
    summary = summarize([chunk], resolution_ns)
    return replace(chunk, summary=summary, nbytes=chunk.nbytes + (summary.nbytes if summary else 0), summarized=True)


def wants_summary(chunk: Chunk) -> bool:
    """Whether a summary could pay off for this chunk but it has none."""
    return not chunk.summarized and chunk.bucket_ns.shape[0] >= SUMMARY_MIN_BUCKETS


def merge_chunks(parts: Sequence[Chunk], resolution_ns: int, *, with_summary: bool = False) -> Chunk:
    """One chunk holding the cells of `parts` (same tier and grid cell), with a summary if asked and worthwhile."""
    if len(parts) == 1 and (not with_summary or not wants_summary(parts[0])):
        return parts[0]
    ordered = sorted(parts, key=lambda p: p.first_bucket_ns)
    summary = summarize(ordered, resolution_ns) if with_summary else None
    if len(ordered) == 1:
        nbytes = ordered[0].nbytes + (summary.nbytes if summary else 0)
        return replace(ordered[0], summary=summary, nbytes=nbytes, summarized=True)
    disjoint = all(a.last_bucket_ns < b.first_bucket_ns for a, b in itertools.pairwise(ordered))
    if not disjoint:
        merged = aggregate(Cells.concat([p.expand() for p in ordered]), resolution_ns)
        return replace(compact(merged, resolution_ns, summary=summary), summarized=with_summary)
    group_offset = np.cumsum([0] + [p.group_count for p in ordered[:-1]])
    cell_offset = np.cumsum([0] + [p.cell_count_total for p in ordered[:-1]])

    def cat(name: str) -> np.ndarray:
        return _frozen(np.concatenate([getattr(p, name) for p in ordered]))

    arrays = {
        "bucket_ns": cat("bucket_ns"),
        "bucket_group_end": _frozen(
            np.concatenate([p.bucket_group_end + o for p, o in zip(ordered, group_offset, strict=True)])
        ),
        "bucket_cell_end": _frozen(
            np.concatenate([p.bucket_cell_end + o for p, o in zip(ordered, cell_offset, strict=True)])
        ),
        **{
            name: cat(name)
            for name in (
                "bucket_requests",
                "bucket_failures",
                "group_edge",
                "group_requests",
                "group_failures",
                "group_cells",
                "cell_bin",
                "cell_count",
            )
        },
    }
    nbytes = sum(a.nbytes for a in arrays.values()) + (summary.nbytes if summary is not None else 0)
    return Chunk(resolution_ns=resolution_ns, summary=summary, nbytes=nbytes, summarized=with_summary, **arrays)
