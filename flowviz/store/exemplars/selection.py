"""Which closed traces the exemplar store keeps: rank them with the kept ones per (key, bucket), keep the winners."""

from __future__ import annotations

import numpy as np

from flowviz.derive.critical_path import credit_peers, critical_path, exclusive_ns
from flowviz.derive.critical_path import parent_rows as trace_parent_rows
from flowviz.store.exemplars.columns import (
    BAND,
    BAND_BINS,
    FAILING,
    KEY_SHIFT,
    POOL_COLUMNS,
    RECENT,
    SECOND_NS,
    SLOWEST,
    TOO_OLD,
)
from flowviz.store.exemplars.keys import KeyTables
from flowviz.store.latency_bins import bin_of


class Selection(KeyTables):
    """Ranks candidate rows per (service or edge, time bucket), frees the traces no row keeps, copies in the winners."""

    def _level_bucket(self, time_ns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Bucket level and bucket start (s) of each time under the current coarsening boundaries."""
        level = np.zeros(time_ns.shape[0], np.int8)
        for boundary in self._coarse_before_ns:
            level += time_ns < boundary
        width_s = np.array(self.bucket_widths_ns, np.int64)[level] // SECOND_NS
        return level, time_ns // SECOND_NS // width_s * width_s

    def _select(self, spans: dict[str, np.ndarray], first: np.ndarray, trace_of: np.ndarray, new: dict) -> None:
        """Rank the closed traces' rows with the kept rows of the same (key, bucket); keep the winners' spans."""
        keep = new["time_ns"] >= self._floor_ns
        if not keep.all():
            self._count(TOO_OLD, int(np.unique(new["trace"][~keep]).size))
            new = {name: column[keep] for name, column in new.items()}
        level, bucket_s = self._level_bucket(new["time_ns"])
        group = new["key"].astype(np.int64) << KEY_SHIFT | bucket_s
        kept_rows = self._rows
        old_group = kept_rows["key"].astype(np.int64) << KEY_SHIFT | kept_rows["bucket_s"]
        old = np.flatnonzero(np.isin(old_group, group))
        trace_count = first.size
        # candidates: kept rows (trace ids from the trace table) then new rows (trace index -1 - i)
        tie_hi = np.concatenate(
            [self._traces["trace_hi"][kept_rows["trace"][old]], spans["trace_hi"][first][new["trace"]]]
        )
        tie_lo = np.concatenate(
            [self._traces["trace_lo"][kept_rows["trace"][old]], spans["trace_lo"][first][new["trace"]]]
        )
        flags = rank(
            np.concatenate([old_group[old], group]),
            np.concatenate([kept_rows["latency_ns"][old], new["latency_ns"]]),
            np.concatenate([kept_rows["time_ns"][old], new["time_ns"]]),
            np.concatenate([kept_rows["error"][old], new["error"]]),
            self._key_is_service[np.concatenate([kept_rows["key"][old], new["key"]])],
            tie_hi,
            tie_lo,
            self.per_kind,
        )
        kept_rows["flags"][old] = flags[: old.size]
        new_flags = flags[old.size :]
        winners = np.zeros(trace_count, bool)
        winners[new["trace"][new_flags != 0]] = True
        self._release_losers(np.unique(kept_rows["trace"][old]))
        if winners.any():
            self._keep_traces(spans, first, trace_of, winners, new, new_flags, level, bucket_s)

    def _release_losers(self, slots: np.ndarray) -> None:
        """Free the traces among `slots` that no row keeps any more."""
        if not slots.size:
            return
        rows = self._rows
        held = np.zeros(len(self._traces), bool)
        held[rows["trace"][rows["flags"] != 0]] = True
        losers = slots[~held[slots]]
        if not losers.size:
            return
        traces = self._traces
        traces["alive"][losers] = False
        self._pool_dead += int(traces["pool_len"][losers].sum())
        for hi, lo in zip(traces["trace_hi"][losers].tolist(), traces["trace_lo"][losers].tolist(), strict=True):
            del self._slot_of[(hi, lo)]
        rows.keep(~np.isin(rows["trace"], losers))

    def _keep_traces(self, spans, first, trace_of, winners, new, new_flags, level, bucket_s) -> None:
        """Copy the spans of the winning closed traces into the pool, add their rows and critical-path times."""
        size = len(spans["span_id"])
        rank_in_trace = np.arange(size) - first[trace_of]
        take = winners[trace_of] & (rank_in_trace < self.max_spans_per_trace)
        sizes = np.bincount(trace_of[take], minlength=first.size)
        won = np.flatnonzero(winners)
        slot_of_trace = np.full(first.size, -1, np.int64)
        slot_of_trace[won] = len(self._traces) + np.arange(won.size)
        pool_start = len(self._pool) + np.cumsum(sizes) - sizes
        self._pool.append(**{name: spans[name][take] for name in POOL_COLUMNS})
        ends = np.maximum.reduceat(spans["end_ns"], first)
        starts = np.minimum.reduceat(spans["start_ns"], first)
        path = np.zeros(won.size, np.int64)
        times: dict[tuple[int, int], tuple[int, int, int, int]] = {}  # (trace, service) -> critical, self, busy, op
        for position, trace in enumerate(won.tolist()):
            part = slice(int(pool_start[trace]), int(pool_start[trace] + sizes[trace]))
            columns = {name: self._pool[name][part] for name in POOL_COLUMNS}
            path[position] = _trace_times(columns, trace, times)
        hi, lo = spans["trace_hi"][first[won]], spans["trace_lo"][first[won]]
        self._traces.append(
            trace_hi=hi,
            trace_lo=lo,
            pool_start=pool_start[won],
            pool_len=sizes[won],
            start_ns=starts[won],
            end_ns=ends[won],
            path_ns=path,
            alive=np.ones(won.size, bool),
            truncated=sizes[won] < np.diff(np.append(first, size))[won],
        )
        for index, key in enumerate(zip(hi.tolist(), lo.tolist(), strict=True)):
            self._slot_of[key] = int(slot_of_trace[won[index]])
        rows = np.flatnonzero(winners[new["trace"]])
        key_service = [self._keys[k][0] if self._keys[k][1] < 0 else -1 for k in new["key"][rows].tolist()]
        figures = np.array(
            [times.get((t, s), (0, 0, 0, 0)) for t, s in zip(new["trace"][rows].tolist(), key_service, strict=True)],
            np.int64,
        ).reshape(-1, 4)
        self._rows.append(
            trace=slot_of_trace[new["trace"][rows]],
            key=new["key"][rows],
            level=level[rows],
            bucket_s=bucket_s[rows],
            time_ns=new["time_ns"][rows],
            latency_ns=new["latency_ns"][rows],
            critical_ns=figures[:, 0],
            self_ns=figures[:, 1],
            busy_ns=figures[:, 2],
            operation=figures[:, 3].astype(np.int32),
            error=new["error"][rows],
            flags=new_flags[rows],
        )


def _trace_times(
    columns: dict[str, np.ndarray], trace: int, out: dict[tuple[int, int], tuple[int, int, int, int]]
) -> int:
    """Per node of one kept trace: critical-path ns, own (self) ns, busy ns (its entry spans) and its main operation
    — time waiting on an uninstrumented peer credited to the peer. Returns the critical path's length."""
    parents = trace_parent_rows(columns["span_id"], columns["parent_id"])
    service, kind = columns["service"], columns["kind"]
    credited = credit_peers(parents, service, kind, columns["peer"], unknown=3)
    result = critical_path(
        columns["span_id"], columns["parent_id"], columns["start_ns"], columns["end_ns"], credited, kind
    )
    own = exclusive_ns(np.where(parents >= 0, parents, -1), columns["start_ns"], columns["end_ns"])
    own[parents == -2] = 0  # a repeated span id counts once
    duration = columns["end_ns"] - columns["start_ns"]
    entry = (parents < 0) | (service[np.maximum(parents, 0)] != service)
    entry &= parents != -2
    entry |= credited != service  # a peer's calls are its entries
    nodes, inverse = np.unique(credited, return_inverse=True)
    self_ns = np.bincount(inverse, weights=own, minlength=nodes.size)
    busy_ns = np.bincount(inverse, weights=np.where(entry, duration, 0), minlength=nodes.size)
    longest = np.lexsort((-np.where(entry, duration, -1), inverse))  # per node, its longest entry span first
    first_of = np.flatnonzero(np.concatenate(([True], inverse[longest][1:] != inverse[longest][:-1])))
    operation = columns["name"][longest[first_of]]
    for index, node in enumerate(nodes.tolist()):
        out[(trace, node)] = (
            int(result.service_ns.get(node, 0)),
            int(self_ns[index]),
            int(busy_ns[index]),
            int(operation[index]),
        )
    return result.duration_ns


def rank(group, latency, time, error, is_service, tie_hi, tie_lo, per_kind: int) -> np.ndarray:
    """Flags of the candidate rows each (key, bucket) group keeps: N slowest, N latest failing, N latest, band heads."""
    flags = np.zeros(group.shape[0], np.uint8)
    if not group.size:
        return flags

    def mark(mask: np.ndarray, score: np.ndarray, groups: np.ndarray, keep: int, bit: int) -> None:
        rows = np.flatnonzero(mask)
        order = rows[np.lexsort((tie_lo[rows], tie_hi[rows], -score[rows], groups[rows]))]
        sorted_groups = groups[order]
        start = np.concatenate(([True], sorted_groups[1:] != sorted_groups[:-1]))
        index = np.arange(order.size)
        rank = index - np.maximum.accumulate(np.where(start, index, 0))
        flags[order[rank < keep]] |= bit

    everything = np.ones(group.shape[0], bool)
    mark(everything, latency, group, per_kind, SLOWEST)
    mark(error.astype(bool), time, group, per_kind, FAILING)
    mark(everything, time, group, per_kind, RECENT)
    band = bin_of(latency).astype(np.int64) // BAND_BINS
    mark(is_service.astype(bool), time, group * 64 + band, 1, BAND)
    return flags
